#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Spelling → catalog flag index and polarity: the checker's hot lookup (every flag of every
/// deployment, and every flag a cross-flag rule reads), done without `Hasher`.
///
/// `Dictionary<String, _>` hashes with SipHash, byte by byte, then compares; that cost about 490
/// instructions per lookup of a 25-byte flag name. Here a name is hashed eight bytes at a time and
/// compared only when its full hash matches. Open addressing, linear probing, at most half full;
/// built once per catalog and never changed, so it is shared freely between threads.
struct SpellingTable: Sendable {
    private var slots: [Int32]
    private var hashes: [UInt64] = []
    private var names: [String] = []
    /// Flag index << 1 | negative.
    private var entries: [Int] = []
    private let mask: Int

    /// A table of `spellings`; the first entry of a repeated spelling wins, as in `Dictionary` insertion
    /// guarded by `index[n] == nil`.
    init<S: Sequence>(_ spellings: S) where S.Element == (name: String, index: Int, negative: Bool) {
        let list = Array(spellings)
        var size = 16
        while size < list.count * 2 { size <<= 1 }
        slots = Array(repeating: -1, count: size)
        mask = size - 1
        for s in list where find(s.name) == nil {
            let h = Self.hash(s.name)
            var slot = Int(truncatingIfNeeded: h) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(names.count)
            hashes.append(h)
            names.append(s.name)
            entries.append(s.index << 1 | (s.negative ? 1 : 0))
        }
    }

    /// The flag index and polarity of `name`, nil when no flag has that spelling.
    @inline(__always)
    func find(_ name: String) -> (Int, Bool)? {
        let h = Self.hash(name)
        var slot = Int(truncatingIfNeeded: h) & mask
        return slots.withUnsafeBufferPointer { slots in
            while true {
                let e = Int(slots[slot])
                if e < 0 { return nil }
                if hashes[e] == h, Self.sameBytes(names[e], name) {
                    let v = entries[e]
                    return (v >> 1, v & 1 == 1)
                }
                slot = (slot + 1) & mask
            }
        }
    }

    /// Byte equality of two strings' UTF-8 (the hash is of bytes too, so spellings match byte for
    /// byte, as flag names are ASCII); cheaper than `==`, which also handles canonical equivalence.
    @inline(__always)
    static func sameBytes(_ a: String, _ b: String) -> Bool {
        let n = a.utf8.count
        guard n == b.utf8.count else { return false }
        let r = a.utf8.withContiguousStorageIfAvailable { pa in
            b.utf8.withContiguousStorageIfAvailable { pb in
                n == 0 || memcmp(pa.baseAddress!, pb.baseAddress!, n) == 0
            }
        }
        if let r, let r { return r }
        return a.utf8.elementsEqual(b.utf8)
    }

    /// A 64-bit hash of the UTF-8 bytes, eight at a time (not for untrusted keys at scale: the
    /// table only holds a catalog's few hundred spellings, and a collision costs a compare).
    static func hash(_ s: String) -> UInt64 {
        if let h = s.utf8.withContiguousStorageIfAvailable({ hash(bytes: $0) }) { return h }
        return Array(s.utf8).withUnsafeBufferPointer { hash(bytes: $0) }
    }

    static func hash(bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        let k: UInt64 = 0x9E37_79B9_7F4A_7C15
        var h = UInt64(truncatingIfNeeded: bytes.count) &* k
        guard let base = bytes.baseAddress else { return h }
        let raw = UnsafeRawPointer(base)
        var i = 0
        while i + 8 <= bytes.count {
            let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            h = (h ^ w) &* k
            h ^= h >> 29
            i += 8
        }
        if i < bytes.count {
            var w: UInt64 = 0
            var shift: UInt64 = 0
            while i < bytes.count {
                w |= UInt64(bytes[i]) << shift
                shift += 8
                i += 1
            }
            h = (h ^ w) &* k
            h ^= h >> 29
        }
        return h
    }
}
