import ArgumentParser
import CurlHTTP
import DeployCore
import DeployKit
import DeploySpec
import DeployTargets
import Foundation

/// The gpustack target behind plan, apply, status, logs and delete: picks it when the deployments'
/// target is a gpustack Target, builds the client from the Target document, renders the results.
enum GPUStackCommands {
    /// The one gpustack Target the validated deployments run on, nil when they all run locally.
    /// Mixing targets in one invocation is an error (one target per plan/apply).
    static func target(of result: ValidationResult) throws -> Target? {
        let targets = Set(result.deployments.map { $0.target?.name ?? "local" })
        let remote = result.deployments.compactMap(\.target).filter { $0.type == "gpustack" }
        guard let first = remote.first else { return nil }
        if targets.count > 1 {
            Output.stderr("dsdeploy: error: the deployments run on several targets (\(targets.sorted().joined(separator: ", "))); "
                          + "plan and apply one target at a time\n")
            throw ExitCode.failure
        }
        return first
    }

    /// The only gpustack Target defined in `files` (for status/logs/delete), or nil.
    static func target(inFiles files: [String], options: ManifestOptions) throws -> Target? {
        guard !files.isEmpty else { return nil }
        let r = ManifestPipeline.validate(files, options: options)
        if !r.isValid {
            ManifestPipeline.printDiagnostics(r, options: options)
            throw ExitCode.failure
        }
        let gs = r.manifest.targets.values.filter { $0.type == "gpustack" }
        if gs.count > 1 {
            Output.stderr("dsdeploy: error: \(files.joined(separator: " ")) define several gpustack targets; pass one target file\n")
            throw ExitCode.failure
        }
        return gs.first
    }

