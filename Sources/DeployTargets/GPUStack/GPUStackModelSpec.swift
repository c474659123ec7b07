public import DeployCore
import DeployKit
public import DeploySpec
import DeployTemplate
public import Engines
import Foundation

/// A dsdeploy backend version as a GPUStack custom version of a built-in backend.
public struct GPUStackVersionSpec: Sendable, Equatable, Codable {
    /// GPUStack backend (`SGLang`, `vLLM`).
    public var backend: String
    /// Version name, always ending in `-custom`.
    public var name: String
    /// `image_name`.
    public var imageName: String
    /// `entrypoint`: the manifest entrypoint joined with spaces (GPUStack splits it with shlex).
    public var entrypoint: String
    /// `run_command`: the manifest's command template (same `{{name}}` syntax).
    public var runCommand: String
    /// `custom_framework` (the worker GPU type that can run it; `cuda` when the manifest names none).
    public var framework: String
}

/// What one deployment should be on a GPUStack server.
public struct GPUStackModelSpec: Sendable {
    /// Deployment name; also the GPUStack model name (and so the name clients use).
    public var name: String
    /// `source`: `huggingface`, `model_scope` or `local_path`.
    public var source: String
    /// The source's id field (`huggingface_repo_id`, `model_scope_model_id`, `local_path`).
    public var sourceField: String
    /// Its value.
    public var sourceValue: String
    /// The backend version it runs.
    public var version: GPUStackVersionSpec
    /// Engine family.
    public var engine: EngineKind
    /// `backend_parameters`: canonical flag strings (`--tp-size 8`), backend defaults then deployment args.
    public var backendParameters: [String]
    /// Canonical flags of `backendParameters`.
    public var flagSet: FlagSet
    /// The flag catalog they were checked against (used again to read the live model).
    public var catalog: FlagCatalog
    /// Canonical names of flags the run command sets.
    public var runCommandFlags: [String]
    /// `env`, resolved (secrets included: GPUStack must have them); nil when not resolved (plan without secrets).
    public var env: [String: Secret]
    /// Env names whose values are secret (never printed).
    public var secretEnv: Set<String>
    /// `replicas`.
    public var replicas: Int
    /// `worker_selector`.
    public var workerSelector: [String: String]
    /// How long apply waits for the instances (seconds).
    public var timeoutSeconds: Int
    /// Warnings about how GPUStack will run this (args it injects, duplicates).
    public var warnings: [String]

    /// Fingerprint (`Revision.fingerprint`) of everything GPUStack is sent that needs a restart when it
    /// changes (secret values only by name). Written into the model's `meta` once its instances ran on
    /// it, so an apply interrupted between the update and the restart is finished by the next one.
    public var revision: String {
        var parts = ["source=\(source):\(sourceValue)", "backend=\(version.backend)/\(version.name)",
                     "image=\(version.imageName)", "entrypoint=\(version.entrypoint)", "command=\(version.runCommand)",
                     "framework=\(version.framework)", "selector=\(workerSelector.sorted { $0.key < $1.key })"]
        for k in flagSet.names { parts.append("flag:\(k)=\(flagSet[k]?.description ?? "")") }
        for k in env.keys.sorted() { parts.append("env:\(k)=" + (secretEnv.contains(k) ? "<secret>" : env[k]?.reveal() ?? "")) }
        return Revision.fingerprint(parts)
    }
}

/// Maps validated deployments to GPUStack objects.
public enum GPUStackMapping {
    /// Built-in GPUStack backend of an engine.
    public static func builtinBackend(_ engine: EngineKind) -> String? {
        switch engine {
        case .sglang: return "SGLang"
        case .vllm: return "vLLM"
        default: return nil
        }
    }

    /// GPUStack version name of a dsdeploy backend version: `<version>-custom` (GPUStack requires the suffix on
    /// custom versions of built-in backends); a version already named `*-custom` is kept.
    public static func versionName(engineVersion: String, version: String) -> String {
        version.hasSuffix("-custom") ? version : version + "-custom"
    }

    /// GPUStack gates some SGLang flags on the version *name* (REPORT §7.3): a name that does not start with a
    /// release number compares as newer than every release, so an image older than 0.5.8.post1 would get flags
    /// it does not know. The warning, or nil.
    static func versionGateWarning(engineVersion: String, versionName: String) -> String? {
        guard !(versionName.first?.isNumber ?? false) else { return nil }
        let parts = engineVersion.split(separator: ".").compactMap { Int($0.prefix { $0.isNumber }) }
        guard parts.count >= 3, (parts[0], parts[1], parts[2]) < (0, 5, 8) else { return nil }
        return "GPUStack compares the version name '\(versionName)' as newer than any release and appends "
            + "--uvicorn-access-log-exclude-prefixes (SGLang ≥ 0.5.8.post1) to an image of \(engineVersion); "
            + "name the version '\(engineVersion)-…' so GPUStack's gates match the image"
    }

    /// GPUStack `source` and id field of a manifest model source.
    public static func source(_ m: ModelSource) -> (source: String, field: String, value: String) {
        switch m.source {
        case "huggingface": return ("huggingface", "huggingface_repo_id", m.id ?? "")
        case "modelscope": return ("model_scope", "model_scope_model_id", m.id ?? "")
        default: return ("local_path", "local_path", m.path ?? "")
        }
    }

