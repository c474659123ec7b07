import ArgumentParser
import DeployCore
import DeployKit
import DeploySpec
import Foundation

/// `dsdeploy diff OLD NEW` / `dsdeploy diff --git REV [PATHS]`
struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show the flag-level semantic diff between two manifest versions.",
        discussion: """
            Aliases, --k=v vs --k v, order and number spelling are normalised: only real changes show.
            Exit 0 no differences, 2 differences, 1 error.
            Examples:
              dsdeploy diff manifests/dsv4f.yaml manifests/dspark.yaml
              dsdeploy diff --git HEAD~1 manifests/dspark.yaml
              dsdeploy diff manifests/envs/production.yaml manifests/envs/staging.yaml
              dsdeploy diff manifests/dspark.yaml manifests/dspark.yaml --set deployments.dspark.replicas=2
            """)

    @Argument(help: "OLD and NEW manifest files or directories (or, with --git, the paths to compare; default: manifests/).")
    var paths: [String] = []

    @Option(name: .customLong("git"), help: "Compare the working tree against this git revision.")
    var gitRevision: String?

    @Flag(name: .long, help: "Also list unchanged deployments.")
    var showUnchanged = false

    @OptionGroup var options: ManifestOptions

    @OptionGroup(title: "Settings (applied to the NEW side)") var settings: SettingsOptions

    func validate() throws {
        if gitRevision == nil && paths.count != 2 {
            throw ValidationError("give OLD and NEW manifest files, or --git REV [PATHS]")
        }
    }

    func run() throws {
        let old: ValidationResult
        let new: ValidationResult
        if let rev = gitRevision {
            guard Git.verify(rev) else {
                Output.stderr("dsdeploy: error: '\(rev)' is not a git revision here\n")
                throw ExitCode.failure
            }
            let files = paths.isEmpty ? ["manifests"] : paths
            // Each side keeps the paths it has, and the loader lists a directory from that side's own
            // source: a file deleted since REV is on the old side only, so its deployments show as deleted.
            let src = GitFileSource(revision: rev), disk = DiskFileSource()
            func present(_ p: String, in source: some ManifestFileSource) -> Bool {
                source.isDirectory(p) ? !source.yamlFiles(in: p).isEmpty : source.read(p) != nil
            }
            let oldFiles = files.filter { present($0, in: src) }
            let newFiles = files.filter { present($0, in: disk) }
            // Nothing on either side is a wrong path, not "no changes": a pipeline would pass on it.
            if oldFiles.isEmpty && newFiles.isEmpty {
                let named = paths.isEmpty ? "the default path 'manifests'" : paths.map { "'\($0)'" }.joined(separator: ", ")
                Output.stderr("dsdeploy: error: no manifests at \(named), in the working tree or at \(rev); "
                              + "name the files or directories to compare: dsdeploy diff --git \(rev) PATH...\n")
                throw ExitCode.failure
            }
            old = ManifestPipeline.validate(oldFiles, options: options, source: src)
            new = ManifestPipeline.validate(newFiles, options: options, settings: settings.settings)
        } else {
            old = ManifestPipeline.validate([paths[0]], options: options)
            new = ManifestPipeline.validate([paths[1]], options: options, settings: settings.settings)
        }
        ManifestPipeline.printDiagnostics(new, options: options)
        guard new.isValid else { throw ExitCode.failure }
        if !old.isValid {
            Output.stderr("dsdeploy: warning: the old side has errors; its flags are compared as far as they parse\n")
        }
        let diff = Differ().diff(old.deployments, new.deployments, pairSingle: gitRevision == nil)
        switch options.output {
        case .json: Output.stdout(Output.json(diff))
        case .text: Output.stdout(DiffTextRenderer(color: options.useColor(), showUnchanged: showUnchanged).render(diff))
        }
        if diff.hasChanges { throw ExitCode(2) }
    }
}
