import Bench
import Foundation
import Testing

/// `StreamChunk.scan` must read exactly what the JSONSerialization-based code read before it.
@Suite struct StreamChunkTests {
    /// The reference: the fields as Foundation's parser sees them (the old code path).
    private func reference(_ text: String, _ backend: BenchBackend) -> StreamChunk? {
        guard let obj = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else { return nil }
        var c = StreamChunk()
        c.hasError = obj["error"] != nil
        func textFlag(_ v: Any?) -> Bool? {
            guard let v, !(v is NSNull) else { return nil }
            return (v as? String).map { !$0.isEmpty }
        }
        func counts(_ v: Any?) {
            guard let o = v as? [String: Any] else { return }
            c.completionTokens = (o["completion_tokens"] as? NSNumber).flatMap { Int(exactly: $0.doubleValue) }
            c.promptTokens = (o["prompt_tokens"] as? NSNumber).flatMap { Int(exactly: $0.doubleValue) }
        }
        switch backend {
        case .sglang:
            c.hasText = textFlag(obj["text"])
            counts(obj["meta_info"])
        case .openai, .openaiChat:
            counts(obj["usage"])
            if let first = (obj["choices"] as? [Any])?.first as? [String: Any] {
                c.hasText = backend == .openai ? textFlag(first["text"])
                    : textFlag((first["delta"] as? [String: Any])?["content"])
            }
        }
        return c
    }

    private func scan(_ text: String, _ backend: BenchBackend) -> StreamChunk? {
        var t = text
        return t.withUTF8 { StreamChunk.scan($0, backend: backend) }
    }

