import DeployKit
import Engines
import Foundation

/// Follows model instances through GPUStack's watch stream until each watched model has enough
/// `running` instances, one of them reaches `error`, or its deadline passes.
struct GPUStackWaiter {
    /// One model to wait for.
    struct Goal: Sendable {
        var modelId: Int
        var name: String
        /// Running instances (not in `ignore`) needed.
        var needed: Int
        /// Instance ids that do not count (old instances during a rolling restart).
        var ignore: Set<Int>
        /// Absolute deadline on the injected clock.
        var deadline: Duration
    }

    /// How the wait for one model ended.
    enum Outcome: Sendable, Equatable {
        case ready
        case failed(String)
    }

    let client: GPUStackClient
    let clusterId: Int
    let clock: any DeployClock
    var onProgress: @Sendable (ApplyEvent) -> Void = { _ in }

    /// Waits for every goal; returns each model's outcome by id.
    func wait(_ goals: [Goal]) -> [Int: Outcome] {
        var outcomes: [Int: Outcome] = [:]
        for g in goals where g.needed <= 0 { outcomes[g.modelId] = .ready }
        let open = goals.filter { $0.needed > 0 }
        guard !open.isEmpty else { return outcomes }
        let state = WaitState(goals: open, onProgress: onProgress)
        let path = "/v2/model-instances?" + GPUStackClient.queryString(
            open.count == 1 ? [("model_id", String(open[0].modelId)), ("watch", "true")]
                            : [("cluster_id", String(clusterId)), ("watch", "true")])
        var failures = 0
        while true {
            let now = clock.now()
            let pending = state.pendingGoals()
            if pending.isEmpty { break }
            let latest = pending.map(\.deadline).max() ?? now
            if latest <= now { break }
            // The stream replays every instance first, so a reconnect starts from the full current state.
            state.resetInstances()
            let end = client.watch(path, timeout: (latest - now).inSeconds) { event in
                state.apply(event)
                return state.expire(now: clock.now())
            }
            state.expire(now: clock.now())
            switch end {
            case .stopped, .timedOut: continue
            case .ended(let status) where (200..<300).contains(status):
                failures = 0
                continue
            case .ended(let status):
                state.failAll("GPUStack answered the instance watch with HTTP \(status)")
            case .failed(let e):
                failures += 1
                if failures >= 3 {
                    state.failAll("lost GPUStack while waiting for instances: \(client.unreachable(e).message)")
                } else {
                    clock.sleep(for: .seconds(1))
                }
            }
        }
        state.expire(now: nil)
        return outcomes.merging(state.outcomes) { a, _ in a }
    }
}

/// The instances seen so far and each goal's outcome; shared with the stream callback thread.
final class WaitState: @unchecked Sendable {
    private let lock = NSLock()
    private let goals: [GPUStackWaiter.Goal]
    private var instances: [Int: JSONValue] = [:]
    private(set) var outcomes: [Int: GPUStackWaiter.Outcome] = [:]
    private var lastState: [Int: String] = [:]
    private let onProgress: @Sendable (ApplyEvent) -> Void

    init(goals: [GPUStackWaiter.Goal], onProgress: @escaping @Sendable (ApplyEvent) -> Void) {
        self.goals = goals
        self.onProgress = onProgress
    }

    func pendingGoals() -> [GPUStackWaiter.Goal] { lock.withLock { goals.filter { outcomes[$0.modelId] == nil } } }

    func resetInstances() { lock.withLock { instances = [:] } }

    func apply(_ e: GPUStackWatchEvent) {
        lock.withLock {
            guard let id = e.id else { return }
            if e.kind == .deleted { instances[id] = nil } else { instances[id] = e.data }
            evaluate()
        }
    }

    /// Marks goals past their deadline (every open goal when `now` is nil: the wait is over);
    /// returns false when nothing is left to wait for.
    @discardableResult
    func expire(now: Duration?) -> Bool {
        lock.withLock {
            for g in goals where outcomes[g.modelId] == nil && now.map({ g.deadline <= $0 }) ?? true {
                outcomes[g.modelId] = .failed("timed out waiting for \(g.needed) running instance\(g.needed == 1 ? "" : "s")"
                                              + (lastState[g.modelId].map { "; last state: \($0)" } ?? ""))
            }
            return goals.contains { outcomes[$0.modelId] == nil }
        }
    }

    func failAll(_ message: String) {
        lock.withLock { for g in goals where outcomes[g.modelId] == nil { outcomes[g.modelId] = .failed(message) } }
    }

    /// Under the lock: settles goals from the instances seen.
    private func evaluate() {
        for g in goals where outcomes[g.modelId] == nil {
            let mine = instances.filter { $0.value["model_id"]?.int == g.modelId && !g.ignore.contains($0.key) }
            var running = 0
            var summary: [String] = []
            for (_, i) in mine.sorted(by: { $0.key < $1.key }) {
                let state = i["state"]?.string ?? "pending"
                let message = i["state_message"]?.string
                let name = i["name"]?.string ?? "?"
                if state == "error" {
                    outcomes[g.modelId] = .failed("instance \(name) failed: \(message ?? "error (no message)")")
                    break
                }
                if state == "running" { running += 1 }
                summary.append("\(name) \(state)" + (message.flatMap { $0.isEmpty ? nil : ": \($0)" } ?? ""))
            }
            if outcomes[g.modelId] != nil { continue }
            let line = summary.joined(separator: "; ")
            if !line.isEmpty, lastState[g.modelId] != line {
                lastState[g.modelId] = line
                onProgress(.progress(id: g.name, message: line))
            }
            if running >= g.needed { outcomes[g.modelId] = .ready }
        }
    }
}
