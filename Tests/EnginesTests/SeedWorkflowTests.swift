import Foundation
import Testing
@testable import Engines

/// Shared helpers for the Engines tests.
enum Fixture {
    /// The seed workflow's thirteen SGLang flags (GPUStack DSpark deployment), in order.
    static let seedArgs = [
        "--context-length 1000000",
        "--trust-remote-code",
        "--tp-size 8",
        "--ep-size 8",
        "--moe-runner-backend flashinfer_mxfp4",
        "--speculative-moe-runner-backend flashinfer_mxfp4",
        "--speculative-algorithm DSPARK",
        "--speculative-eagle-topk 1",
        "--speculative-num-steps 1",
        "--mem-fraction-static 0.85",
        "--cuda-graph-max-bs 32",
        "--max-running-requests 32",
        "--disable-overlap-schedule",
    ]

    /// The catalog of an engine version from the bundled resources.
    static func catalog(_ engine: EngineKind = .sglang, _ version: String = "0.5.23") throws -> FlagCatalog {
        try CatalogStore.catalog(engine, version: version)
    }

    /// Groups for manifest entries; each entry's origin is its index.
    static func groups(_ entries: [String]) -> [ArgGroup] {
        entries.enumerated().compactMap { ArgGroup.parse(entry: $0.element, origin: $0.offset) }
    }

    /// Checks manifest entries against a catalog.
    static func check(_ entries: [String], _ engine: EngineKind = .sglang, _ version: String = "0.5.23",
                      gpus: Int? = nil, nodes: Int = 1,
                      extension ext: CatalogExtension? = nil) throws -> FlagCheckResult {
        var catalog = try catalog(engine, version)
        if let ext { catalog = catalog.extended(with: ext) }
        return FlagChecker(catalog: catalog)
            .check(groups(entries), context: CheckContext(gpusPerReplica: gpus, nodes: nodes))
    }
}

extension FlagCheckResult {
    /// Issue ids in order.
    var ids: [String] { issues.map(\.id) }
    /// Errors only.
    var errors: [FlagIssue] { issues.filter(\.isError) }
    /// Warnings only.
    var warnings: [FlagIssue] { issues.filter { !$0.isError } }
    /// The issues with `id`.
    func issues(_ id: String) -> [FlagIssue] { issues.filter { $0.id == id } }
    /// Everything, one line per issue (for failure messages).
    var dump: String {
        issues.map { "\($0.isError ? "E" : "W") \($0.id) @\($0.origin): \($0.message) \($0.notes)" }
            .joined(separator: "\n")
    }
}

/// The seed workflow's flag set (docs: seed-workflow.md) against the versions it meets.
@Suite struct SeedWorkflowTests {
    @Test func seedOnSGLang0519IsClean() throws {
        let r = try Fixture.check(Fixture.seedArgs, .sglang, "0.5.19", gpus: 8)
        #expect(r.errors.isEmpty, "\(r.dump)")
        #expect(r.flagSet["--cuda-graph-max-bs"] == .int(32))
        #expect(r.flagSet.values.count == 13)
    }

    @Test func seedOnSGLang0523ReportsRemovedCudaGraphMaxBs() throws {
        let r = try Fixture.check(Fixture.seedArgs, .sglang, "0.5.23", gpus: 8)
        #expect(r.errors.count == 1, "\(r.dump)")
        let removed = try #require(r.issues("removed-flag").first)
        #expect(removed.origin == 10)
        #expect(removed.message == "'--cuda-graph-max-bs' was removed in sglang 0.5.20 (last in 0.5.19); "
                + "use '--cuda-graph-max-bs-decode' or '--cuda-graph-max-bs-prefill'")
        #expect(removed.notes.joined().contains(#"--cuda-graph-config '{"decode":{"max_bs":N}}'"#))
        #expect(r.flagSet["--cuda-graph-max-bs"] == nil)
    }

    @Test func seedWithoutRemovedFlagHasNoErrorsOn0523() throws {
        let args = Fixture.seedArgs.filter { !$0.hasPrefix("--cuda-graph-max-bs") }
        let r = try Fixture.check(args, .sglang, "0.5.23", gpus: 8)
        #expect(r.errors.isEmpty, "\(r.dump)")
        #expect(r.warnings.isEmpty, "\(r.dump)")
        let set = r.flagSet
        #expect(set["--context-length"] == .int(1_000_000))
        #expect(set["--trust-remote-code"] == .bool(true))
        #expect(set["--speculative-algorithm"] == .string("DSPARK"))
        #expect(set["--mem-fraction-static"] == .float(0.85))
        #expect(set["--disable-overlap-schedule"] == .bool(true))
        #expect(set.values.count == 12)
    }

    @Test func seedReplacementWorks() throws {
        var args = Fixture.seedArgs
        args[10] = "--cuda-graph-max-bs-decode 32"
        let r = try Fixture.check(args, .sglang, "0.5.23", gpus: 8)
        #expect(r.issues.isEmpty, "\(r.dump)")
        #expect(r.flagSet["--cuda-graph-max-bs-decode"] == .int(32))
    }

    @Test func seedOnTooFewGPUsIsAPlacementError() throws {
        let r = try Fixture.check(Fixture.seedArgs, .sglang, "0.5.19", gpus: 4)
        let conflict = try #require(r.issues("flag-conflict").first { $0.isError }, "\(r.dump)")
        #expect(conflict.origin == 2)  // --tp-size 8
        #expect(conflict.message.contains("8"))
    }

    @Test func seedDSPARKLowercaseIsNormalised() throws {
        var args = Fixture.seedArgs
        args[6] = "--speculative-algorithm dspark"
        let r = try Fixture.check(args, .sglang, "0.5.19", gpus: 8)
        #expect(r.errors.isEmpty, "\(r.dump)")
        #expect(r.flagSet["--speculative-algorithm"] == .string("DSPARK"))
    }
}
