import ArgumentParser
import DeployCore
import Engines
import Foundation

/// dsdeploy: GitOps for LLM inference engines.
@main
struct DSDeploy: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dsdeploy",
        abstract: "Deploy LLM inference engines (SGLang, vLLM, llama.cpp) from manifests kept in git.",
        discussion: """
            Exit codes: 0 success, 1 error (invalid manifest, failed operation), \
            2 differences present (diff, plan --detailed-exitcode), 3 a benchmark gate failed (apply --gate), \
            64 usage error.
            """,
        version: DSDeploy.version,
        subcommands: [Validate.self, Render.self, Diff.self, PlanCommand.self, Apply.self, Status.self, Logs.self,
                      Delete.self, Schema.self, Flags.self, Version.self, BenchCommand.self]
    )

    /// The version this binary reports.
    static let version = "0.1.0"

    /// Applies the process environment the libraries take as values, then parses and runs the command.
    static func main() {
        PhaseClock.mark("start")
        MallocTuning.apply()
        let environment = ProcessInfo.processInfo.environment
        if let dir = environment["DSDEPLOY_ENGINE_CATALOGS"], !dir.isEmpty {
            CatalogStore.bundledOverride = URL(fileURLWithPath: dir)
        }
        main(nil)
    }
}
