import Testing
@testable import CurlHTTP

/// `SSEDataParser` must hand out exactly the `data` that `SSEParser` gives, however the stream is
/// split, and point into the fed chunk (no copy) when an event's one data line lies whole in it.
@Suite struct SSEDataParserTests {
    /// Streams covering the line and field rules: BOM, comments, CRLF / CR / LF, `data:x` and
    /// `data: x`, several data lines, `event`/`id`/`retry`/unknown fields, `data` without a colon,
    /// empty events, `[DONE]`, and a last event without its blank line.
    static let streams: [[UInt8]] = [
        SSEParserTests.stream,
        Array("data: {\"choices\":[{\"text\":\" the\"}]}\n\ndata: {\"choices\":[{\"text\":\" fox\"}]}\n\ndata: [DONE]\n\n".utf8),
        Array("data: a\r\n\r\ndata: b\r\rdata: c\n\n: ping\n\nevent: x\n\ndata\n\ndata:\n\ndata:  two spaces\n\n".utf8),
        Array("\u{FEFF}data: first\n\nid: 7\nretry: 10\ndata: one\ndata: two\ndata: three\n\ndata: unterminated".utf8),
        Array("data: x\r".utf8),
        Array("\n\n\r\n: only comments\r\n\r\nfoo: bar\n\n".utf8),
        // Whole `data:` events next to ones the in-place path must not take: a \r inside the
        // line, a second data line, a field before the data, an empty value, no space.
        Array("data: a\n\ndata: b\rc\n\ndata:x\n\n: c\ndata: y\n\ndata: p\ndata: q\n\nid: 1\ndata: r\n\ndata:\n\ndata: s\n".utf8),
    ]

    /// The reference: `SSEParser`'s events' data (valid UTF-8 here, so the bytes round-trip).
    static func reference(_ stream: [UInt8]) -> [[UInt8]] {
        var p = SSEParser()
        return (p.feed(stream) + p.finish()).map { Array($0.data.utf8) }
    }

    static func parse(_ pieces: [ArraySlice<UInt8>]) -> [[UInt8]] {
        var p = SSEDataParser()
        var out: [[UInt8]] = []
        for piece in pieces {
            Array(piece).withUnsafeBytes { buf in p.feed(buf) { out.append(Array($0)) } }
        }
        p.finish { out.append(Array($0)) }
        return out
    }

    @Test func wholeStreamsMatchSSEParser() {
        for s in Self.streams {
            #expect(Self.parse([s[...]]) == Self.reference(s), "\(String(decoding: s, as: UTF8.self))")
        }
        #expect(Self.reference(Self.streams[3]).last == Array("unterminated".utf8))
    }

    @Test func everySplitPointGivesTheSameData() {
        for s in Self.streams {
            let expected = Self.reference(s)
            for cut in 0...s.count {
                #expect(Self.parse([s[..<cut], s[cut...]]) == expected, "split at \(cut) of \(s.count)")
            }
        }
    }

    @Test func everyPairOfSplitPoints() {
        let s = Self.streams[2]
        let expected = Self.reference(s)
        for a in 0...s.count {
            for b in a...s.count {
                #expect(Self.parse([s[..<a], s[a..<b], s[b...]]) == expected, "splits at \(a), \(b)")
            }
        }
    }

    @Test func byteAtATime() {
        for s in Self.streams {
            #expect(Self.parse(s.indices.map { s[$0...$0] }) == Self.reference(s))
        }
    }

    @Test func aWholeEventInTheChunkIsNotCopied() {
        let s = Array("data: {\"x\":1}\n\n".utf8)
        var p = SSEDataParser()
        var inside = false
        s.withUnsafeBytes { buf in
            p.feed(buf) { data in
                inside = data.baseAddress! >= buf.baseAddress! && data.baseAddress! + data.count <= buf.baseAddress! + buf.count
                #expect(Array(data) == Array("{\"x\":1}".utf8))
            }
        }
        #expect(inside)
    }
}
