import ArgumentParser
import DeployCore
import DeployKit
import DeploySpec
import DeployTargets

/// `dsdeploy render FILE... [--deployment N]`
struct Render: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the exact argv, env and image of each replica.",
        discussion: "Secret env values print as ***. Exit 1 when the manifest is invalid.")

    @Argument(help: "Manifest files.")
    var files: [String]

    @Option(name: .long, help: "Only this deployment.")
    var deployment: String?

    @OptionGroup var options: ManifestOptions

    @OptionGroup var settings: SettingsOptions

    struct JSONOut: Encodable {
        var replicas: [LaunchSpec]
    }

    func run() throws {
        let result = ManifestPipeline.validate(files, options: options, settings: settings.settings)
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
        // GPUs as the target's placer hands them out: every deployment of a target takes part, in name order.
        var placement: [String: [ReplicaPlacement]] = [:]
        for (name, onTarget) in Dictionary(grouping: result.deployments, by: { $0.target?.name ?? "local" }) {
            let t = onTarget.first?.target
            let hosts = TargetKinds.kind(t?.type ?? "local")?.inventory(t)
                ?? [InventoryHost(name: name, address: t?.host ?? "127.0.0.1", gpus: t?.gpus)]
            if case .success(let p) = Placer.place(onTarget, hosts: hosts) { placement.merge(p) { a, _ in a } }
        }
        var specs: [LaunchSpec] = []
        for r in selected {
            switch Renderer().render(r, placement: placement[r.deployment.name]) {
            case .success(let s): specs += s
            case .failure(let e):
                Output.stderr("dsdeploy: error: cannot render '\(e.deployment)': \(e.message)\n")
                throw ExitCode.failure
            }
        }
        switch options.output {
        case .json: Output.stdout(Output.json(JSONOut(replicas: specs)))
        case .text: Output.stdout(LaunchSpecTextRenderer(color: options.useColor()).render(specs))
        }
    }
}
