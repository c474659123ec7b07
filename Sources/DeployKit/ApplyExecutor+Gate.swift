import Foundation

/// What returning a gated deployment to its previous revision did.
public struct GateRevert: Sendable, Codable, Hashable {
    /// Per replica slot: `reverted` (previous revision serving again, or an added replica stopped) or `failed`.
    public var outcomes: [ApplyReport.Outcome]
    /// True when every slot is back where it was before the apply.
    public var succeeded: Bool
    /// Why nothing was reverted (no previous revision), when so.
    public var note: String?

    /// Creates a result.
    public init(outcomes: [ApplyReport.Outcome], succeeded: Bool, note: String?) {
        self.outcomes = outcomes
        self.succeeded = succeeded
        self.note = note
    }
}

extension ApplyExecutor {
    /// Deployments whose rollout in this apply converged and started new instances (a `create` or
    /// `replace` that is `done`), in plan order: the ones `apply --gate` benchmarks.
    public static func rolledOut(_ plan: Plan, _ report: ApplyReport) -> [String] {
        let done = Set(report.outcomes.filter { $0.result == .done && ($0.action == .create || $0.action == .replace) }
            .map(\.id))
        var out: [String] = []
        for c in plan.changes where done.contains(c.id) && !report.failedDeployments.contains(c.deployment)
            && !out.contains(c.deployment) {
            out.append(c.deployment)
        }
        return out
    }

    /// Returns a deployment whose rollout converged, but which failed its benchmark gate, to what
    /// ran before the apply: each replaced slot gets its previous launch spec back (started and
    /// verified like any rollout, then the gated instance stops; with `maxSurge: 0` the gated
    /// instance stops first), and slots the apply added are stopped. A deployment with no previous
    /// revision (all its slots were created by this apply) is left as it is, with a `note`.
    public func revertRollout(_ deployment: String, plan: Plan, reason: String,
                              onEvent: @escaping (ApplyEvent) -> Void = { _ in }) -> GateRevert {
        ExecutorRun(self, onEvent: onEvent).revertRollout(deployment, plan: plan, reason: reason)
    }
}

extension ExecutorRun {
    func revertRollout(_ deployment: String, plan: Plan, reason: String) -> GateRevert {
        let changes = plan.changes.filter {
            $0.deployment == deployment && ($0.action == .create || $0.action == .replace) && $0.desired != nil
        }
        let hasPrevious = changes.contains { c in c.current.map { $0.revision != c.desired?.revision } ?? false }
        guard hasPrevious else {
            return GateRevert(outcomes: [], succeeded: false,
                              note: "\(deployment) has no previous revision to return to: left running")
        }
        emit(.reverting(deployment: deployment, reason: reason))
        let observed = (try? target.observe()) ?? []
        let live = observed.filter(\.isAlive)
        let before = LiveView { observed }
        var used = Set(live.map(\.port))
        var gated: [String: ObservedReplica] = [:]
        var restarts: [(PlannedChange, ObservedReplica)] = []
        for c in changes {
            guard let d = c.desired else { continue }
            let current = live.filter { $0.deployment == deployment && $0.replica == c.replica && $0.revision == d.revision }
                .max { $0.startedAt < $1.startedAt }
            if let old = c.current, old.revision != d.revision {
                if let current, d.maxSurge == 0 {
                    leave(current, before)
                    stopQuietly(current)
                    used.remove(current.port)
                } else if let current {
                    gated[c.id] = current
                }
                var back = c
                back.desired = old.launch
                restarts += startMany([(back, old.launch)], &used, failing: false).started
            } else if c.current == nil, let current {
                leave(current, before)
                stopQuietly(current)
                used.remove(current.port)
                record(c, .reverted, "stopped: the replica was added by the apply that failed its gate", nil)
            }
        }
        let restarted = waitAll(restarts)
        let after = liveView()
        for (c, inst, result) in restarted {
            let previous = c.current?.revision ?? inst.revision
            if case .ready = result, let problem = join(inst, after) {
                // Back, but not in its router's service: the gated instance keeps serving.
                stopQuietly(inst)
                record(c, .failed, "revert failed: \(problem); revision \(gated[c.id]?.revision.prefix(12) ?? "?") keeps serving",
                       gated[c.id]?.revision)
                markFailed(deployment)
            } else if case .ready = result {
                if let g = gated[c.id] {
                    leave(g, after)
                    stopQuietly(g)
                }
                record(c, .reverted, "gate failed (\(reason)): returned to revision \(previous.prefix(12))", previous)
            } else {
                stopQuietly(inst)
                let still = gated[c.id]?.revision
                record(c, .failed, "revert failed: \(describe(result))" + (still.map { "; revision \($0.prefix(12)) keeps serving" } ?? ""),
                       still)
                markFailed(deployment)
            }
        }
        emit(.reverted(deployment: deployment))
        let list = changes.compactMap { outcome($0) }
        return GateRevert(outcomes: list, succeeded: !isFailed(deployment) && list.allSatisfy { $0.result == .reverted }, note: nil)
    }
}
