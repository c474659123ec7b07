import Foundation
import Testing
@testable import Bench

/// The request bodies are written directly; they must parse to the same members the
/// `JSONSerialization`-built bodies had.
@Suite struct RequestBodyTests {
    static let tricky = "a \"quoted\" \\ back\nslash\r\t\u{01}\u{1F} é 😀 </tag>"

    private func object(_ bytes: [UInt8]) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any]
    }

    @Test(arguments: [BenchBackend.sglang, .openai, .openaiChat])
    func bodiesParseWithEveryMember(_ backend: BenchBackend) throws {
        let r = BenchRequest(inputLength: 3, outputLength: 7, tokenIDs: [101, 0, 30_099], text: Self.tricky)
        for ids in [true, false] {
            let o = try #require(object(backend.body(r, model: "m/\"x\"", tokenIDs: ids)), "\(backend) ids=\(ids)")
            #expect(o["model"] as? String == "m/\"x\"")
            let sendsIDs = ids && backend != .openaiChat
            switch backend {
            case .sglang:
                #expect(o["stream"] as? Bool == true)
                let sp = try #require(o["sampling_params"] as? [String: Any])
                #expect((sp["max_new_tokens"] as? NSNumber)?.intValue == 7)
                #expect((sp["temperature"] as? NSNumber)?.doubleValue == 0)
                #expect(sp["ignore_eos"] as? Bool == true)
                if sendsIDs { #expect((o["input_ids"] as? [NSNumber])?.map(\.intValue) == [101, 0, 30_099]) }
                else { #expect(o["text"] as? String == Self.tricky) }
            case .openai:
                if sendsIDs { #expect((o["prompt"] as? [NSNumber])?.map(\.intValue) == [101, 0, 30_099]) }
                else { #expect(o["prompt"] as? String == Self.tricky) }
                #expect((o["max_tokens"] as? NSNumber)?.intValue == 7)
            case .openaiChat:
                let m = try #require((o["messages"] as? [[String: Any]])?.first)
                #expect(m["role"] as? String == "user" && m["content"] as? String == Self.tricky)
                #expect((o["max_tokens"] as? NSNumber)?.intValue == 7)
                #expect((o["max_completion_tokens"] as? NSNumber)?.intValue == 7)
            }
            if backend != .sglang {
                #expect(o["stream"] as? Bool == true && o["ignore_eos"] as? Bool == true)
                #expect((o["temperature"] as? NSNumber)?.doubleValue == 0)
                #expect((o["stream_options"] as? [String: Any])?["include_usage"] as? Bool == true)
            }
        }
        #expect(object(backend.body(r, model: nil, tokenIDs: true))?["model"] == nil)
    }
}
