import ArgumentParser
import DeployCore
import DeployKit
import DeploySpec
import DeployTargets
import Foundation

/// Validated manifests rendered to launch specs, with their environments resolved.
struct DeployContext {
    var result: ValidationResult
    var specs: [LaunchSpec]
    var environment: [String: [String: Secret]]
    var files: [String]

    /// Validates and renders; prints diagnostics; throws `ExitCode.failure` when invalid.
    static func load(_ files: [String], options: ManifestOptions, resolveSecrets: Bool) throws -> DeployContext {
        let result = ManifestPipeline.validate(files, options: options)
        ManifestPipeline.printDiagnostics(result, options: options)
        guard result.isValid else { throw ExitCode.failure }
        var specs: [LaunchSpec] = []
        var env: [String: [String: Secret]] = [:]
        for r in result.deployments {
            switch Renderer().render(r) {
            case .success(let s): specs += s
            case .failure(let e):
                Output.stderr("dsdeploy: error: cannot render '\(e.deployment)': \(e.message)\n")
                throw ExitCode.failure
            }
            if resolveSecrets {
                do {
                    var e = try SecretResolver.resolve(r)
                    // Every engine learns which engine version dsdeploy checked it against (the simulator uses it).
                    e["DSDEPLOY_ENGINE_VERSION"] = e["DSDEPLOY_ENGINE_VERSION"] ?? Secret(r.version.engineVersion.value)
                    env[r.deployment.name] = e
                } catch {
                    Output.stderr("dsdeploy: error: \(error)\n")
                    throw ExitCode.failure
                }
            }
        }
        return DeployContext(result: result, specs: specs, environment: env, files: files)
    }

    /// Adds keyed digests of the env values revisions do not show (secrets, `valueFrom`) to the local
    /// target's specs (call it on the local target's path only), so a changed value is a planned restart. With `bestEffort` (plan, dry runs) the
    /// values are resolved here and a deployment whose values cannot be resolved is left without
    /// digests (its secrets are not compared); otherwise the already resolved environments are used.
    mutating func digestSecrets(bestEffort: Bool) throws {
        guard specs.contains(where: { s in s.env.contains { $0.value == nil } }) else { return }
        let digester: SecretDigester
        do { digester = try SecretDigester(stateDirectory: TargetFactory.stateDirectory) } catch {
            Output.stderr("dsdeploy: error: \(error)\n")
            throw ExitCode.failure
        }
        var envs = environment
        if bestEffort {
            for r in result.deployments where envs[r.deployment.name] == nil {
                if let e = try? SecretResolver.resolve(r) { envs[r.deployment.name] = e }
            }
        }
        for i in specs.indices {
            guard let e = envs[specs[i].deployment] else { continue }
            specs[i].secretDigests = digester.digests(for: specs[i], environment: e)
        }
    }
}

/// Where state lives and how the local target is built.
enum TargetFactory {
    /// `$DSDEPLOY_HOME`, else `.dsdeploy` in the working directory.
    static var stateDirectory: String {
        if let h = ProcessInfo.processInfo.environment["DSDEPLOY_HOME"], !h.isEmpty { return h }
        return FileManager.default.currentDirectoryPath + "/.dsdeploy"
    }

    /// The local target, with image → command mappings from every local-type Target document.
    static func local(_ manifest: Manifest?) throws -> LocalTarget {
        var images: [String: [String]] = [:]
        var host = "127.0.0.1"
        for t in (manifest?.targets.values.map { $0 } ?? []) where t.type == "local" {
            for (image, argv) in t.images { images[image] = resolveProgram(argv) }
            if t.name == "local" { host = t.host }
        }
        do {
            return try LocalTarget(stateDirectory: stateDirectory, host: host, imageCommands: images)
        } catch {
            Output.stderr("dsdeploy: error: cannot open state in \(stateDirectory): \(error)\n")
            throw ExitCode.failure
        }
    }

    /// A bare program name is looked up next to this executable first (dsdeploy-engine-sim), then on PATH.
    static func resolveProgram(_ argv: [String]) -> [String] {
        guard let first = argv.first, !first.contains("/") else { return argv }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let sibling = ManifestPath.directory(of: exe) + "/" + first
        if FileManager.default.isExecutableFile(atPath: sibling) { return [sibling] + argv.dropFirst() }
        return argv
    }

    /// Takes the apply lock or explains who holds it.
    static func lock() throws -> ApplyLock {
        do {
            try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
            return try ApplyLock(stateDirectory: stateDirectory,
                                 command: CommandLine.arguments.joined(separator: " "))
        } catch let c as ApplyLock.Contention {
            Output.stderr("dsdeploy: error: \(c.description)\n")
            throw ExitCode.failure
        } catch {
            Output.stderr("dsdeploy: error: cannot take the apply lock in \(stateDirectory): \(error)\n")
            throw ExitCode.failure
        }
    }
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
