import Testing
@testable import CurlHTTP

@Suite struct SSEParserTests {
    static let stream = Array(
        ("\u{FEFF}: keep-alive comment\r\nevent: delta\r\nid: 1\r\ndata: {\"t\":\"h\u{E9}\u{1F600}\"}\r\n\r\n"
         + "data:x\ndata: y\n\n"
         + "data: spaced  \r\r"
         + "retry: 250\nunknown: z\ndata: [DONE]\n\n").utf8)

    static let expected = [
        SSEEvent(event: "delta", data: "{\"t\":\"h\u{E9}\u{1F600}\"}", id: "1"),
        SSEEvent(data: "x\ny", id: "1"),
        SSEEvent(data: "spaced  ", id: "1"),
        SSEEvent(data: "[DONE]", id: "1", retry: 250),
    ]

    @Test func wholeStream() {
        var p = SSEParser()
        let events = p.feed(Self.stream)
        #expect(events == Self.expected)
        #expect(events.last?.isDone == true)
        #expect(p.finish().isEmpty)
    }

    @Test func everySplitPointGivesTheSameEvents() {
        for cut in 0...Self.stream.count {
            var p = SSEParser()
            let events = p.feed(Self.stream[..<cut]) + p.feed(Self.stream[cut...])
            #expect(events == Self.expected, "split at \(cut)")
        }
    }

    @Test func byteAtATime() {
        var p = SSEParser()
        var events: [SSEEvent] = []
        for b in Self.stream { events += p.feed([b]) }
        #expect(events == Self.expected)
    }

    @Test func llamaCppAndOpenAIStyles() {
        var p = SSEParser()
        let events = p.feed(Array("data:{\"content\":\"a\"}\n\ndata: {\"content\":\"b\"}\n\ndata: [DONE]\n\n".utf8))
        #expect(events.map(\.data) == ["{\"content\":\"a\"}", "{\"content\":\"b\"}", "[DONE]"])
        #expect(events.map(\.isDone) == [false, false, true])
    }

    @Test func emptyEventsAndComments() {
        var p = SSEParser()
        #expect(p.feed(Array(":ping\n\n\n\nevent: x\n\n".utf8)).isEmpty)  // no data → no event
        #expect(p.feed(Array("data\n\n".utf8)) == [SSEEvent(data: "")])   // field without colon
        #expect(p.feed(Array("data: tail-without-blank-line".utf8)).isEmpty)
        #expect(p.finish() == [SSEEvent(data: "tail-without-blank-line")])
    }

    @Test func rawBufferFeed() {
        var p = SSEParser()
        var got: [String] = []
        Array("data: a\n\ndata: b\n\n".utf8).withUnsafeBytes { raw in
            p.feed(raw) { got.append($0.data) }
        }
        #expect(got == ["a", "b"])
    }
}
