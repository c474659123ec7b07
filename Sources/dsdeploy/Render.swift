import ArgumentParser
import DeployCore
import DeployKit
import DeploySpec
import DeployTargets
import Foundation

/// What `render` writes.
enum RenderFormat: String, ExpressibleByArgument, CaseIterable {
    /// Each replica's argv, env and image (text or JSON).
    case launch
    /// The Kubernetes objects of each deployment on a kubernetes target (YAML, or a JSON List).
    case kubernetes
}

/// `dsdeploy render FILE... [--deployment N]`
struct Render: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Show the exact argv, env and image of each replica.",
        discussion: "Secret env values print as ***. --format kubernetes writes a Deployment (a LeaderWorkerSet for a replica on "
            + "several nodes) and a Service per deployment (one YAML stream, a JSON List with --output json, or one file per object under --out DIR); secrets become "
            + "secretKeyRefs, never values. Exit 1 when the manifest is invalid or cannot be rendered.")

    @Argument(help: "Manifest files or directories (their *.yaml, *.yml).")
    var files: [String]

    @Option(name: .long, help: "Only this deployment.")
    var deployment: String?

    @Option(name: .long, help: "Render every deployment for this Target (defined in the files), whatever its spec.target.")
    var target: String?

    @Option(name: .long, help: "launch (each replica's argv, env, image) or kubernetes (the objects of a kubernetes target).")
    var format: RenderFormat = .launch

    @Option(name: .long, help: "With --format kubernetes: write one file per object into this directory (NAME.deployment.yaml or NAME.leaderworkerset.yaml, NAME.service.yaml).")
    var out: String?

    @OptionGroup var options: ManifestOptions

    @OptionGroup var settings: SettingsOptions

    struct JSONOut: Encodable {
        var replicas: [LaunchSpec]
    }

    func run() throws {
        if out != nil, format != .kubernetes { throw fail("--out writes Kubernetes objects; add --format kubernetes") }
        let result = ManifestPipeline.validate(files, options: options, settings: settings.settings, targetOverride: target)
        if let target, result.manifest.targets[target] == nil, result.manifest.documentCount > 0 {
            let hint = Suggest.didYouMean(target, in: Array(result.manifest.targets.keys))
            throw fail("no target '\(target)' in \(files.joined(separator: ", "))\(hint)")
        }
        ManifestPipeline.printDiagnostics(result, options: options)
        guard result.isValid else { throw ExitCode.failure }
        var selected = result.deployments
        if let name = deployment {
            selected = selected.filter { $0.deployment.name == name }
            if selected.isEmpty {
                let hint = Suggest.didYouMean(name, in: result.deployments.map(\.deployment.name))
                Output.stderr("dsdeploy: error: no deployment '\(name)' in \(files.joined(separator: ", "))\(hint)\n")
                throw ExitCode.failure
            }
        }
        if format == .kubernetes { return try writeKubernetes(selected) }
        // GPUs as the target's placer hands them out: every deployment of a target takes part, in name order.
        var placement: [String: [ReplicaPlacement]] = [:]
        for (name, onTarget) in Dictionary(grouping: result.deployments, by: { $0.target?.name ?? "local" }) {
            let t = onTarget.first?.target
            let kind = TargetKinds.kind(t?.type ?? "local")
            let hosts = kind?.inventory(t) ?? [InventoryHost(name: name, address: t?.host ?? "127.0.0.1", gpus: t?.gpus)]
            if case .success(let p) = Placer.place(onTarget, hosts: hosts, spreadNodes: kind?.spreadsNodes ?? false) { placement.merge(p) { a, _ in a } }
        }
        var specs: [LaunchSpec] = []
        // Every part of a disaggregated deployment is rendered: its router's argv names its workers.
        let names = Set(selected.map(\.deployment.name))
        let groups = Set(selected.compactMap(\.deployment.pd?.group))
        for r in result.deployments where names.contains(r.deployment.name) || r.deployment.pd.map({ groups.contains($0.group) }) == true {
            switch Renderer().render(r, placement: placement[r.deployment.name]) {
            case .success(let s): specs += s
            case .failure(let e):
                Output.stderr("dsdeploy: error: cannot render '\(e.deployment)': \(e.message)\n")
                throw ExitCode.failure
            }
        }
        specs = Renderer.wireRouters(specs).filter { names.contains($0.deployment) }
        switch options.output {
        case .json: Output.stdout(Output.json(JSONOut(replicas: specs)))
        case .text: Output.stdout(LaunchSpecTextRenderer(color: options.useColor()).render(specs))
        }
    }

    /// `--format kubernetes`: the objects, to stdout or one file each under `--out`.
    func writeKubernetes(_ selected: [ResolvedDeployment]) throws {
        let objects: [KubernetesRenderer.Object]
        switch KubernetesRenderer.objects(selected) {
        case .success(let o): objects = o
        case .failure(let e): throw fail("cannot render '\(e.deployment)' for Kubernetes: \(e.message)")
        }
        guard let dir = out else {
            Output.stdout(options.output == .json ? KubernetesRenderer.jsonList(objects) : KubernetesRenderer.yamlStream(objects))
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for o in objects {
                try Data(("---\n" + o.value.yaml).utf8).write(to: URL(fileURLWithPath: dir).appendingPathComponent(o.fileName))
            }
        } catch {
            throw fail("cannot write the objects to \(dir): \(error.localizedDescription)")
        }
        let paths = objects.map { (dir.hasSuffix("/") ? dir : dir + "/") + $0.fileName }
        Output.stdout(options.output == .json ? Output.json(["files": paths]) : paths.map { "wrote \($0)\n" }.joined())
    }
}
