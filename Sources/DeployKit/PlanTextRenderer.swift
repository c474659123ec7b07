import Engines
/// Renders a plan of any target for people: one line per unit that changes, with its field and
/// flag-level diff, then the target's notes and blockers.
public struct PlanTextRenderer: Sendable {
    /// Use ANSI colours.
    public var color: Bool

    /// Creates a renderer.
    public init(color: Bool = false) { self.color = color }

    /// The text.
    public func render(_ plan: Plan) -> String {
        var out = plan.target.detail.isEmpty ? "" : "Target \(plan.target.name): \(plan.target.detail)\n"
        for n in plan.notes { out += "  warning: \(n)\n" }
        for c in plan.changes where c.action != .noop {
            out += paint("  \(c.action.symbol) \(label(c.action)) \(unitName(c.unit))", c.action.colour)
                + address(c) + "  (\(c.reason)\(replicaNote(c)))\n"
            if c.action == .replace || c.action == .update || (c.action == .create && c.unit.deployment == nil) {
                for f in c.fields {
                    let secret = f.field.hasPrefix("env.") && f.before == nil && f.after == nil
                    out += secret ? "      \(f.field): (secret changed)\n"
                        : "      \(f.field): \(f.before ?? "(none)") → \(f.after ?? "(none)")\n"
                }
                for f in c.flags { out += flagLine(f) }
            }
            if c.action == .create || c.action == .replace {
                for n in c.notes { out += "      note: \(n)\n" }
            }
        }
        for o in plan.orphans {
            out += "  ! deployment \(o) runs on target \(plan.target.name) but is not in the manifests (apply --prune removes it)\n"
        }
        for b in plan.blockers { out += "  error: \(b)\n" }
        let unchanged = plan.count(.noop)
        let noun = plan.changes.contains { $0.unit.replica != nil } || plan.changes.isEmpty ? "replica" : "unit"
        let calls = plan.apiCalls.map { " (\($0.total) API call\($0.total == 1 ? "" : "s"))" } ?? ""
        if !plan.hasChanges {
            return out + "No changes. \(unchanged) \(noun)\(unchanged == 1 ? "" : "s") up to date\(calls).\n"
        }
        return out + "\nPlan: \(plan.count(.create)) to create, \(plan.count(.replace)) to replace, "
            + "\(plan.count(.update)) to update, \(plan.count(.delete)) to delete; \(unchanged) unchanged\(calls).\n"
    }

    /// The action word, padded so unit names line up.
    func label(_ a: PlannedChange.Action) -> String {
        let word = a.rawValue
        return word + String(repeating: " ", count: max(0, 7 - word.count))
    }

    func unitName(_ u: ChangeUnit) -> String {
        switch u {
        case .replica, .deployment: return u.id
        case .backendVersion(let b, let v): return "backend version \(b) \(v)"
        }
    }

    /// ` host:port` of a slot being created or deleted, and the GPUs a new one is given (` gpus 0,1`;
    /// a group on several hosts shows them in its nodes' order, `0,1/0,1`).
    func address(_ c: PlannedChange) -> String {
        guard c.action == .create || c.action == .delete else { return "" }
        if let d = c.desired {
            let gpus = (d.nodeHosts?.map(\.gpuIds) ?? [d.gpuIds]).filter { !$0.isEmpty }
                .map { $0.map(String.init).joined(separator: ",") }.joined(separator: "/")
            return " \(d.host):\(d.port)" + (gpus.isEmpty ? "" : " gpus \(gpus)")
        }
        return c.current.map { " \($0.launch.host):\($0.port)" } ?? ""
    }

    func replicaNote(_ c: PlannedChange) -> String {
        guard c.action == .create, let n = c.replicas else { return "" }
        return "; \(n) replica\(n == 1 ? "" : "s")"
    }

    func flagLine(_ f: FlagDiffEntry) -> String {
        switch f.kind {
        case .added: return paint("      + \(f.flag)\(f.after.map { $0 == "true" ? "" : " " + $0 } ?? "")", "32") + "\n"
        case .removed: return paint("      - \(f.flag)\(f.before.map { $0 == "true" ? "" : " " + $0 } ?? "")", "31") + "\n"
        case .changed: return paint("      ~ \(f.flag): \(f.before ?? "unset") → \(f.after ?? "unset")", "33") + "\n"
        }
    }

    func paint(_ s: String, _ code: String) -> String { color ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }
}

/// Renders an apply report for people: one line per unit that changed, then the summary.
public enum ApplyReportText {
    /// The text.
    public static func render(_ r: ApplyReport) -> String {
        var out = "\n"
        for o in r.outcomes where o.action != .noop {
            out += "  \(o.result.symbol) \(o.id) \(o.action.rawValue): \(o.result.rawValue)"
                + (o.result == .done ? "" : " — \(o.message)") + "\n"
        }
        let done = r.outcomes.filter { $0.result == .done && $0.action != .noop }.count
        let calls = r.apiCalls.map { " (\($0.reads) reads, \($0.writes) writes)" } ?? ""
        for (host, reason) in r.unreachableHosts.sorted(by: { $0.key < $1.key }) {
            out += "  ✘ host \(host): unreachable — \(reason); its changes stopped there (run apply again once it is back)\n"
        }
        if r.succeeded {
            out += "Apply complete: \(done) change\(done == 1 ? "" : "s") in \(formatSeconds(r.seconds))s\(calls).\n"
        } else if r.failedDeployments.isEmpty {
            out += "Apply INCOMPLETE: host\(r.unreachableHosts.count == 1 ? "" : "s") \(r.unreachableHosts.keys.sorted().joined(separator: ", ")) "
                + "could not be reached; \(done) change\(done == 1 ? "" : "s") applied on the others\(calls).\n"
        } else {
            out += "Apply FAILED for \(r.failedDeployments.joined(separator: ", ")): returned to the last good revision where there was one\(calls).\n"
        }
        return out
    }

    static func formatSeconds(_ s: Double) -> String {
        let tenths = Int((s * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}
