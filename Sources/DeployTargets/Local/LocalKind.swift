public import DeployKit
public import DeploySpec
import DeployCore
import Foundation

/// `type: local`: engines run as processes on this machine (the embedded default target).
public enum LocalKind: TargetKind {
    public static let type = "local"
    public static let capabilities: TargetCapabilities = [.savedPlans, .gates, .followLogs, .prune, .apply, .multiNode, .observe]

    public static let schema: TargetTypeSchema = {
        var s = TargetTypeSchema(
        type: type, summary: "Engines as processes on this machine (a Target named `local` configures the embedded default).",
        fields: [
            FieldSchema("host", .string(), "Address engines bind to and clients use (`{{worker_ip}}`; default 127.0.0.1)."),
            FieldSchema("gpus", .gpuIDs,
                        "GPUs this target may hand out: a list of ids (`[4, 5, 6, 7]`) or a count (`8`: ids 0…7); replicas take them in "
                        + "deployment-name order, and a manifest that needs more is refused. Omitted: what this machine's nvidia-smi reports free."),
            FieldSchema("images", .map(.stringOrList), "Map an image to a local command (argv) that stands in for it."),
        ], multiNode: capabilities.contains(.multiNode))
        s.disaggregation = true
        return s
    }()

    public static func make(_ config: TargetConfig?, _ context: TargetContext) throws(TargetError) -> any Target {
        var images: [String: [String]] = [:]
        for (image, argv) in config?.stringListMap("images") ?? [:] { images[image] = resolveProgram(argv, context: context) }
        let driver: LocalDriver
        do {
            try FileManager.default.createDirectory(atPath: context.stateDirectory, withIntermediateDirectories: true)
            driver = try LocalDriver(stateDirectory: context.stateDirectory, host: config?.host ?? "127.0.0.1",
                                     imageCommands: images, environment: context.environment, clock: context.clock)
        } catch {
            throw TargetError(.unavailable, "cannot open state in \(context.stateDirectory): \(error)")
        }
        let stateDirectory = context.stateDirectory
        let target = SlotTarget(ref: TargetRef(name: config?.name ?? "local", type: type), driver: driver, gpus: config?.gpus,
                                address: config?.host ?? "127.0.0.1", clock: context.clock, capabilities: capabilities) { spec, env in
            (try? SecretDigester(stateDirectory: stateDirectory))?.digests(for: spec, environment: env)
        }
        target.membership = RouterMembership(clock: context.clock)
        return target
    }

    /// A bare program name is looked up next to the dsdeploy executable first (`dsdeploy-engine-sim`), then on PATH.
    static func resolveProgram(_ argv: [String], context: TargetContext) -> [String] {
        guard let first = argv.first, !first.contains("/") else { return argv }
        let sibling = context.executableDirectory + "/" + first
        if FileManager.default.isExecutableFile(atPath: sibling) { return [sibling] + argv.dropFirst() }
        return argv
    }
}
