import DeployCore
import DeploySpec
import Engines
import Foundation
import Testing
import Yams

/// Real launch commands (Tests/Fixtures/launch-commands/*.yaml: SGLang docs and cookbook, vLLM recipes,
/// llama.cpp's server README, issue threads; each entry cites its source and the version it names),
/// put into a manifest as a user of that image would write it, must be judged as the real engine
/// judges them: a working command validates (warnings allowed); a failing one fails on the flag the
/// engine named.
@Suite struct LaunchCommandCorpusTests {
    struct Entry: Sendable, CustomStringConvertible {
        var engine: EngineKind
        var id: String
        var source: String
        var version: String?
        var image: String?
        var args: [String]
        var expectOK: Bool
        var flag: String?
        var description: String { "\(id) (\(engine) \(version ?? image ?? "newest"); \(source))" }
    }

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/launch-commands")

    static func load() throws -> [Entry] {
        var out: [Entry] = []
        for (file, engine) in [("sglang", EngineKind.sglang), ("vllm", .vllm), ("llama.cpp", .llamaCpp)] {
            let text = try String(contentsOf: directory.appendingPathComponent("\(file).yaml"), encoding: .utf8)
            guard let list = try Yams.load(yaml: text) as? [[String: Any]] else {
                throw CorpusError("\(file).yaml is not a list of entries")
            }
            for e in list {
                func str(_ k: String) -> String? {
                    if let s = e[k] as? String { return s }
                    if let d = e[k] as? Double { return String(d) }
                    if let i = e[k] as? Int { return String(i) }
                    return nil
                }
                guard let id = str("id"), let source = str("source"), let expect = str("expect"),
                      let args = e["args"] as? [Any] else { throw CorpusError("\(file).yaml: incomplete entry \(e)") }
                out.append(Entry(engine: engine, id: id, source: source, version: str("version"), image: str("image"),
                                 args: args.map { "\($0)" }, expectOK: expect == "ok", flag: str("flag")))
            }
        }
        return out
    }

    struct CorpusError: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    static func defaultImage(_ e: EngineKind) -> String {
        switch e {
        case .sglang, .sglangRouter: return "lmsysorg/sglang:latest"
        case .vllm: return "vllm/vllm-openai:latest"
        case .llamaCpp: return "ghcr.io/ggml-org/llama.cpp:server"
        }
    }

    /// The manifest a user of the entry's image would write, and the line of each args item.
    static func manifest(_ e: Entry) -> (String, [Int]) {
        func q(_ s: String) -> String {
            let data = try? JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])
            let arr = data.map { String(decoding: $0, as: UTF8.self) } ?? "[\"\"]"
            return String(arr.dropFirst().dropLast())
        }
        var lines = [
            "apiVersion: dsdeploy/v1", "kind: Backend", "metadata: {name: corpus}", "spec:",
            "  engine: \(e.engine.rawValue)", "  versions:", "    v:",
            "      image: \(q(e.image ?? defaultImage(e.engine)))",
        ]
        if let v = e.version { lines.append("      engineVersion: \(q(v))") }
        lines += ["---", "apiVersion: dsdeploy/v1", "kind: Deployment", "metadata: {name: corpus}", "spec:",
                  "  model: {source: huggingface, id: corpus/model}", "  backend: corpus", "  backendVersion: v",
                  "  args:"]
        var argLines: [Int] = []
        for a in e.args {
            lines.append("    - \(q(a))")
            argLines.append(lines.count)
        }
        return (lines.joined(separator: "\n") + "\n", argLines)
    }

    @Test func corpusIsLargeAndCited() throws {
        let entries = try Self.load()
        #expect(entries.count >= 60)
        // Launch commands of the serving engines (the router is not launched by a user's command here).
        for engine in EngineKind.allCases where engine != .sglangRouter { #expect(entries.filter { $0.engine == engine }.count >= 15, "\(engine)") }
        #expect(entries.filter { !$0.expectOK }.count >= 15)
        #expect(Set(entries.map(\.id)).count == entries.count, "ids are unique")
        for e in entries {
            #expect(e.source.hasPrefix("https://"), "\(e.id) cites a source")
            if !e.expectOK { #expect(e.flag != nil, "\(e.id) names the flag the engine failed on") }
        }
    }

    @Test func eachCommandIsJudgedAsTheEngineJudgesIt() throws {
        let entries = try Self.load()
        var wrong: [String] = []
        var tally: [EngineKind: (right: Int, total: Int)] = [:]
        var predating: [String] = []
        for e in entries {
            let (yaml, argLines) = Self.manifest(e)
            let r = validate(yaml, file: "\(e.id).yaml")
            let errors = r.diagnostics.filter { $0.severity == .error }
            var verdict: String?
            let requested = e.version ?? e.image.flatMap { ImageTag.engineVersion(image: $0, engine: e.engine) }
            if let v = requested, VersionResolution.resolve(v, engine: e.engine,
                                                            known: CatalogStore.versions(of: e.engine))?.match == .oldest {
                // Older than every surveyed catalog: dsdeploy cannot know that version's flags. It must say
                // so; its verdict on such a command is not counted either way.
                if !r.diagnostics.contains(where: { $0.id == "engine-version" && $0.severity == .warning
                    && $0.message.contains("older than the oldest") }) {
                    wrong.append("\(e): no warning that \(v) predates the surveyed catalogs")
                }
                predating.append(e.id)
                continue
            }
            if e.expectOK {
                if !errors.isEmpty { verdict = "refused a working command: " + errors.map { "\($0.location?.line ?? 0): \($0.message)" }.joined(separator: " | ") }
            } else if let flag = e.flag {
                // the engine named `flag`: an error must point at the args item that spells it
                let lines = Set(zip(e.args, argLines).filter { a, _ in
                    let first = a.split(separator: " ").first.map(String.init) ?? a
                    return first == flag || first.hasPrefix(flag + "=") || first.hasPrefix(flag + ".")
                }.map(\.1))
                if lines.isEmpty { verdict = "fixture names flag \(flag), which no args item spells" }
                else if !errors.contains(where: { lines.contains($0.location?.line ?? -1) }) {
                    verdict = "accepted a failing command (engine fails on \(flag)); got: "
                        + (errors.isEmpty ? "no error" : errors.map(\.message).joined(separator: " | "))
                }
            }
            var t = tally[e.engine] ?? (0, 0)
            t.total += 1
            if let verdict { wrong.append("\(e): \(verdict)") } else { t.right += 1 }
            tally[e.engine] = t
        }
        let summary = EngineKind.allCases.map { "\($0): \(tally[$0]?.right ?? 0)/\(tally[$0]?.total ?? 0)" }
        print("launch-command corpus judged as the engine does: " + summary.joined(separator: ", ")
              + "; older than every surveyed catalog (warned, not judged): \(predating.count) \(predating)")
        #expect(wrong.isEmpty, "\(wrong.count) misjudged:\n\(wrong.joined(separator: "\n"))")
    }
}