    @Test func agreesWithFoundation() {
        let cases: [(String, BenchBackend)] = [
            (#"{"id":"cmpl-1","object":"text_completion","choices":[{"index":0,"text":" the","logprobs":null,"finish_reason":null}]}"#, .openai),
            (#"{"choices":[{"index":0,"text":"","finish_reason":"length"}],"usage":{"prompt_tokens":12,"completion_tokens":64,"total_tokens":76}}"#, .openai),
            (#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5.0}}"#, .openai),
            (#"{"choices":[{"text":"a\"b\\c\u00e9\ud83d\ude00\n"},{"text":""}]}"#, .openai),
            (#"{"choices":[{"delta":{"role":"assistant","content":null}}]}"#, .openaiChat),
            (#"{"choices":[{"delta":{"content":"hi"}}],"usage":null}"#, .openaiChat),
            (#"{"choices":[{"delta":{"content":""}}]}"#, .openaiChat),
            (#"{"choices":[{"delta":"odd"}]}"#, .openaiChat),
            (#"{"text":"The quick","meta_info":{"id":"x","prompt_tokens":64,"completion_tokens":2,"cached_tokens":0,"spec":[1,2,{"a":[]}]}}"#, .sglang),
            (#"{"text":"","meta_info":{"completion_tokens":-0}}"#, .sglang),
            (#"{"error":{"message":"bad","code":400}}"#, .openai),
            (#"{"error":"plain"}"#, .sglang),
            (#"  {"nested":{"deep":[[[{"x":1e-3}]]]},"choices":[{"text":"x"}]}  "#, .openai),
            (#"{"choices":[{"text":"x"}],"t":true,"f":false,"n":null,"num":-12.5E+3}"#, .openai),
            (#"{"usage":{"completion_tokens":"7"}}"#, .openai),
        ]
        for (text, backend) in cases {
            let r = reference(text, backend)
            #expect(r != nil, "\(text)")
            #expect(scan(text, backend) == r, "\(text)")
        }
    }

    @Test func rejectsWhatFoundationRejects() {
        let bad = [
            "", "[DONE]", "[1,2]", "\"text\"", "{", "{\"a\":}", "{\"a\" 1}", "{\"a\":01}", "{\"a\":1.}",
            "{\"a\":tru}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12G4\"}", "{\"a\":\"unterminated}", "{\"a\":1} x",
            "{\"choices\":[{\"text\":\"x\"}]", "{\"a\":\"tab\there\"}", "{\"a\":-}", "{\"a\":1e}",
        ]
        for text in bad {
            #expect(reference(text, .openai) == nil, "Foundation accepts \(text)")
            #expect(scan(text, .openai) == nil, "\(text)")
        }
        // Deep nesting is refused rather than recursing without bound.
        let deep = "{\"a\":" + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + "}"
        #expect(scan(deep, .openai) == nil)
    }

    // MARK: StreamChunkReader

    private func read(_ reader: inout StreamChunkReader, _ text: String) -> StreamChunk? {
        var t = text
        return t.withUTF8 { reader.read($0) }
    }

    /// A vLLM 0.x completions stream (the chunk shape of vllm/entrypoints/openai/serving_completion.py:
    /// id, object, created, model, choices[index, text, logprobs, finish_reason, stop_reason], usage),
    /// an SGLang /generate stream whose meta_info changes every chunk, and a chat stream whose first
    /// chunk carries the role: each chunk is read as `scan` reads it, and chunks that differ only in
    /// their text are read by comparison.
    @Test func streamsReadAsScanReadsThem() {
        func vllm(_ text: String, finish: String = "null", usage: String = "null") -> String {
            #"{"id":"cmpl-8f2c","object":"text_completion","created":1733900000,"model":"Qwen/Qwen2.5-0.5B","choices":[{"index":0,"text":"\#(text)","logprobs":null,"finish_reason":\#(finish),"stop_reason":null}],"usage":\#(usage)}"#
        }
        let completions = [vllm(" The"), vllm(" quick"), vllm(" quick"), vllm(""), vllm(#"\\"#), vllm(#"\""#),
                           vllm(#"\u00e9 fox"#), vllm(" over", finish: "\"length\""),
                           vllm("", finish: "\"length\"", usage: #"{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}"#)]
        let sglang = (1...4).map { #"{"text":"t\#($0)","output_ids":[\#($0)],"meta_info":{"id":"a1","prompt_tokens":9,"completion_tokens":\#($0),"e2e_latency":0.0\#($0)}}"# }
        let chat = [#"{"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
                    #"{"id":"c","choices":[{"index":0,"delta":{"content":"Hi"}}]}"#,
                    #"{"id":"c","choices":[{"index":0,"delta":{"content":" there"}}]}"#,
                    #"{"id":"c","choices":[{"index":0,"delta":{"content":null}}]}"#,
                    #"{"id":"c","choices":[{"index":0,"delta":{"content":"again"}}]}"#]
        for (stream, backend, byComparison) in [(completions, BenchBackend.openai, 6), (sglang, .sglang, 0),
                                                (chat, .openaiChat, 1)] {
            var reader = StreamChunkReader(backend: backend)
            for chunk in stream {
                let want = scan(chunk, backend)
                #expect(want != nil, "\(chunk)")
                #expect(read(&reader, chunk) == want, "\(chunk)")
            }
            #expect(reader.incremental == byComparison, "\(backend)")
        }
    }

    /// Text that ends the string early, or escapes its closing quote, is caught: such chunks are read
    /// in full (and refused when they are not JSON), never taken from the previous chunk.
    @Test func textThatChangesTheStructureIsReadInFull() {
        let before = #"{"choices":[{"index":0,"text":"abc","logprobs":null}],"usage":null}"#
        let after: [(String, Int)] = [
            (#"{"choices":[{"index":0,"text":"a"c","logprobs":null}],"usage":null}"#, 0),  // a bare quote
            (#"{"choices":[{"index":0,"text":"ab\","logprobs":null}],"usage":null}"#, 0),  // escapes the quote
            (#"{"choices":[{"index":0,"text":"a\qc","logprobs":null}],"usage":null}"#, 0),  // a bad escape
            ("{\"choices\":[{\"index\":0,\"text\":\"a\nc\",\"logprobs\":null}],\"usage\":null}", 0),  // a raw newline
            (#"{"choices":[{"index":0,"text":"a","x":"c","logprobs":null}],"usage":null}"#, 0),  // a new member
            (#"{"choices":[{"index":0,"text":"","logprobs":null}],"usage":null}"#, 1),  // text, now empty
        ]
        for (chunk, byComparison) in after {
            var reader = StreamChunkReader(backend: .openai)
            #expect(read(&reader, before) != nil)
            #expect(read(&reader, chunk) == scan(chunk, .openai), "\(chunk)")
            #expect(reader.incremental == byComparison, "\(chunk)")
        }
    }

    /// A copy of a reader goes on from the same previous chunk without disturbing the original.
    @Test func aCopiedReaderKeepsItsOwnPreviousChunk() {
        let a = #"{"choices":[{"index":0,"text":"one"}],"usage":null}"#
        var original = StreamChunkReader(backend: .openai)
        #expect(read(&original, a) != nil)
        var copy = original
        #expect(read(&copy, #"{"choices":[{"index":0,"text":""}],"usage":null}"#)?.hasText == false)
        #expect(read(&original, #"{"choices":[{"index":0,"text":"two"}],"usage":null}"#)?.hasText == true)
        #expect(copy.incremental == 1 && original.incremental == 1)
    }

    /// Random edits of real-shaped chunks, in sequence: whatever the edit, the reader agrees with a
    /// full scan of the same bytes.
    @Test func randomEditsAgreeWithAFullScan() {
        var rng = SeededRandom(seed: 0x5EED_C0DE)  // a failure replays from its seed
        let base = Array(#"{"id":"cmpl-1","object":"text_completion","created":1,"choices":[{"index":0,"text":" the fox","logprobs":null,"finish_reason":null}],"usage":null}"#.utf8)
        let alphabet = Array(#"a "\/u0{}[],:nt1e.-"#.utf8) + [0x0A, 0xC3, 0xA9]
        var agreed = 0, byComparison = 0
        for _ in 0..<400 {
            var reader = StreamChunkReader(backend: .openai)
            var chunk = base
            for _ in 0..<12 {
                // Mostly edits inside the text, sometimes anywhere.
                let textStart = 84  // just after `"text":"`
                let inText = rng.next() % 4 != 0
                let lo = inText ? textStart : 0
                let hi = inText ? min(textStart + 10, chunk.count) : chunk.count
                let at = lo + Int(rng.next() % UInt64(max(hi - lo, 1)))
                switch rng.next() % 3 {
                case 0: if at < chunk.count { chunk.remove(at: at) }
                case 1: chunk.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: min(at, chunk.count))
                default: if at < chunk.count { chunk[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))] }
                }
                let want = chunk.withUnsafeBufferPointer { StreamChunk.scan($0, backend: .openai) }
                let got = chunk.withUnsafeBufferPointer { reader.read($0) }
                #expect(got == want, "\(String(decoding: chunk, as: UTF8.self))")
                if got == want { agreed += 1 }
                if want == nil { chunk = base }
            }
            byComparison += reader.incremental
        }
        #expect(agreed == 4800)
        // The comparison path must have been exercised, not only the full scan.
        #expect(byComparison > 500)
    }

    /// SGLang's native stream repeats the text and ids so far in every chunk (its tokenizer
    /// manager's `{"text", "output_ids", "meta_info"}`, not incremental by default). Each chunk is
    /// read as a full scan reads it, and once the text and ids are long, from where the previous
    /// chunk's ended: escapes of every kind fall at the resume point sooner or later.
    @Test func growingChunksResumeWhereThePreviousEnded() {
        let pieces = [" the", #"\n"#, #" \"quoted\""#, #"\\"#, #"\u00e9t\u00e9"#, " fox", #"\t"#, "é", #"\/"#]
        var text = "", ids: [Int] = []
        var reader = StreamChunkReader(backend: .sglang)
        let n = 300
        for k in 1...n {
            text += pieces[k % pieces.count]
            ids.append(10_000 + (k * 7_919) % 140_000)
            let finish = k == n ? #"{"type":"length","length":300}"# : "null"
            let chunk = #"{"text":"\#(text)","output_ids":[\#(ids.map(String.init).joined(separator: ","))],"meta_info":{"id":"9f1","finish_reason":\#(finish),"prompt_tokens":32,"completion_tokens":\#(k),"cached_tokens":0,"e2e_latency":0.\#(k)}}"#
            let want = scan(chunk, .sglang)
            #expect(want != nil && want == reference(chunk, .sglang), "\(chunk)")
            #expect(read(&reader, chunk) == want, "\(chunk)")
        }
        // Text and ids pass 64 bytes within the first 20 chunks; every later one resumes.
        #expect(reader.resumed >= n - 20, "\(reader.resumed)")
        // The previous chunk's memory grows by doubling (to ~5 KB here), not once per chunk.
        #expect(reader.allocations <= 5, "\(reader.allocations)")
    }

    /// A stream's chunks reuse one store for the previous chunk: reading by comparison must not
    /// hold a reference to it that makes the next write copy it (it did, in one build: one
    /// allocation per token). A copy of the reader allocates its own once it reads.
    @Test func aStreamReusesItsStore() {
        var reader = StreamChunkReader(backend: .openai)
        for k in 0..<200 {
            let chunk = #"{"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":" w\#(k % 7)","logprobs":null,"finish_reason":null}],"usage":null}"#
            #expect(read(&reader, chunk) == scan(chunk, .openai))
        }
        #expect(reader.incremental == 199 && reader.allocations == 1, "\(reader.incremental), \(reader.allocations)")
        var copy = reader
        #expect(read(&copy, #"{"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":" x","logprobs":null,"finish_reason":null}],"usage":null}"#) != nil)
        #expect(copy.allocations == 2 && reader.allocations == 1)
    }

    /// Random edits near where a growing chunk's text and ids end, and plain growth between them:
    /// the reader agrees with a full scan of the same bytes, whatever lands at the resume point (a
    /// digit that lengthens the last id, a backslash, a quote, a control byte, a comma too many).
    @Test func randomEditsOfGrowingChunksAgreeWithAFullScan() {
        var rng = SeededRandom(seed: 0x6120_F1DE)  // a failure replays from its seed
        let alphabet = Array(#"a "\/u0{}[],:1e.-"#.utf8) + [0x0A, 0xC3, 0xA9, 0x35]
        var agreed = 0, resumed = 0, total = 0
        for _ in 0..<150 {
            var reader = StreamChunkReader(backend: .sglang)
            var text = Array(String(repeating: "word ", count: 16).utf8)
            var ids = Array((1...20).map { String(1_000 + $0) }.joined(separator: ",").utf8)
            var valid = (text, ids)
            for _ in 0..<16 {
                let r = rng.next() % 6
                if r < 3 {  // grow, as a stream does
                    text += Array(" w\(rng.next() % 100)".utf8)
                    ids += Array(",\(rng.next() % 100_000)".utf8)
                } else {  // edit the last few bytes of the text or the ids
                    let inText = r == 3 || r == 4
                    var part = inText ? text : ids
                    let at = part.count - 1 - Int(rng.next() % UInt64(min(8, part.count)))
                    switch rng.next() % 3 {
                    case 0: part.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at + 1)
                    case 1: part[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                    default: part.append(alphabet[Int(rng.next() % UInt64(alphabet.count))])
                    }
                    if inText { text = part } else { ids = part }
                }
                let chunk = Array(#"{"text":""#.utf8) + text + Array(#"","output_ids":["#.utf8) + ids
                    + Array(#"],"meta_info":{"prompt_tokens":8,"completion_tokens":3}}"#.utf8)
                let want = chunk.withUnsafeBufferPointer { StreamChunk.scan($0, backend: .sglang) }
                let got = chunk.withUnsafeBufferPointer { reader.read($0) }
                #expect(got == want, "\(String(decoding: chunk, as: UTF8.self))")
                if got == want { agreed += 1 }
                total += 1
                // Not JSON: go on from the last chunk that was (the next one grows from it).
                if want == nil { (text, ids) = valid } else { valid = (text, ids) }
            }
            resumed += reader.resumed
        }
        #expect(agreed == total)
        #expect(resumed > 600, "the resume path must be exercised: \(resumed)")
    }
    /// What a full scan refuses, a partly read chunk refuses too: an array that had no element
    /// (only spaces) gives no place to resume after one, a last id that goes on with more digits is
    /// read again, and a chunk read by comparison leaves no member places behind (its text moved them).
    @Test func partlyReadChunksRefuseWhatAFullScanRefuses() {
        let spaces = String(repeating: " ", count: 70)
        let cases: [[(String, Bool)]] = [
            [(#"{"text":"a","output_ids":[\#(spaces)]}"#, true), (#"{"text":"a","output_ids":[\#(spaces),1]}"#, false)],
            [(#"{"text":"a","output_ids":[\#((1...30).map(String.init).joined(separator: ","))]}"#, true),
             (#"{"text":"a","output_ids":[\#((1...30).map(String.init).joined(separator: ","))5]}"#, true),
             (#"{"text":"a","output_ids":[\#((1...30).map(String.init).joined(separator: ","))5,]}"#, false)],
            [(#"{"text":"a","pad":"\#(String(repeating: "P", count: 70))","z":1}"#, true),
             (#"{"text":"abc","pad":"\#(String(repeating: "P", count: 70))","z":1}"#, true),  // by comparison
             (#"{"text":"abc","pad":":"\#(String(repeating: "P", count: 68))tail","z":1}"#, false)],
        ]
        for stream in cases {
            var reader = StreamChunkReader(backend: .sglang)
            for (chunk, valid) in stream {
                let want = scan(chunk, .sglang)
                #expect((want != nil) == valid, "\(chunk)")
                #expect(read(&reader, chunk) == want, "\(chunk)")
            }
        }
        // After a chunk read by comparison the next one is read in full, even where the places of
        // the one before would still fit (same text length): they are not kept.
        let pad = String(repeating: "P", count: 70)
        var reader = StreamChunkReader(backend: .sglang)
        for chunk in [#"{"text":"abc","pad":"\#(pad)","z":1}"#, #"{"text":"xyz","pad":"\#(pad)","z":1}"#,
                      #"{"text":"xyz","pad":"\#(pad)Q","z":2}"#] {
            #expect(read(&reader, chunk) == scan(chunk, .sglang))
        }
        #expect(reader.incremental == 1 && reader.resumed == 0)
    }
}
