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
        mapOnWorkers(count, threads: threads) { i, _ in body(i) }
    }

    /// `map`, telling `body` which worker runs it: a number below `threads`, the same for every
    /// item one thread runs, and never run by two threads at once. A worker can keep its own copy
    /// of shared read-only data (two threads retaining the same storage contend for its cache line).
    public static func mapOnWorkers<T: Sendable>(_ count: Int, threads: Int,
                                                 _ body: @Sendable (_ index: Int, _ worker: Int) -> T) -> [T] {
        let workers = min(threads, count)
        guard workers > 1 else { return (0..<count).map { body($0, 0) } }
        let results = ResultSlots<T>(count: count)
        let tickets = TicketCounter()
        // Each worker takes the next index until none is left: uneven items balance themselves.
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            HugePageHeap.prepareWorker()
            while let i = tickets.take(below: count) { results.set(i, body(i, worker)) }
        }
        return (0..<count).map { results.get($0)! }
    }
}

extension Parallel {
    /// The elements of `parts`, in order, in one array, each part's elements moved (not copied) into
    /// place by one of at most `threads` threads; and, meanwhile, `alongside()` on one of them. For
    /// large elements (a resolved deployment is about 1.7 KB), moving 2,000 of them into a fresh
    /// array is memcpy and page faults that other threads would otherwise wait for.
    /// (Inlinable: specialized for its element, an element is moved with a memcpy; generic, it was
    /// copied, every field retained, and then destroyed.)
    @inlinable
    public static func concatenate<T: Sendable, R: Sendable>(_ parts: consuming [[T]], threads: Int,
                                                             alongside: @Sendable () -> R) -> ([T], R) {
        var parts = parts
        var offsets: [Int] = []
        offsets.reserveCapacity(parts.count)
        var total = 0
        for p in parts {
            offsets.append(total)
            total += p.count
        }
        let starts = offsets
        let side = ResultSlots<R>(count: 1)
        let all = [T](unsafeUninitializedCapacity: total) { buffer, initialized in
            let destination = buffer.baseAddress.map(UnsafeTransfer.init)  // nil only when there is nothing to move
            parts.withUnsafeMutableBufferPointer { source in
                let from = source.baseAddress.map(UnsafeTransfer.init)
                let count = source.count
                // Item 0 is `alongside`; item i moves part i - 1.
                _ = mapOnWorkers(count + 1, threads: threads) { item, _ in
                    guard item > 0, let from, let destination else {
                        if item == 0 { side.set(0, alongside()) }
                        return true
                    }
                    let i = item - 1
                    var part: [T] = []
                    swap(&part, &from.pointer[i])  // each part is taken by the one worker that moves it
                    var k = starts[i] + part.count
                    while let element = part.popLast() {
                        k -= 1
                        (destination.pointer + k).initialize(to: element)
                    }
                    return true
                }
            }
            initialized = total
        }
        return (all, side.get(0)!)
    }
}

/// A pointer handed to `Parallel` workers that touch disjoint elements behind it.
@usableFromInline
struct UnsafeTransfer<T>: @unchecked Sendable {
    @usableFromInline let pointer: UnsafeMutablePointer<T>
    @inlinable init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
}

/// Fixed slots written from concurrent workers (`Parallel.map`, `BoundedParallel`).
public final class ResultSlots<T>: @unchecked Sendable {
    private var slots: [T?]
    private let lock = NSLock()

    /// `count` empty slots.
    public init(count: Int) { slots = Array(repeating: nil, count: count) }
    /// Fills slot `i`.
    public func set(_ i: Int, _ v: T) { lock.withLock { slots[i] = v } }
    /// Slot `i`, nil while empty.
    public func get(_ i: Int) -> T? { lock.withLock { slots[i] } }
}

/// Runs `body(0..<count)` on at most `width` threads at once and returns when all are done. For
/// work that waits on hosts (API calls, probes), where cores are not the limit: dedicated threads,
/// not Dispatch's pool (which runs about one item per core); one item runs on the calling thread.
public enum BoundedParallel {
    public static func run(count: Int, width: Int, _ body: @escaping @Sendable (Int) -> Void) {
        if count == 1 || width <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        let tickets = TicketCounter()
        let group = DispatchGroup()
        for _ in 0..<min(width, count) {
            group.enter()
            let thread = Thread {
                while let i = tickets.take(below: count) { body(i) }
                group.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        group.wait()
    }
}

/// Hands out 0, 1, 2 … to concurrent workers.
final class TicketCounter: Sendable {
    private let next = Atomic<Int>(0)

    /// The next number below `limit`, nil when they are all taken.
    func take(below limit: Int) -> Int? {
        let n = next.wrappingAdd(1, ordering: .relaxed).oldValue
        return n < limit ? n : nil
    }
}
