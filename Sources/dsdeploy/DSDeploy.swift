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
        tuneMalloc()
        let environment = ProcessInfo.processInfo.environment
        if let dir = environment["DSDEPLOY_ENGINE_CATALOGS"], !dir.isEmpty {
            CatalogStore.bundledOverride = URL(fileURLWithPath: dir)
        }
        main(nil)
    }

    /// dsdeploy runs briefly and builds large arrays of values (a 2,000-deployment manifest: ~70 MB).
    /// glibc serves blocks over 128 KiB from fresh `mmap`s and unmaps them when freed, so every such
    /// array, each time it grows, costs page faults on zeroed pages (a fifth of validate's time in
    /// `clear_page`). Keeping them in the heap lets freed memory be reused.
    private static func tuneMalloc() {
        #if canImport(Glibc)
        // mallopt is declared in <malloc.h>, which Glibc's module does not export: found by name.
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(nil, "mallopt") else { return }  // nil: RTLD_DEFAULT
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        _ = mallopt(-3, 256 << 20)  // M_MMAP_THRESHOLD
        _ = mallopt(-1, 512 << 20)  // M_TRIM_THRESHOLD
        _ = mallopt(-2, 16 << 20)   // M_TOP_PAD
        #endif
    }
}