    /// The desired model of a resolved deployment on `target`.
    public static func model(_ r: ResolvedDeployment, env: [String: Secret], target: TargetConfig) -> GPUStackModelSpec {
        let d = r.deployment
        let src = source(d.model)
        let version = GPUStackVersionSpec(
            backend: builtinBackend(r.backend.engine) ?? r.backend.engine.rawValue,
            name: versionName(engineVersion: r.version.engineVersion.value, version: r.version.name),
            imageName: r.version.image, entrypoint: r.version.entrypoint.joined(separator: " "),
            runCommand: r.version.command?.value ?? "", framework: r.version.framework ?? "cuda")
        var params: [String] = []
        var runFlags: [String] = []
        for a in r.args {
            let name = a.canonicalName ?? a.group.flag
            if a.source == .template { runFlags.append(name); continue }
            params += parameterStrings(flag: name, values: a.group.values)
        }
        var selector = target.stringMap("workerSelector")
        selector.merge(d.labels.filter { $0.key.hasPrefix("gpustack.worker/") }
                        .reduce(into: [:]) { $0[String($1.key.dropFirst("gpustack.worker/".count))] = $1.value }) { _, b in b }
        var spec = GPUStackModelSpec(
            name: d.name, source: src.source, sourceField: src.field, sourceValue: src.value, version: version,
            engine: r.backend.engine, backendParameters: params, flagSet: r.flagSet, catalog: r.catalog,
            runCommandFlags: runFlags, env: env,
            secretEnv: Set(r.env.filter { $0.value.isSecret }.map(\.name.value)),
            replicas: d.replicas, workerSelector: selector,
            timeoutSeconds: d.readiness?.timeoutSeconds ?? r.version.readiness?.timeoutSeconds ?? 600, warnings: [])
        spec.warnings = injectionWarnings(spec)
        if r.backend.engine == .sglang,
           let w = versionGateWarning(engineVersion: r.version.engineVersion.value, versionName: version.name) {
            spec.warnings.append(w)
        }
        if d.servedModelName != d.name {
            spec.warnings.append("servedModelName '\(d.servedModelName)' is ignored: GPUStack serves the model under its name '\(d.name)'")
        }
        return spec
    }

    /// `backend_parameters` entries for one flag: `--flag value` in one string when GPUStack's shlex
    /// re-split gives the same tokens back, else flag and value as separate entries (GPUStack passes an
    /// entry that does not start like a flag through as one token).
    public static func parameterStrings(flag: String, values: [String]) -> [String] {
        guard !values.isEmpty else { return [flag] }
        let plain = values.allSatisfy { v in
            !v.isEmpty && !v.contains { $0.isWhitespace || "'\"\\".contains($0) } && !ArgGroup.isFlagToken(v)
        }
        if plain { return [([flag] + values).joined(separator: " ")] }
        return [flag] + values
    }

    /// argv tokens of live `backend_parameters`, split the way GPUStack's worker does (`flatten_to_argv`):
    /// an entry that starts like a flag is shell-split, any other entry is one token.
    public static func tokens(ofParameters params: [String]) -> [String] {
        var out: [String] = []
        for p in params {
            let t = p.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("-"), case .success(let toks) = ArgvSplitter.split(t) { out += toks.map(\.text) }
            else { out.append(p) }
        }
        return out
    }

    /// Canonical flags of live `backend_parameters` with the deployment's catalog, and the problems found.
    public static func flagSet(ofParameters params: [String], catalog: FlagCatalog) -> (FlagSet, [String]) {
        let toks = tokens(ofParameters: params)
        let groups = ArgGroup.group(tokens: toks.enumerated().map { (text: $0.element, offset: $0.offset) }, origin: { $0 })
        let result = FlagChecker(catalog: catalog).check(groups)
        let problems = result.issues.filter(\.isError).map(\.message)
        return (result.flagSet, problems)
    }

    /// What GPUStack adds to an SGLang command line (REPORT §7.3), as plan warnings.
    static func injectionWarnings(_ s: GPUStackModelSpec) -> [String] {
        guard s.engine == .sglang else { return [] }
        var out: [String] = []
        let params = Set(s.flagSet.names)
        let parallel = ["--tp-size", "--pp-size", "--dp-size"]
        if !parallel.contains(where: params.contains) {
            if s.runCommandFlags.contains("--tp-size") {
                out.append("--tp-size is in the run command only: GPUStack appends a second --tp-size <GPUs of the instance> "
                           + "after it (argparse keeps GPUStack's); put parallelism flags in args")
            } else {
                out.append("GPUStack appends --tp-size <GPUs of the instance> (no --tp-size/--pp-size/--dp-size in args)")
            }
        }
        if !params.contains("--mem-fraction-static") {
            out.append("GPUStack appends --mem-fraction-static <its vram_utilization> (not set in args)")
        }
        if !params.contains("--enable-metrics") {
            out.append("GPUStack appends --enable-metrics")
        }
        for f in ["--host", "--port", "--served-model-name"] where s.runCommandFlags.contains(f) && params.contains(f) {
            out.append("\(f) is set in both the run command and args: the engine sees it twice (args win)")
        }
        return out
    }
}
