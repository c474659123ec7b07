import Foundation
import Testing
@testable import Engines

/// Loading, caching and looking up the bundled catalogs.
@Suite struct CatalogStoreTests {
    @Test func versionsAreListedOldestFirst() {
        let sglang = CatalogStore.versions(of: .sglang)
        #expect(sglang.count == 19)
        #expect(sglang.first == "0.5.5.post3")
        #expect(sglang.last == "0.5.23")
        #expect((sglang.firstIndex(of: "0.5.9") ?? 99) < (sglang.firstIndex(of: "0.5.10.post1") ?? -1))
        #expect(CatalogStore.versions(of: .vllm).count == 24)
        #expect(CatalogStore.versions(of: .vllm).first == "0.11.0" && CatalogStore.versions(of: .vllm).last == "0.34.0")
        #expect(CatalogStore.versions(of: .vllm).contains("0.19.1"))
        let llama = CatalogStore.versions(of: .llamaCpp)
        #expect(llama.count >= 10 && llama.contains("b6110") && llama.contains("b6325"))
    }

    /// Workers check against copies of their own (SpecValidator): a copy must be the same catalog and
    /// share no storage with it (shared storage is what made two threads contend).
    @Test(arguments: EngineKind.allCases)
    func anIsolatedCopyIsEqualAndSharesNoStorage(engine: EngineKind) throws {
        let version = try #require(CatalogStore.versions(of: engine).last)
        let c = try CatalogStore.catalog(engine, version: version)
        let copy = c.isolatedCopy()
        #expect(copy.flags == c.flags)
        #expect(copy.speculativeAlgorithms == c.speculativeAlgorithms && copy.parser == c.parser)
        #expect(copy.engine == c.engine && copy.version == c.version)
        for spelled in c.allNames { #expect(copy.match(spelled) == c.match(spelled)) }
        func storage(_ s: String) -> UnsafeRawPointer? {
            s.utf8.withContiguousStorageIfAvailable { UnsafeRawPointer($0.baseAddress) } ?? nil
        }
        var compared = 0
        for (a, b) in zip(c.flags, copy.flags) {
            for (x, y) in zip([a.name, a.help] + a.aliases + a.choices, [b.name, b.help] + b.aliases + b.choices)
            where x.utf8.count > 15 {  // longer strings have storage; shorter ones are stored inline
                #expect(storage(x) != storage(y), "\(x) is shared")
                compared += 1
            }
            a.choices.withUnsafeBufferPointer { p in
                b.choices.withUnsafeBufferPointer { q in
                    if !a.choices.isEmpty { #expect(p.baseAddress != q.baseAddress) }
                }
            }
        }
        #expect(compared > 100)
    }

    @Test(arguments: EngineKind.allCases)
    func everyBundledCatalogLoads(engine: EngineKind) throws {
        for v in CatalogStore.versions(of: engine) {
            let c = try CatalogStore.catalog(engine, version: v)
            #expect(c.engine == engine)
            #expect(c.version == v)
            #expect(c.flags.count > (engine == .sglangRouter ? 90 : 100))  // sglang-router 0.3.2: 98
            #expect(c.flags.map(\.name) == c.flags.map(\.name).sorted())
        }
    }

    @Test func sglang0523Contents() throws {
        let c = try Fixture.catalog()
        #expect(c.flags.count == 531)
        #expect(c.speculativeAlgorithms.contains("DSPARK"))
        let tp = try #require(c.spec(named: "--tensor-parallel-size"))
        #expect(tp.name == "--tp-size")
        #expect(tp.valueType == .int && tp.arity == .one && tp.field == "tp_size")
        #expect(tp.defaultValue == .number(1))
        let ctx = try #require(c.spec(named: "--context-length"))
        #expect(ctx.acceptsSuffix && ctx.suffixStyle == .siIEC)
        let algo = try #require(c.spec(named: "--speculative-algorithm"))
        #expect(algo.choices.isEmpty && algo.caseInsensitiveValues && algo.validValues.contains("DSPARK"))
        #expect(c.spec(named: "--enable-dp-attention")?.deprecated?.contains("--attn-dp-size") == true)
        #expect(c.spec(named: "--json-model-override-args")?.valueType == .json)
        #expect(c.spec(named: "--cuda-graph-max-bs") == nil)
        #expect(c.allNames.contains("--ep"))
    }

    @Test func prefixMatches() throws {
        let c = try Fixture.catalog()
        #expect(c.prefixMatches("--tp") == ["--tp-size"])
        #expect(c.prefixMatches("--cuda-graph-max-bs").count == 2)
        #expect(c.prefixMatches("-t").isEmpty)
    }

    @Test func vllmSpellings() throws {
        let c = try Fixture.catalog(.vllm, "0.33.0")
        #expect(c.spec(named: "--tensor_parallel_size")?.name == "--tensor-parallel-size")
        #expect(c.spec(named: "-tp")?.name == "--tensor-parallel-size")
        let neg = try #require(c.match("--no-enable-prefix-caching"))
        #expect(neg.negative && neg.spec.name == "--enable-prefix-caching")
        #expect(c.match("--disable-prefix-caching")?.negative == true)
        #expect(c.parser.dashOTarget == "--optimization-level")
    }

    /// Generated from llama.cpp's own argument table (common/arg.cpp) of build b5904.
    @Test func llamaCppCatalogFollowsArgCpp() throws {
        let c = try Fixture.catalog(.llamaCpp, "b5904")
        for (short, long) in [("-m", "--model"), ("-c", "--ctx-size"), ("-np", "--parallel"), ("-t", "--threads"),
                              ("-ngl", "--gpu-layers"), ("--n-gpu-layers", "--gpu-layers"), ("-a", "--alias"), ("-fa", "--flash-attn"),
                              ("-ctk", "--cache-type-k"), ("-ctv", "--cache-type-v"), ("-n", "--predict"),
                              ("-s", "--seed"), ("-to", "--timeout"), ("-v", "--verbose"), ("-dev", "--device"),
                              ("-sm", "--split-mode"), ("-ts", "--tensor-split"), ("-mg", "--main-gpu"),
                              ("-b", "--batch-size"), ("-ub", "--ubatch-size"), ("--rerank", "--reranking")] {
            #expect(c.spec(named: short)?.name == long, "\(short)")
        }
        // b5904 registers -nocb/--no-cont-batching as an option of its own
        #expect(c.spec(named: "-nocb")?.name == "--no-cont-batching")
        #expect(c.spec(named: "--cache-type-k")?.choices.contains("q8_0") == true)
        #expect(!c.parser.allowsAbbreviations)
    }

    @Test func unknownVersionListsKnownOnesAndSuggests() throws {
        #expect(throws: CatalogError.self) { try CatalogStore.catalog(.sglang, version: "0.5.24") }
        do {
            _ = try CatalogStore.catalog(.sglang, version: "0.5.24")
        } catch {
            guard case let .unknownVersion(engine, version, known, suggestion) = error else {
                Issue.record("wrong error \(error)")
                return
            }
            #expect(engine == .sglang && version == "0.5.24" && known.count == 19)
            #expect(suggestion == "0.5.23")
            #expect(error.description.contains("did you mean '0.5.23'?"))
            #expect(error.description.contains("0.5.5.post3, "))
        }
        #expect(CatalogStore.nearestVersion(to: "0.5.10", of: .sglang) == "0.5.10.post1")
        #expect(CatalogStore.nearestVersion(to: "0.33", of: .vllm) == "0.33.0")
        #expect(CatalogStore.nearestVersion(to: "0.5.19", of: .sglang) == "0.5.19")
        #expect(CatalogStore.nearestVersion(to: "9.9.9", of: .sglang) == "0.5.23")
    }

    @Test func removalAndIntroductionAreVersionAware() throws {
        let c19 = try Fixture.catalog(.sglang, "0.5.19"), c20 = try Fixture.catalog(.sglang, "0.5.20")
        #expect(c19.removal(of: "--cuda-graph-max-bs") == nil)
        let r = try #require(c20.removal(of: "--cuda-graph-max-bs"))
        #expect(r.removedIn == "0.5.20" && r.lastSeen == "0.5.19" && !r.approximate)
        #expect(r.replacements == ["--cuda-graph-max-bs-decode", "--cuda-graph-max-bs-prefill"])
        #expect(r.note?.contains("--cuda-graph-config") == true)
        // A replacement that was itself removed later is followed to what this version has.
        let c23 = try Fixture.catalog()
        #expect(c23.removal(of: "--enable-piecewise-cuda-graph")?.replacements == ["--cuda-graph-backend-prefill"])
        #expect(c19.introduction(of: "--attn-dp-size")?.firstSeen == "0.5.22")
        #expect(c23.introduction(of: "--attn-dp-size") == nil)
        let v11 = try Fixture.catalog(.vllm, "0.11.0")
        #expect(v11.introduction(of: "--optimization-level")?.approximate == true)
    }

    @Test func extensionAddsValuesAndFlags() throws {
        let ext = CatalogExtension(extraValues: ["--speculative-algorithm": ["MYSPEC"],
                                                 "--moe-runner-backend": ["my_runner"], "--nope": ["x"]],
                                   extraFlags: [FlagSpec(name: "--my-knob", aliases: ["-k"], valueType: .int)])
        let c = try Fixture.catalog().extended(with: ext)
        #expect(c.spec(named: "--speculative-algorithm")?.validValues.last == "MYSPEC")
        #expect(c.speculativeAlgorithms.contains("MYSPEC"))
        #expect(c.spec(named: "--moe-runner-backend")?.choices.contains("my_runner") == true)
        #expect(c.spec(named: "-k")?.name == "--my-knob")
        #expect(try Fixture.catalog().spec(named: "--my-knob") == nil)
        #expect(!ext.isEmpty && CatalogExtension().isEmpty)
    }

    @Test func concurrentLoadsShareOneDecode() async throws {
        let store = CatalogStore()
        let counts = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<16 {
                group.addTask { try store.catalog(.sglang, version: i % 2 == 0 ? "0.5.23" : "0.5.19").flags.count }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(Set(counts).count == 2)
    }
}

/// `scripts/gen-catalogs.py` regenerates the bundled catalogs byte for byte.
@Suite struct CatalogGeneratorTests {
    /// The repository root (this file is Tests/EnginesTests/…; symlinks resolved).
    static let root = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// The generator's inputs, shipped in the repository (catalog-sources/SOURCES.md).
    static let sources = root.appendingPathComponent("catalog-sources")
    static let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// Runs on a clean clone: python3 is a build requirement (scripts/setup.sh), never a reason to skip.
    @Test func regeneratingGivesNoDiff() throws {
        let python = try #require(Self.python, "python3 is missing: run scripts/setup.sh")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("catalogs-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [Self.root.appendingPathComponent("scripts/gen-catalogs.py").path, Self.sources.path, out.path]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let bundled = Self.root.appendingPathComponent("Sources/Engines/Resources/catalogs")
        let fm = FileManager.default
        let generated = try fm.contentsOfDirectory(atPath: out.path).filter { $0.hasSuffix(".json") }.sorted()
        let committed = try fm.contentsOfDirectory(atPath: bundled.path).filter { $0.hasSuffix(".json") }.sorted()
        #expect(generated == committed)
        let versions = EngineKind.allCases.map { CatalogStore.versions(of: $0).count }.reduce(0, +)
        // Catalogs, the index, and one history per engine surveyed over several releases (one router release so far).
        #expect(generated.count == versions + 1 + EngineKind.allCases.filter { CatalogStore.versions(of: $0).count > 1 }.count)
        for name in generated {
            let a = fm.contents(atPath: out.appendingPathComponent(name).path)
            let b = fm.contents(atPath: bundled.appendingPathComponent(name).path)
            #expect(a == b, "\(name) differs from the bundled copy: run scripts/gen-catalogs.py")
        }
    }
}
