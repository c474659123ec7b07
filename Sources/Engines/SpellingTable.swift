/// Spelling → catalog flag index and polarity: the checker's hot lookup (every flag of every
/// deployment, and every flag a cross-flag rule reads), done without `Hasher`.
///
/// `Dictionary<String, _>` hashes with SipHash, byte by byte, then compares; that cost about 490
/// instructions per lookup of a 25-byte flag name. Here a name is hashed eight bytes at a time and
/// compared only when its full hash matches. Open addressing, linear probing, at most half full.
/// Built once per catalog and never changed (so shared freely between threads); its arrays are
/// read through raw buffers, without bounds checks or reference counting on the probe path.
final class SpellingTable: @unchecked Sendable {  // immutable after init
    private let slots: UnsafeMutableBufferPointer<Int32>
    private let hashes: UnsafeMutableBufferPointer<UInt64>
    /// Flag index << 1 | negative.
    private let entries: UnsafeMutableBufferPointer<Int>
    /// Every spelling, each once, in the order given.
    let names: [String]
    private let mask: Int

    /// A table of `spellings`; the first entry of a repeated spelling wins.
    init<S: Sequence>(_ spellings: S) where S.Element == (name: String, index: Int, negative: Bool) {
        var size = 16
        var list: [(name: String, index: Int, negative: Bool)] = []
        var seen = Set<String>()
        for s in spellings where seen.insert(s.name).inserted { list.append(s) }
        while size < list.count * 2 { size <<= 1 }
        mask = size - 1
        slots = .allocate(capacity: size)
        slots.initialize(repeating: -1)
        hashes = .allocate(capacity: max(1, list.count))
        entries = .allocate(capacity: max(1, list.count))
        names = list.map(\.name)
        for (e, s) in list.enumerated() {
            let h = Self.hash(s.name)
            var slot = Int(truncatingIfNeeded: h) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(e)
            hashes[e] = h
            entries[e] = s.index << 1 | (s.negative ? 1 : 0)
        }
    }

    deinit {
        slots.deallocate()
        hashes.deallocate()
        entries.deallocate()
    }

    /// The flag index and polarity of `name`, nil when no flag has that spelling.
    @inline(__always)
    func find(_ name: String) -> (Int, Bool)? {
        let h = Self.hash(name)
        var slot = Int(truncatingIfNeeded: h) & mask
        while true {
            let e = Int(slots[slot])
            if e < 0 { return nil }
            if hashes[e] == h, names.withUnsafeBufferPointer({ $0[e] == name }) {
                let v = entries[e]
                return (v >> 1, v & 1 == 1)
            }
            slot = (slot + 1) & mask
        }
    }

    /// A 64-bit hash of the UTF-8 bytes (not for untrusted keys at scale: the table only holds a
    /// catalog's few hundred spellings, and a collision costs a compare).
    @inline(__always)
    static func hash(_ s: String) -> UInt64 {
        if let h = s.utf8.withContiguousStorageIfAvailable({ hash(bytes: $0) }) { return h }
        return Array(s.utf8).withUnsafeBufferPointer { hash(bytes: $0) }
    }

    /// Eight bytes at a time; the last (partial) word is read as the last eight bytes, overlapping
    /// the word before, when the name is at least that long.
    static func hash(bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        let k: UInt64 = 0x9E37_79B9_7F4A_7C15
        let n = bytes.count
        var h = UInt64(truncatingIfNeeded: n) &* k
        guard let base = bytes.baseAddress else { return h }
        let raw = UnsafeRawPointer(base)
        @inline(__always) func mix(_ w: UInt64) {
            h = (h ^ w) &* k
            h ^= h >> 29
        }
        var i = 0
        while i + 8 <= n {
            mix(raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            i += 8
        }
        if i < n {
            if n >= 8 {
                mix(raw.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self))
            } else {
                var w: UInt64 = 0
                for j in 0..<n { w |= UInt64(base[j]) << (8 * UInt64(j)) }
                mix(w)
            }
        }
        return h
    }
}