    /// A client and target from a Target document: resolves the API key (never printed) and the CA bundle.
    static func make(_ t: Target, clock: any DeployClock = SystemClock()) throws -> GPUStackTarget {
        let key: Secret
        switch t.apiKey {
        case .fromEnv(let name, _)?:
            guard let v = ProcessInfo.processInfo.environment[name], !v.isEmpty else {
                throw fail("target '\(t.name)': apiKey takes its value from $\(name), which is not set")
            }
            key = Secret(v)
        case .fromFile(let path, _)?:
            let full = ManifestPath.resolve(path, from: t.file)
            guard let data = FileManager.default.contents(atPath: full) else {
                throw fail("target '\(t.name)': apiKey takes its value from file '\(full)', which cannot be read")
            }
            key = Secret(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        default:
            throw fail("target '\(t.name)': apiKey must be {valueFrom: {env: NAME}} or {valueFrom: {file: PATH}}")
        }
        let tls = TLSOptions(verifyPeer: true, caBundle: t.caBundle.map { ManifestPath.resolve($0, from: t.file) })
        let client = GPUStackClient(baseURL: t.url ?? "", apiKey: key, tls: tls)
        return GPUStackTarget(client: client, name: t.name, cluster: t.cluster ?? "default", owner: t.owner ?? t.name, clock: clock)
    }

    static func fail(_ message: String) -> ExitCode {
        Output.stderr("dsdeploy: error: \(message)\n")
        return ExitCode.failure
    }

    /// Desired models of every deployment (env resolved: GPUStack stores the values it runs with).
    static func desired(_ ctx: DeployContext, target: Target) throws -> [GPUStackModelSpec] {
        try ctx.result.deployments.map { r in
            let env: [String: Secret]
            if let e = ctx.environment[r.deployment.name] { env = e } else {
                do { env = try SecretResolver.resolve(r) } catch { throw fail("\(error)") }
            }
            return GPUStackMapping.model(r, env: env, target: target)
        }
    }

    /// `dsdeploy plan` on a gpustack target.
    static func plan(_ ctx: DeployContext, target t: Target, prune: Bool, options: ManifestOptions,
                     detailedExitcode: Bool) throws {
        let target = try make(t)
        let desired = try desired(ctx, target: t)
        let plan: GPUStackPlan
        do { (plan, _) = try target.plan(desired, prune: prune) } catch { throw fail(error.message) }
        switch options.output {
        case .json: Output.stdout(Output.json(plan))
        case .text: Output.stdout(GPUStackPlanText(color: options.useColor()).render(plan))
        }
        if !plan.errors.isEmpty { throw ExitCode.failure }
        if detailedExitcode && plan.hasChanges { throw ExitCode(2) }
    }

    /// `dsdeploy apply` on a gpustack target.
    static func apply(_ ctx: DeployContext, target t: Target, prune: Bool, autoApprove: Bool, dryRun: Bool,
                      options: ManifestOptions) throws {
        let target = try make(t)
        let desired = try desired(ctx, target: t)
        let plan: GPUStackPlan
        let observed: GPUStackObserved
        do { (plan, observed) = try target.plan(desired, prune: prune) } catch { throw fail(error.message) }
        if options.output == .text { Output.stdout(GPUStackPlanText(color: options.useColor()).render(plan)) }
        if !plan.errors.isEmpty {
            if options.output == .json { Output.stdout(Output.json(GPUStackApplyOutput(plan: plan, report: nil))) }
            throw ExitCode.failure
        }
        guard plan.hasChanges, !dryRun else {
            if options.output == .json { Output.stdout(Output.json(GPUStackApplyOutput(plan: plan, report: nil))) }
            return
        }
        guard try Confirm.ask("\nApply this plan?", autoApprove: autoApprove) else {
            Output.stderr("Apply cancelled.\n")
            throw ExitCode.failure
        }
        let json = options.output == .json
        let report = target.apply(plan, desired: desired, observed: observed) { line in
            if json { Output.stderr(line + "\n") } else { Output.stdout(line + "\n") }
        }
        switch options.output {
        case .json: Output.stdout(Output.json(GPUStackApplyOutput(plan: plan, report: report)))
        case .text:
            let done = report.outcomes.filter { $0.result == "done" }.count
            if report.succeeded {
                Output.stdout("Apply complete: \(done) change\(done == 1 ? "" : "s") in \(String(format: "%.1f", report.seconds))s "
                              + "(\(report.apiReads) reads, \(report.apiWrites) writes).\n")
            } else {
                for o in report.outcomes where o.result != "done" { Output.stdout("  ✘ \(o.id) \(o.action): \(o.result) — \(o.message)\n") }
                Output.stdout("Apply FAILED for \(report.failedDeployments.joined(separator: ", ")).\n")
            }
        }
        if !report.succeeded { throw ExitCode.failure }
    }

    /// `dsdeploy status` on a gpustack target.
    static func status(_ t: Target, name: String?, options: ManifestOptions) throws {
        let target = try make(t)
        let rows: [GPUStackTarget.InstanceStatus]
        do { rows = try target.status(names: name.map { [$0] }) } catch { throw fail(error.message) }
        if let name, rows.isEmpty { throw fail("no deployment '\(name)' managed by dsdeploy on \(target.client.baseURL)") }
        switch options.output {
        case .json: Output.stdout(Output.json(["instances": rows]))
        case .text:
            if rows.isEmpty { Output.stdout("Nothing deployed by dsdeploy owner '\(target.owner)' in cluster '\(target.cluster)'.\n"); return }
            var table = [["DEPLOYMENT", "READY", "INSTANCE", "STATE", "WORKER", "ENDPOINT", "MESSAGE"]]
            for r in rows {
                table.append([r.deployment, "\(r.readyReplicas)/\(r.replicas)", r.instance ?? "-", r.state ?? r.modelState,
                              r.worker ?? "-", r.endpoint ?? "-", (r.stateMessage ?? "-").replacingOccurrences(of: "\n", with: " ")])
            }
            Output.stdout(Status.format(table))
        }
    }

    /// `dsdeploy logs` on a gpustack target.
    static func logs(_ t: Target, name: String, replica: Int, tail: Int, follow: Bool) throws {
        let target = try make(t)
        do {
            if follow {
                try target.followLogs(deployment: name, replica: replica, tail: tail) { Output.stdout($0); return true }
            } else {
                let text = try target.logs(deployment: name, replica: replica, tail: tail)
                Output.stdout(text.hasSuffix("\n") || text.isEmpty ? text : text + "\n")
            }
        } catch { throw fail(error.message) }
    }

    /// `dsdeploy delete` on a gpustack target.
    static func delete(_ t: Target, names: Set<String>, autoApprove: Bool) throws {
        let target = try make(t)
        Output.stdout(names.sorted().map { "  - delete model \($0) on \(target.client.baseURL)\n" }.joined())
        guard try Confirm.ask("Delete \(names.count) model\(names.count == 1 ? "" : "s")?", autoApprove: autoApprove) else {
            throw ExitCode.failure
        }
        let done: [String]
        do { done = try target.delete(names) } catch { throw fail(error.message) }
        if done.isEmpty { Output.stdout("Nothing to delete: \(names.sorted().joined(separator: ", ")) not deployed by dsdeploy.\n") }
        for n in done { Output.stdout("deleted \(n)\n") }
    }
}

/// The `--output json` shape of apply on a gpustack target.
struct GPUStackApplyOutput: Encodable {
    var plan: GPUStackPlan
    var report: GPUStackApplyReport?
}
