import Bench
import EngineSim
import Foundation
import Testing

/// `--dataset-name sharegpt | prompts | random-ids`: parsing, sampling, located errors, and one run
/// of each file dataset against the in-process simulator.
@Suite final class DatasetTests {
    private let dir: String

    init() throws {
        dir = NSTemporaryDirectory() + "dsdeploy-dataset-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: dir) }

    private func file(_ name: String, _ text: String) throws -> String {
        let path = dir + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func config(_ name: BenchDatasetName, path: String?, numPrompts: Int = 10, seed: UInt64 = 42) -> BenchConfig {
        var c = BenchConfig(baseURL: "http://127.0.0.1:1")
        c.dataset = BenchDataset(name: name, path: path)
        c.numPrompts = numPrompts
        c.seed = seed
        return c
    }

    private func expectError(_ c: BenchConfig, contains parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        do {
            let r = try BenchWorkload.requests(for: c)
            Issue.record("expected a DatasetError, got \(r.count) requests")
        } catch {
            for p in parts { #expect(error.description.contains(p), "\(error.description) lacks \(p)") }
        }
    }

    /// A ShareGPT file: `n` conversations with 40-byte prompts (10 estimated tokens) and replies of
    /// 4 × (i + 2) bytes, plus the shapes bench_serving skips.
    private func sharegptFile(_ n: Int) throws -> String {
        var entries: [[String: Any]] = []
        for i in 0..<n {
            let prompt = String(format: "question %03d ", i) + String(repeating: "q", count: 27)
            entries.append(["id": "c\(i)", "conversations": [
                ["from": "human", "value": prompt],
                ["from": "gpt", "value": String(repeating: "r", count: 4 * (i + 2))],
                ["from": "human", "value": "follow-up that is never used"],
            ]])
        }
        entries.append(["id": "one-turn", "conversations": [["from": "human", "value": "alone"]]])
        entries.append(["id": "empty", "conversations": []])
        entries.append(["id": "tiny", "conversations": [["from": "human", "value": "hi"], ["from": "gpt", "value": "yo"]]])
        entries.append(["id": "system-first", "conversation": [
            ["from": "system", "value": "you are terse"], ["from": "human", "value": "sys prompt question, forty bytes long.."],
            ["from": "gpt", "value": String(repeating: "s", count: 400)],
        ]])
        let data = try JSONSerialization.data(withJSONObject: entries, options: [.prettyPrinted])
        return try file("sharegpt.json", String(decoding: data, as: UTF8.self))
    }

    @Test func shareGPTParsesLikeBenchServing() throws {
        let path = try sharegptFile(20)
        let conversations = try ShareGPTDataset.load(path: path)
        // 20 + "tiny" + "system-first"; the one-turn and empty entries are skipped.
        #expect(conversations.count == 22)
        #expect(conversations[0].reply == String(repeating: "r", count: 8))
        #expect(conversations.contains { $0.prompt.hasPrefix("sys prompt") && $0.reply.count == 400 }, "the first human turn, not the system turn, is the prompt")
        // Sampling: the tiny conversation (1 estimated token each side) is pruned; 21 remain.
        var c = config(.sharegpt, path: path, numPrompts: 100)
        let all = try BenchWorkload.requests(for: c)
        #expect(all.count == 21)
        #expect(!(all.contains { $0.text == "hi" }))
        for r in all {
            #expect(r.tokenIDs.isEmpty)
            #expect(r.inputLength == TokenEstimate.tokens(r.text))
        }
        let byPrompt = Dictionary(all.map { ($0.text, $0.outputLength) }, uniquingKeysWith: { a, _ in a })
        #expect(byPrompt[String(format: "question %03d ", 5) + String(repeating: "q", count: 27)] == 7)  // 28 bytes / 4
        // Seeded and deterministic; another seed gives another order of the same set.
        c.numPrompts = 10
        let a = try BenchWorkload.requests(for: c), b = try BenchWorkload.requests(for: c)
        #expect(a == b)
        #expect(a.count == 10)
        c.seed = 7
        let other = try BenchWorkload.requests(for: c)
        #expect(a.map(\.text) != other.map(\.text))
        // --sharegpt-output-len fixes every output; --sharegpt-context-len drops long conversations.
        c.dataset.sharegptOutputLength = 16
        c.numPrompts = 100
        #expect(Set(try BenchWorkload.requests(for: c).map(\.outputLength)) == [16])
        c.dataset.sharegptOutputLength = nil
        c.dataset.sharegptContextLength = 20  // prompt 10 + output ≤ 10: replies of ≤ 40 bytes, i ≤ 8
        let short = try BenchWorkload.requests(for: c)
        #expect(short.count == 9)
        #expect(short.allSatisfy { $0.inputLength + $0.outputLength <= 20 })
    }

    @Test func shareGPTErrorsAreLocated() throws {
        expectError(config(.sharegpt, path: dir + "/missing.json"), contains: ["missing.json", "no such file"])
        expectError(config(.sharegpt, path: nil), contains: ["--dataset-path"])
        expectError(config(.sharegpt, path: dir), contains: ["is a directory"])
        let garbled = try file("garbled.json", "[\n  {\"conversations\": [\n    {\"from\": \"human\", \"value\": oops}\n")
        expectError(config(.sharegpt, path: garbled), contains: ["garbled.json:3:", "invalid JSON"])
        let truncated = try file("truncated.json", "[{\"conversations\": []},\n")
        expectError(config(.sharegpt, path: truncated), contains: ["truncated.json:2:", "invalid JSON"])
        expectError(config(.sharegpt, path: try file("empty.json", "")), contains: ["empty.json", "empty file"])
        let notArray = try file("result.json", "{\"backend\": \"sglang\", \"completed\": 3}")
        expectError(config(.sharegpt, path: notArray), contains: ["result.json", "top level must be a JSON array"])
        let badEntry = try file("bad-entry.json", "[{\"conversations\": []}, 42]")
        expectError(config(.sharegpt, path: badEntry), contains: ["bad-entry.json:entry 1:", "expected an object"])
        let badTurn = try file("bad-turn.json", "[{\"conversations\": [{\"from\": \"human\", \"value\": 1}, {\"value\": \"x\"}]}]")
        expectError(config(.sharegpt, path: badTurn), contains: ["bad-turn.json:entry 0, turn 0:", "string \"value\""])
        let noKey = try file("no-key.json", "[{\"turns\": []}]")
        expectError(config(.sharegpt, path: noKey), contains: ["no-key.json:entry 0:", "missing \"conversations\""])
    }

    @Test func promptsFileTextAndJSONLines() throws {
        let text = try file("prompts.txt", "first prompt\n\n  \nsecond prompt\r\nthird prompt")
        var c = config(.prompts, path: text, numPrompts: 7)
        c.dataset.promptsOutputLength = 32
        let r = try BenchWorkload.requests(for: c)
        #expect(r.map(\.text) == ["first prompt", "second prompt", "third prompt", "first prompt", "second prompt",
                                       "third prompt", "first prompt"])
        #expect(Set(r.map(\.outputLength)) == [32])
        #expect(r[0].inputLength == 3)  // 12 bytes / 4
        let jsonl = try file("prompts.jsonl", "{\"prompt\": \"a b c d\", \"output_len\": 5}\n\n{\"prompt\": \"plain\"}\n")
        c = config(.prompts, path: jsonl, numPrompts: 2)
        #expect(try BenchWorkload.requests(for: c).map(\.outputLength) == [5, 256])
        // Errors name the file and line.
        let bad = try file("bad.jsonl", "{\"prompt\": \"ok\"}\n{\"prompt\": \"x\", \"output_len\": \"many\"}\n")
        expectError(config(.prompts, path: bad), contains: ["bad.jsonl:2:", "\"output_len\" must be a positive integer"])
        let broken = try file("broken.jsonl", "{\"prompt\": \"ok\"}\n\n{\"prompt\": \"x\"\n")
        expectError(config(.prompts, path: broken), contains: ["broken.jsonl:3:", "invalid JSON"])
        let noPrompt = try file("noprompt.jsonl", "{\"text\": \"x\"}\n")
        expectError(config(.prompts, path: noPrompt), contains: ["noprompt.jsonl:1:", "missing \"prompt\""])
        let zero = try file("zero.jsonl", "{\"prompt\": \"x\", \"output_len\": 0}\n")
        expectError(config(.prompts, path: zero), contains: ["zero.jsonl:1:", "positive integer"])
        expectError(config(.prompts, path: try file("blank.txt", "\n \n")), contains: ["blank.txt", "no prompts"])
        let binary = dir + "/binary.txt"
        try Data([0xFF, 0xFE, 0x00, 0x41]).write(to: URL(fileURLWithPath: binary))
        expectError(config(.prompts, path: binary), contains: ["binary.txt", "not UTF-8"])
    }

    @Test func randomIDsIsRandom() throws {
        var c = config(.random, path: nil, numPrompts: 20)
        c.randomInputLength = 50
        c.randomOutputLength = 10
        c.randomRangeRatio = 0.5
        let random = try BenchWorkload.requests(for: c)
        c.dataset.name = .randomIDs
        #expect(try BenchWorkload.requests(for: c) == random)
        #expect(random.count == 20)
        #expect(random.allSatisfy { $0.tokenIDs.count == $0.inputLength })
    }

    // MARK: against the in-process simulator

    /// ShareGPT through the OpenAI completions API and a prompts file through SGLang's /generate
    /// (sent as `text`): every request completes, output tokens are what was asked, prompt tokens
    /// are the server's count, ITL is measured (how close it comes to the decode step: benchmarks/timing.sh).
    @Test func fileDatasetsAgainstSimulator() async throws {
        let sim = try await startSimulator(TimingModel(ttftBaseMs: 20, ttftPer1kInputMs: 0, decodeStepMs: 5, acceptLength: 1))

        var c = BenchConfig(baseURL: sim.baseURL)
        c.backend = .openai
        c.model = "sim/test-model"
        c.dataset = BenchDataset(name: .sharegpt, path: try sharegptFile(12))
        c.numPrompts = 8
        c.maxConcurrency = 4
        let expected = try BenchWorkload.requests(for: c)
        let shareGPT = try await BenchRunner(config: c).run()

        var p = BenchConfig(baseURL: sim.baseURL)
        p.backend = .sglang
        p.dataset = BenchDataset(name: .prompts, path: try file("p.jsonl", "{\"prompt\": \"one two three four five\", \"output_len\": 6}\n"
                                                               + "{\"prompt\": \"six seven\", \"output_len\": 9}\n"))
        p.numPrompts = 4
        p.maxConcurrency = 2
        let prompts = try await BenchRunner(config: p).run()
        await sim.shutdown()

        let m = shareGPT.metrics
        #expect(m.completed == 8, "\(m.failureReasons)")
        #expect(shareGPT.outputs.map(\.outputLength) == expected.map(\.outputLength))
        #expect(m.totalInput == expected.map { SimTokens.count(text: $0.text) }.reduce(0, +))
        #expect(m.itl.median > 0)
        #expect(BenchReport.jsonObject(shareGPT, details: false)["dataset_name"] as? String == "sharegpt")

        let q = prompts.metrics
        #expect(q.completed == 4, "\(q.failureReasons)")
        #expect(prompts.outputs.map(\.outputLength) == [6, 9, 6, 9])
        #expect(prompts.outputs.map(\.promptLength) == [6, 3, 6, 3])  // server's count: 23 and 9 bytes / 4
    }
}
