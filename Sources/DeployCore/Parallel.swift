import Dispatch
import Foundation
import Synchronization

/// Data-parallel loops over independent items (parsing and checking a large manifest).
public enum Parallel {
    /// Threads for large inputs: the processors this process may use (at most 8), or
    /// `DSDEPLOY_THREADS` when set (1: the calling thread only, as for measuring one core).
    public static let defaultThreads: Int = {
        if let text = ProcessInfo.processInfo.environment["DSDEPLOY_THREADS"], let n = Int(text), n >= 1 {
            return min(n, 64)
        }
        return max(1, min(8, ProcessInfo.processInfo.activeProcessorCount))
    }()

    /// `body(i)` for every `i` in `0..<count`, results in index order, on at most `threads`
    /// threads (the calling thread among them). Runs on the calling thread alone when `threads` is 1
    /// or there is one item. Each index runs exactly once; returns when all are done. `body` must
    /// not share mutable state.
    public static func map<T: Sendable>(_ count: Int, threads: Int, _ body: @Sendable (Int) -> T) -> [T] {
        let workers = min(threads, count)
        guard workers > 1 else { return (0..<count).map(body) }
        var results = [T?](repeating: nil, count: count)
        results.withUnsafeMutableBufferPointer { buffer in
            let out = Slots(base: buffer.baseAddress!)
            let next = Atomic<Int>(0)
            // Each worker takes the next index until none is left: uneven items balance themselves.
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                while true {
                    let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    guard i < count else { return }
                    out.base[i] = body(i)
                }
            }
        }
        return results.map { $0! }
    }

    /// The result slots; each index is written by exactly one worker, read after all finished.
    private struct Slots<T>: @unchecked Sendable {
        let base: UnsafeMutablePointer<T?>
    }
}

/// A buffer read by several threads at once, never written while they run.
public struct SharedBytes: @unchecked Sendable {
    public let buffer: UnsafeBufferPointer<UInt8>
    public init(_ buffer: UnsafeBufferPointer<UInt8>) { self.buffer = buffer }
}
