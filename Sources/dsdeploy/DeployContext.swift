import ArgumentParser
import DeployCore
import DeployKit
import DeploySpec
import DeployTargets
import Foundation

/// Validated manifests with their environments resolved: what a target plans and applies.
struct DeployContext {
    var result: ValidationResult
    var files: [String]
    var environment: [String: [String: Secret]]
    /// Why an env could not be resolved (plan: best effort), by deployment.
    var unresolved: [String: String]

    /// Validates; prints diagnostics; throws `ExitCode.failure` when invalid. With `resolveSecrets`
    /// every env must resolve (apply); without, what resolves is kept (plan, dry runs).
    static func load(_ files: [String], options: ManifestOptions, settings: ManifestSettings = ManifestSettings(),
                     resolveSecrets: Bool) throws -> DeployContext {
        let result = ManifestPipeline.validate(files, options: options, settings: settings, requireDocuments: true)
        ManifestPipeline.printDiagnostics(result, options: options)
        guard result.isValid else { throw ExitCode.failure }
        var env: [String: [String: Secret]] = [:]
        var unresolved: [String: String] = [:]
        for r in result.deployments {
            do {
                // (The local and docker targets add DSDEPLOY_ENGINE_VERSION from the launch spec.)
                env[r.deployment.name] = try SecretResolver.resolve(r)
            } catch {
                if resolveSecrets { throw fail("\(error)") }
                unresolved[r.deployment.name] = "\(error)"
            }
        }
        return DeployContext(result: result, files: files, environment: env, unresolved: unresolved)
    }

    /// What the target plans: these deployments, these environments.
    func input(prune: Bool) -> PlanInput {
        PlanInput(deployments: result.deployments, files: files, prune: prune, environment: environment,
                  unresolved: unresolved)
    }
}

/// The only place that maps manifests to a `Target`: through the registered kinds.
enum TargetResolver {
    /// `$DSDEPLOY_HOME`, else `.dsdeploy` in the working directory.
    static var stateDirectory: String {
        if let h = ProcessInfo.processInfo.environment["DSDEPLOY_HOME"], !h.isEmpty { return h }
        return FileManager.default.currentDirectoryPath + "/.dsdeploy"
    }

    /// What targets may use: this process's environment, the state directory, the disk, the wall clock.
    static var context: TargetContext {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return TargetContext(environment: ProcessInfo.processInfo.environment, stateDirectory: stateDirectory,
                             files: DiskFileSource(), clock: SystemClock(), executableDirectory: ManifestPath.directory(of: exe))
    }

    /// The one target the validated deployments run on. Several targets in one invocation is an
    /// error: plan and apply one target at a time.
    static func target(of result: ValidationResult) throws -> any Target {
        let names = Set(result.deployments.map { $0.target?.name ?? "local" })
        if names.count > 1 {
            throw fail("the deployments run on several targets (\(names.sorted().joined(separator: ", "))); "
                       + "plan and apply one target at a time")
        }
        return try make(result.deployments.first?.target)
    }

    /// The target defined in `files` (status, logs, delete `-f`): the only non-local Target there,
    /// else the local one. No files: the local target.
    static func target(inFiles files: [String], options: ManifestOptions) throws -> any Target {
        guard !files.isEmpty else { return try make(nil) }
        let r = ManifestPipeline.validate(files, options: options)
        if !r.isValid {
            ManifestPipeline.printDiagnostics(r, options: options)
            throw ExitCode.failure
        }
        let remote = r.manifest.targets.values.filter { $0.type != LocalKind.type }
        if remote.count > 1 {
            throw fail("\(files.joined(separator: " ")) define several targets (\(remote.map(\.name).sorted().joined(separator: ", "))); "
                       + "pass one target file")
        }
        return try make(remote.first ?? r.manifest.targets["local"])
    }

    /// Builds a target through its registered kind (nil: the embedded local target).
    static func make(_ config: TargetConfig?) throws -> any Target {
        let type = config?.type ?? LocalKind.type
        guard let kind = TargetKinds.kind(type) else {
            throw fail("target type '\(type)' is not supported by this dsdeploy (supported: \(TargetKinds.types.joined(separator: ", ")))")
        }
        do { return try kind.make(config, context) } catch { throw fail(error.message) }
    }

    /// This process as a lock holder (`user@host pid N: command`).
    static var holder: LockHolder {
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, name.count)
        let host = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let user = ProcessInfo.processInfo.environment["USER"] ?? "uid \(getuid())"
        return LockHolder(who: "\(user)@\(host)", host: host, pid: getpid(), command: CommandLine.arguments.joined(separator: " "),
                          since: ISO8601DateFormatter().string(from: Date()))
    }

    /// Takes the target's own lock (shared by every machine reaching it), when it has one.
    static func lock(_ target: any Target) throws -> (any TargetLock)? {
        do { return try target.lock(holder) } catch { throw fail(error.message) }
    }

    /// Takes the apply lock or explains who holds it.
    static func lock() throws -> ApplyLock {
        do {
            try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
            return try ApplyLock(stateDirectory: stateDirectory,
                                 command: CommandLine.arguments.joined(separator: " "))
        } catch let c as ApplyLock.Contention {
            throw fail(c.description)
        } catch {
            throw fail("cannot take the apply lock in \(stateDirectory): \(error)")
        }
    }
}

/// Prints `dsdeploy: error: message` and returns the failure exit code to throw.
func fail(_ message: String) -> ExitCode {
    Output.stderr("dsdeploy: error: \(message)\n")
    return ExitCode.failure
}

/// Asks for confirmation on a terminal; refuses without `--auto-approve` elsewhere.
enum Confirm {
    static func ask(_ question: String, autoApprove: Bool) throws -> Bool {
        if autoApprove { return true }
        guard isatty(STDIN_FILENO) == 1 else {
            Output.stderr("dsdeploy: error: not a terminal; pass --auto-approve to proceed without asking\n")
            throw ExitCode.failure
        }
        Output.stdout("\(question) Only 'yes' will be accepted: ")
        let answer = readLine(strippingNewline: true) ?? ""
        return answer == "yes"
    }
}
