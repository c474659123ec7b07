public import DeployCore

/// Draws for property tests, on the project's deterministic generator: a failure reproduces from its seed.
extension SplitMix64 {
    /// A number in `r`.
    public mutating func int(_ r: ClosedRange<Int>) -> Int { r.lowerBound + Int(next() % UInt64(r.count)) }

    /// An element of `a` (not empty).
    public mutating func pick<T>(_ a: [T]) -> T { a[int(0...(a.count - 1))] }

    /// True `p` times in 100.
    public mutating func chance(_ p: Int) -> Bool { int(1...100) <= p }
}
