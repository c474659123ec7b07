import DeployCore
import Foundation
import Synchronization
import Testing

@Suite struct ParallelTests {
    @Test func everyIndexOnceInOrder() {
        for threads in [1, 2, 3, 8] {
            for count in [0, 1, 2, 7, 100] {
                let calls = Mutex<[Int]>([])
                let r = Parallel.map(count, threads: threads) { i -> Int in
                    calls.withLock { $0.append(i) }
                    return i * i
                }
                #expect(r == (0..<count).map { $0 * $0 })
                #expect(calls.withLock { $0.sorted() } == Array(0..<count))
            }
        }
    }

    /// `mapOnWorkers` names the worker running each item: below the threads asked, and never the
    /// same worker on two items at once (what lets a worker keep copies of its own).
    @Test func aWorkerRunsOneItemAtATime() {
        for threads in [1, 2, 4] {
            let busy = Mutex<Set<Int>>([])
            let clash = Mutex(false)
            let workers = Parallel.mapOnWorkers(64, threads: threads) { i, worker -> Int in
                if !busy.withLock({ $0.insert(worker).inserted }) { clash.withLock { $0 = true } }
                usleep(200)
                _ = busy.withLock { $0.remove(worker) }
                return worker
            }
            #expect(workers.count == 64)
            #expect(workers.allSatisfy { $0 >= 0 && $0 < threads })
            #expect(!clash.withLock { $0 })
        }
    }

    @Test func atMostTheThreadsAsked() {
        // Each item waits (a few seconds at most) until two items have run at the same time: with
        // two threads asked both run, and never more than two run together.
        let running = Mutex<(now: Int, most: Int)>((0, 0))
        _ = Parallel.map(16, threads: 2) { _ -> Int in
            running.withLock { $0.now += 1; $0.most = max($0.most, $0.now) }
            let deadline = Date().addingTimeInterval(5)
            while running.withLock({ $0.most }) < 2, Date() < deadline { usleep(100) }
            running.withLock { $0.now -= 1 }
            return 0
        }
        let most = running.withLock { $0.most }
        #expect(most <= 2)
        if ProcessInfo.processInfo.activeProcessorCount >= 2 { #expect(most == 2) }
    }

    /// `concatenate` keeps order across parts of any size (empty ones too), runs `alongside` once,
    /// and every element is released exactly once, with the result, not before.
    @Test(arguments: [1, 2, 4])
    func concatenateMovesEveryPartInOrder(threads: Int) {
        final class Count: Sendable {
            let n = Mutex(0)
            func withLock<R>(_ body: (inout Int) -> R) -> R { n.withLock { body(&$0) } }
        }
        final class Tracked: Sendable {
            let value: Int
            let released: Count
            init(_ value: Int, _ released: Count) { self.value = value; self.released = released }
            deinit { released.withLock { $0 += 1 } }
        }
        let released = Count()
        let sizes = [3, 0, 5, 1, 0, 7]
        var next = 0
        let parts: [[Tracked]] = sizes.map { n in
            (0..<n).map { _ in defer { next += 1 }; return Tracked(next, released) }
        }
        let calls = Count()
        do {
            let (all, side) = Parallel.concatenate(consume parts, threads: threads) { () -> String in
                calls.withLock { $0 += 1 }
                return "reported"
            }
            #expect(all.map(\.value) == Array(0..<16))
            #expect(side == "reported" && calls.withLock { $0 } == 1)
            #expect(released.withLock { $0 } == 0)
        }
        #expect(released.withLock { $0 } == 16)
        // Nothing at all to move.
        let (none, _) = Parallel.concatenate([[Tracked]](), threads: threads) { 0 }
        #expect(none.isEmpty)
    }
}
