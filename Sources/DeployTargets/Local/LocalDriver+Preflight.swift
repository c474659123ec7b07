public import DeployKit
import Engines
import Foundation

extension LocalDriver {
    /// Engines that could not start here, found at plan time, before anything stops: a command that
    /// is not on the replica's `PATH` (the image's entrypoint, `vllm`, on a machine without vLLM), or
    /// an absolute path that is not an executable file. Without this the supervisor's exec fails
    /// (exit 127) only once the rollout has begun. A relative path is left to the run: it depends on
    /// the directory the engine starts in.
    public func preflight(_ specs: [LaunchSpec]) -> [String] {
        var out: [String] = []
        var seen: Set<String> = []
        for s in specs {
            guard let command = LaunchCommand.argv(for: s, imageCommands: imageCommands).first,
                  seen.insert(command).inserted else { continue }
            let path = s.env.first { $0.name == "PATH" && !$0.secret }?.value ?? parentEnvironment["PATH"] ?? ""
            guard !Self.resolves(command, path: path) else { continue }
            var message = "cannot start '\(command)' for \(s.id) on this machine: "
                + (command.contains("/") ? "there is no executable file there" : "it is not on PATH")
            if s.engine != .sglangRouter, imageCommands[s.image] == nil {
                message += "; the local target runs the image's entrypoint here: install it, or give \(s.image) a local "
                    + "command in the target's images (docs/targets/local.md)"
            }
            out.append(message)
        }
        return out
    }

    /// Whether `command` would be found: an absolute path that is an executable file, a name in one of
    /// `path`'s directories; a relative path with a slash counts as found.
    static func resolves(_ command: String, path: String) -> Bool {
        if command.contains("/") { return !command.hasPrefix("/") || FileManager.default.isExecutableFile(atPath: command) }
        return CommandRunner.find(command, path: path) != nil
    }
}

extension LocalDriver {
    /// This machine's GPUs as its `nvidia-smi` reports them, when the Target declares no `gpus`:
    /// the placer hands out only GPUs that run no process, or run one of this project's replicas
    /// (they keep theirs). Without `nvidia-smi` on `PATH`, or when it fails (no driver, or no answer
    /// within `nvidiaSmiTimeout`: `unread` says so, and the plan warns), the GPUs stay uncounted
    /// (`0, 1, 2 …`). A declared `gpus` list or count is authoritative, as on the docker target.
    public func inventory(_ declared: [InventoryHost], observed: [ObservedReplica]) -> [InventoryHost] {
        declared.map { d in
            guard d.gpus == nil else { return d }
            return GPUInventory.readHere(environment: parentEnvironment, timeout: nvidiaSmiTimeout)
                .filling(d, ours: Set(observed.filter(\.isAlive).flatMap(\.launch.gpuIds)))
        }
    }
}
