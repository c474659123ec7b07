/// A small deterministic generator (SplitMix64) for property tests: a failure reproduces from its seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `r`.
    public mutating func int(_ r: ClosedRange<Int>) -> Int { r.lowerBound + Int(next() % UInt64(r.count)) }

    /// An element of `a` (not empty).
    public mutating func pick<T>(_ a: [T]) -> T { a[int(0...(a.count - 1))] }

    /// True `p` times in 100.
    public mutating func chance(_ p: Int) -> Bool { int(1...100) <= p }
}
