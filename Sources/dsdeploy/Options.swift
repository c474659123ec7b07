import ArgumentParser
import DeployCore
import DeployKit
import DeploySpec
import DeployTargets
import Foundation

/// Output format shared by every command.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// When to colour terminal output.
enum ColorMode: String, ExpressibleByArgument, CaseIterable {
    case auto, always, never
}

/// Options every manifest-reading command takes.
struct ManifestOptions: ParsableArguments {
    @Option(name: .long, help: "Output format: text or json.")
    var output: OutputFormat = .text

    @Option(name: .long, help: "Colour: auto (when stdout is a terminal and NO_COLOR is unset), always, never.")
    var color: ColorMode = .auto

    @Option(name: .customLong("templates"), help: "Extra directory of stock backend definitions (repeatable).")
    var templates: [String] = []

    @Flag(name: .long, help: "Engine flags must be spelled in full: an abbreviation the engine accepts (--tp for --tp-size) is an error, not a warning.")
    var strict = false

    func useColor(stream: Int32 = STDOUT_FILENO) -> Bool {
        switch color {
        case .always: return true
        case .never: return false
        case .auto:
            return isatty(stream) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
                && output == .text
        }
    }

    var templateDirectories: [String] {
        var dirs = templates
        if let env = ProcessInfo.processInfo.environment["DSDEPLOY_TEMPLATES"], !env.isEmpty { dirs.append(env) }
        return dirs
    }
}

/// `--set` and `--values`: settings applied on top of the manifests and their overlays (validate,
/// render, diff, plan, apply).
struct SettingsOptions: ParsableArguments {
    @Option(name: .customLong("set"),
            help: ArgumentHelp("Set a value on top of the manifests (repeatable, applied in order, last): "
                               + "deployments.NAME.PATH=VALUE, e.g. deployments.dspark.replicas=2 or deployments.dspark.args.--tp-size=4.",
                               valueName: "path=value"))
    var set: [String] = []

    @Option(name: .customLong("values"),
            help: ArgumentHelp("A YAML file of deployments.NAME.PATH: VALUE settings, applied before --set (repeatable).",
                               valueName: "file"))
    var values: [String] = []

    /// The settings for the loader.
    var settings: ManifestSettings { ManifestSettings(set: set, valuesFiles: values) }
}

/// Loads and validates manifests; prints diagnostics to stderr (text) and returns the result.
enum ManifestPipeline {
    /// With `requireDocuments` (validate, plan, apply), files without a single document are an error
    /// (`no-documents`), as `kubectl apply` refuses "no objects passed to apply": an emptied manifest
    /// in a pipeline must fail, not deploy nothing. Deleting what runs stays an explicit `delete`.
    static func validate(_ files: [String], options: ManifestOptions, settings: ManifestSettings = ManifestSettings(),
                         source: any ManifestFileSource = DiskFileSource(), requireDocuments: Bool = false,
                         targetOverride: String? = nil) -> ValidationResult {
        let loader = ManifestLoader(source: source, templateDirectories: options.templateDirectories,
                                    targetTypes: TargetKinds.schemas)
        // Values files are read from the disk even when the manifests come from a git revision.
        let (manifest, diags) = loader.load(files, settings: settings, valuesSource: DiskFileSource())
        var validator = SpecValidator(strictFlags: options.strict, targetTypes: TargetKinds.schemas, files: source)
        validator.targetOverride = targetOverride
        var result = validator.validate(manifest, loadDiagnostics: diags)
        if requireDocuments, manifest.documentCount == 0, !result.diagnostics.hasErrors, let first = files.first {
            result.diagnostics.append(.error("no-documents", "\(files.joined(separator: ", ")) \(files.count == 1 ? "has" : "have") no "
                                             + "documents: nothing to validate or deploy (to stop what runs, use dsdeploy delete)",
                                             at: SourceLocation(file: first, line: 1, column: 1)))
        }
        return result
    }

    /// Prints diagnostics as text to stderr.
    static func printDiagnostics(_ r: ValidationResult, options: ManifestOptions) {
        guard !r.diagnostics.isEmpty else { return }
        let printer = DiagnosticPrinter(sources: r.manifest.sources, color: options.useColor(stream: STDERR_FILENO))
        var text = printer.render(r.diagnostics)
        if let s = DiagnosticPrinter.summary(r.diagnostics) { text += s + "\n" }
        PhaseClock.mark("render")
        Output.stderr(text)
        PhaseClock.mark("write")
    }
}

/// The only place that writes to stdout/stderr.
enum Output {
    static func stdout(_ s: String) {
        FileHandle.standardOutput.write(Data(s.utf8))
    }

    static func stderr(_ s: String) {
        FileHandle.standardError.write(Data(s.utf8))
    }

    /// Pretty JSON with sorted keys and a trailing newline.
    static func json<T: Encodable>(_ value: T) -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? enc.encode(value) else { return "{}\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
