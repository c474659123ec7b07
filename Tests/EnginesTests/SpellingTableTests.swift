import Testing
@testable import Engines

/// The catalog's spelling table answers exactly as the dictionary it replaced for lookups.
@Suite struct SpellingTableTests {
    @Test func everySpellingOfEveryCatalogResolvesAsTheDictionary() throws {
        for (engine, version) in [(EngineKind.sglang, "0.5.23"), (.vllm, "0.34.0"), (.llamaCpp, nil as String?)] {
            let catalog = try CatalogStore.catalog(engine, version: version ?? CatalogStore.versions(of: engine).last!)
            var expected: [String: (Int, Bool)] = [:]
            for (i, f) in catalog.flags.enumerated() {
                for n in [f.name] + f.aliases where expected[n] == nil { expected[n] = (i, false) }
                for n in f.negativeNames where expected[n] == nil { expected[n] = (i, true) }
            }
            #expect(!expected.isEmpty)
            for (name, hit) in expected {
                let got = catalog.lookup(name)
                #expect(got?.0 == hit.0 && got?.1 == hit.1, "\(engine) \(name)")
            }
            // Near misses, prefixes, longer names, the empty string and non-ASCII miss.
            for name in expected.keys.prefix(200) {
                for miss in [name + "x", String(name.dropLast()), name.uppercased(), name + "é"]
                where expected[miss] == nil && expected[catalog.normalized(miss)] == nil {
                    #expect(catalog.lookup(miss) == nil, "\(engine) \(miss)")
                }
            }
            #expect(catalog.lookup("") == nil)
        }
    }

    @Test func hashReadsEveryByte() {
        // Names differing only in one byte, at every position and length up to 40, hash apart.
        for length in 1...40 {
            let base = String(repeating: "a", count: length)
            var seen = Set<UInt64>([SpellingTable.hash(base)])
            for i in 0..<length {
                var bytes = Array(base.utf8)
                bytes[i] = UInt8(ascii: "b")
                seen.insert(SpellingTable.hash(String(decoding: bytes, as: UTF8.self)))
            }
            #expect(seen.count == length + 1, "length \(length)")
        }
    }

    @Test func collidingSlotsStillFindEachName() {
        // More names than the smallest table has slots: probing must find each, and miss the rest.
        let names = (0..<100).map { "--flag-\($0)" }
        let table = SpellingTable(names.enumerated().map { (name: $0.element, index: $0.offset, negative: $0.offset % 2 == 1) })
        for (i, n) in names.enumerated() {
            let hit = table.find(n)
            #expect(hit?.0 == i && hit?.1 == (i % 2 == 1))
        }
        #expect(table.find("--flag-100") == nil)
        // A repeated spelling keeps its first entry.
        let dup = SpellingTable([(name: "--a", index: 1, negative: false), (name: "--a", index: 2, negative: true)])
        #expect(dup.find("--a")?.0 == 1)
    }
}
