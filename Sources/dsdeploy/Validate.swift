import ArgumentParser
import DeployCore
import DeployKit
import DeploySpec

/// `dsdeploy validate FILE...`
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check manifests: keys, templates and every engine flag against its engine version's catalog.",
        discussion: "Exit 0 when there is no error (warnings allowed), 1 when there is any error.")

    @Argument(help: "Manifest files or directories (their *.yaml, *.yml).")
    var files: [String]

    @Flag(name: .long, help: "Treat warnings as errors.")
    var warningsAsErrors = false

    @Option(name: .long, help: "Check every deployment for this Target (defined in the files), whatever its spec.target, as render --target does.")
    var target: String?

    @OptionGroup var options: ManifestOptions

    @OptionGroup var settings: SettingsOptions

    func run() throws {
        PhaseClock.mark("arguments parsed")
        defer { PhaseClock.report() }
        var result = ManifestPipeline.validate(files, options: options, settings: settings.settings,
                                                   requireDocuments: true, targetOverride: target)
        if let target, result.manifest.targets[target] == nil, result.manifest.documentCount > 0 {
            let hint = Suggest.didYouMean(target, in: Array(result.manifest.targets.keys))
            throw fail("no target '\(target)' in \(files.joined(separator: ", "))\(hint)")
        }
        if warningsAsErrors {
            result.diagnostics = result.diagnostics.map { d in
                var d = d
                if d.severity == .warning { d.severity = .error }
                return d
            }
        }
        switch options.output {
        case .json:
            Output.stdout(Output.json(DiagnosticsJSON(result.diagnostics)))
        case .text:
            ManifestPipeline.printDiagnostics(result, options: options)
            if result.isValid {
                let n = result.manifest.deployments.count
                Output.stdout("\(files.joined(separator: ", ")): valid (\(n) deployment\(n == 1 ? "" : "s"))\n")
            }
        }
        let valid = result.isValid
        KeptUntilExit.keep(result)
        if !valid { throw ExitCode.failure }
    }
}

/// Keeps a value alive until the process exits: `validate` ends right after printing, and
/// releasing a large manifest's trees, deployments and diagnostics one by one just before exit is
/// wasted work (about 3% of validating a 2,000-deployment manifest); the process exit frees it all.
final class KeptUntilExit<Value>: Sendable where Value: Sendable {
    let value: Value
    private init(_ value: Value) { self.value = value }

    /// Retains `value` for the rest of the process.
    static func keep(_ value: Value) {
        _ = Unmanaged.passRetained(KeptUntilExit(value))
    }
}
