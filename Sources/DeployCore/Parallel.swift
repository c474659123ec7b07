import Dispatch

/// Data-parallel loops over independent items (validating the deployments of a large manifest).
public enum Parallel {
    /// `body(i)` for every `i` in `0..<count`, results in index order. Runs on the calling thread
    /// when `threads` is 1 or there is one item; otherwise on Dispatch's worker pool, each index
    /// exactly once, returning when all are done. `body` must not share mutable state.
    public static func map<T: Sendable>(_ count: Int, threads: Int, _ body: @Sendable (Int) -> T) -> [T] {
        guard threads > 1, count > 1 else { return (0..<count).map(body) }
        var results = [T?](repeating: nil, count: count)
        results.withUnsafeMutableBufferPointer { buffer in
            let out = Slots(base: buffer.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: count) { i in
                out.base[i] = body(i)
            }
        }
        return results.map { $0! }
    }

    /// The result slots; each index is written by exactly one iteration, read after all finished.
    private struct Slots<T>: @unchecked Sendable {
        let base: UnsafeMutablePointer<T?>
    }
}

/// A buffer read by several threads at once, never written while they run.
public struct SharedBytes: @unchecked Sendable {
    public let buffer: UnsafeBufferPointer<UInt8>
    public init(_ buffer: UnsafeBufferPointer<UInt8>) { self.buffer = buffer }
}
