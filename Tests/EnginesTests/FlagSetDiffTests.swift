import Foundation
import Testing
@testable import Engines
import DeployCore

/// Canonical flag sets, their diff, and the property that respelling never changes them.
@Suite struct FlagSetDiffTests {
    @Test func diffKindsAndEffectiveness() throws {
        let catalog = try Fixture.catalog()
        let a = try Fixture.check(["--tp-size 1", "--mem-fraction-static 0.85", "--trust-remote-code"]).flagSet
        let b = try Fixture.check(["--mem-fraction-static 0.9", "--disable-overlap-schedule", "--trust-remote-code"]).flagSet
        let d = FlagSet.diff(from: a, to: b, catalog: catalog)
        #expect(d.map(\.name) == ["--disable-overlap-schedule", "--mem-fraction-static", "--tp-size"])
        #expect(d.map(\.kind) == [.added, .changed, .removed])
        #expect(d[0].effective && d[1].effective)
        #expect(!d[2].effective)  // --tp-size 1 is the default
        #expect(d[1].before == .float(0.85) && d[1].after == .float(0.9))
        #expect(FlagSet.diff(from: a, to: b).allSatisfy { $0.effective })  // without a catalog nothing is known
        #expect(FlagSet.diff(from: a, to: a, catalog: catalog).isEmpty)
    }

    @Test func codableAndArgv() throws {
        let catalog = try Fixture.catalog(.vllm, "0.33.0")
        let set = try Fixture.check(["-tp 2", "--no-enable-prefix-caching", "--served-model-name a b",
                                     #"--hf-overrides {"x": 1}"#], .vllm, "0.33.0").flagSet
        let data = try JSONEncoder().encode(set)
        #expect(try JSONDecoder().decode(FlagSet.self, from: data) == set)
        #expect(set.argv(catalog: catalog) == ["--disable-prefix-caching", "--hf-overrides", #"{"x":1}"#,
                                               "--served-model-name", "a", "b", "--tensor-parallel-size", "2"])
    }

    // MARK: - Property: respelling is invisible, a real change is exactly one change

    /// One flag of the base set: its spellings, value respellings, and a different value.
    struct Item {
        var spellings: [String]
        var values: [String]  // equivalent spellings of the value; empty: presence flag
        var changed: String?  // a genuinely different value (nil: drop the flag instead)
    }

    static let items: [Item] = [
        Item(spellings: ["--context-length"], values: ["1000000", "1_000_000", "1000k", "1M", "01000000"], changed: "1Mi"),
        Item(spellings: ["--trust-remote-code"], values: [], changed: nil),
        Item(spellings: ["--tp-size", "--tensor-parallel-size"], values: ["8", "08", "+8", " 8"], changed: "16"),
        Item(spellings: ["--ep-size", "--ep", "--expert-parallel-size"], values: ["8", "0008"], changed: "2"),
        Item(spellings: ["--moe-runner-backend"], values: ["flashinfer_mxfp4", "'flashinfer_mxfp4'"], changed: "triton"),
        Item(spellings: ["--speculative-algorithm"], values: ["DSPARK", "dspark", "DSpark", "\"dSPARK\""], changed: "EAGLE"),
        Item(spellings: ["--speculative-eagle-topk"], values: ["1", "01"], changed: "2"),
        Item(spellings: ["--speculative-num-steps"], values: ["1", "0_1"], changed: "3"),
        Item(spellings: ["--mem-fraction-static"], values: ["0.85", ".85", "0.850", "8.5e-1", "85e-2", "+0.85"],
             changed: "0.86"),
        Item(spellings: ["--max-running-requests"], values: ["32", "032", "3_2"], changed: "33"),
        Item(spellings: ["--disable-overlap-schedule"], values: [], changed: nil),
        Item(spellings: ["--json-model-override-args"],
             values: [#"{"a": 1, "b": [1, 2], "c": {"x": true}}"#, #"{"c":{"x":true},"b":[1,2],"a":1}"#,
                      #"{ "b" : [ 1 , 2 ] , "a" : 1.0 , "c" : { "x" : true } }"#,
                      #"'{"a":1,"c":{"x":true},"b":[1,2]}'"#],
             changed: #"{"a": 1, "b": [2, 1], "c": {"x": true}}"#),
        Item(spellings: ["--cuda-graph-bs-decode"], values: ["1 2 4", "1  2   4", "01 2 4", "'1' 2 4"], changed: "1 2 8"),
        Item(spellings: ["--served-model-name"], values: ["dsv4", "'dsv4'"], changed: "dsv4-flash"),
    ]

    /// A deterministic generator.
    typealias SeededGenerator = SplitMix64

    /// Entries for the items, each spelled randomly (alias, `=` or spaces, value respelling), shuffled.
    static func entries(_ items: [Item], rng: inout SeededGenerator, change: Int? = nil) -> [String] {
        var out: [String] = []
        for (i, item) in items.enumerated() {
            if i == change, item.changed == nil { continue }  // the change is "drop this presence flag"
            let flag = item.spellings.randomElement(using: &rng) ?? item.spellings[0]
            guard var value = item.values.randomElement(using: &rng) else { out.append(flag); continue }
            if i == change, let c = item.changed { value = c }
            let list = item.spellings[0] == "--cuda-graph-bs-decode"
            let sep = (!list && Bool.random(using: &rng)) ? "=" : String(repeating: " ", count: Int.random(in: 1...3, using: &rng))
            out.append(flag + sep + value)
        }
        return out.shuffled(using: &rng)
    }

    @Test func respellingNeverChangesTheSet() throws {
        let catalog = try Fixture.catalog()
        let checker = FlagChecker(catalog: catalog)
        let baseEntries = Self.items.map { $0.values.isEmpty ? $0.spellings[0] : "\($0.spellings[0]) \($0.values[0])" }
        let base = checker.check(Fixture.groups(baseEntries))
        #expect(base.errors.isEmpty, "\(base.dump)")
        #expect(base.flagSet.values.count == Self.items.count)
        var rng = SeededGenerator(seed: 20_261_129)
        for n in 0..<300 {
            let entries = Self.entries(Self.items, rng: &rng)
            let r = checker.check(Fixture.groups(entries))
            #expect(r.errors.isEmpty, "case \(n): \(entries)\n\(r.dump)")
            let d = FlagSet.diff(from: base.flagSet, to: r.flagSet, catalog: catalog)
            #expect(d.isEmpty, "case \(n): \(entries) → \(d)")
            if !d.isEmpty || !r.errors.isEmpty { break }
        }
    }

    @Test func aRealChangeIsExactlyOneChange() throws {
        let catalog = try Fixture.catalog()
        let checker = FlagChecker(catalog: catalog)
        let baseEntries = Self.items.map { $0.values.isEmpty ? $0.spellings[0] : "\($0.spellings[0]) \($0.values[0])" }
        let base = checker.check(Fixture.groups(baseEntries)).flagSet
        var rng = SeededGenerator(seed: 42)
        for n in 0..<300 {
            let which = Int.random(in: 0..<Self.items.count, using: &rng)
            let entries = Self.entries(Self.items, rng: &rng, change: which)
            let r = checker.check(Fixture.groups(entries))
            let d = FlagSet.diff(from: base, to: r.flagSet, catalog: catalog)
            #expect(r.errors.isEmpty && d.count == 1 && d.first?.name == Self.items[which].spellings[0],
                    "case \(n): \(entries) → \(d)\n\(r.dump)")
            if d.count != 1 { break }
            #expect(d[0].kind == (Self.items[which].changed == nil ? .removed : .changed))
        }
    }
}
