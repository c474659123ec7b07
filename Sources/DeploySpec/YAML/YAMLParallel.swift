#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a large YAML stream can be cut so that its parts parse side by side.
///
/// libyaml starts a new document at every `---` that begins a line and is followed by a blank or
/// the end (its scanner checks this before anything else, whatever it was reading: a block or
/// plain scalar ends there; a quoted scalar or flow collection left open is a syntax error, which
/// makes `YAMLLoader.loadEach` parse again in one pass). Cutting the input just before such a
/// line therefore gives parts that libyaml reads exactly as it reads them inside the stream, as
/// long as no part depends on what came before it: directives (a `%` line) and lines that are not
/// LF lines (lone CR, NEL, LS, PS) rule out cutting here; aliases are checked while parsing.
enum YAMLParallel {
    /// Inputs smaller than this are parsed in one pass (parts would not pay for their threads).
    static let minimumBytes = 64 << 10

    /// One part: bytes `start..<end` of the input, whose first line is line `lineBase + 1`.
    struct Part: Equatable {
        var start: Int
        var end: Int
        var lineBase: Int
    }

    /// The parts to parse `input` in (about 4 per thread, cut at document starts), or nil when it
    /// should be parsed in one pass: one thread, a small input, a directive, odd line breaks, or
    /// fewer than two places to cut.
    static func parts(of input: UnsafeBufferPointer<UInt8>, threads: Int,
                      minimumBytes: Int = minimumBytes) -> [Part]? {
        guard threads > 1, input.count >= minimumBytes, let base = input.baseAddress else { return nil }
        guard !YAMLPositions.hasOddBreaks(input) else { return nil }
        let n = input.count
        let wanted = threads * 4
        let target = max(1, n / wanted)
        var parts: [Part] = []
        parts.reserveCapacity(wanted)
        var partStart = 0, partLineBase = 0
        var line = 0
        var p = 0  // start of the current line
        while p < n {
            let b = base[p]
            if b == UInt8(ascii: "%") { return nil }
            if b == UInt8(ascii: "-"), p > 0, p + 3 <= n, base[p + 1] == UInt8(ascii: "-"), base[p + 2] == UInt8(ascii: "-"),
               p + 3 == n || isBlank(base[p + 3]), p - partStart >= target {
                parts.append(Part(start: partStart, end: p, lineBase: partLineBase))
                partStart = p
                partLineBase = line
            }
            guard let nl = memchr(base + p, 0x0A, n - p) else { break }
            p = base.distance(to: nl.assumingMemoryBound(to: UInt8.self)) + 1
            line += 1
        }
        parts.append(Part(start: partStart, end: n, lineBase: partLineBase))
        return parts.count >= 2 ? parts : nil
    }

    private static func isBlank(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D
    }
}
