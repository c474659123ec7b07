import Testing
@testable import CurlHTTP

@Suite struct SSEParserTests {
    @Test func basicEvents() {
        var p = SSEParser()
        let events = p.feed(Array("data: hello\n\ndata:world\n\n".utf8))
        #expect(events.map(\.data) == ["hello", "world"])
    }
}
