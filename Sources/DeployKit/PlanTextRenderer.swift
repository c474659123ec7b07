/// Renders a plan for people: one line per replica slot that changes, with its flag-level diff.
public struct PlanTextRenderer: Sendable {
    /// Use ANSI colours.
    public var color: Bool

    /// Creates a renderer.
    public init(color: Bool = false) { self.color = color }

    /// The text.
    public func render(_ plan: Plan) -> String {
        var out = ""
        for c in plan.changes where c.action != .noop {
            let port = c.desired.map { " \($0.host):\($0.port)" } ?? c.current.map { " \($0.launch.host):\($0.port)" } ?? ""
            switch c.action {
            case .create: out += paint("  + create  \(c.id)", "32") + port + "  (\(c.reason))\n"
            case .replace: out += paint("  ~ replace \(c.id)", "33") + "  (\(c.reason))\n"
            case .update: out += paint("  ~ update  \(c.id)", "33") + "  (\(c.reason))\n"
            case .delete: out += paint("  - delete  \(c.id)", "31") + port + "  (\(c.reason))\n"
            case .noop: break
            }
            if c.action == .replace || c.action == .update {
                for f in c.fields {
                    out += "      \(f.field): \(f.before ?? "(none)") → \(f.after ?? "(none)")\n"
                }
                for f in c.flags {
                    switch f.kind {
                    case "added": out += paint("      + \(f.flag)\(f.after.map { $0 == "true" ? "" : " " + $0 } ?? "")", "32") + "\n"
                    case "removed": out += paint("      - \(f.flag)\(f.before.map { $0 == "true" ? "" : " " + $0 } ?? "")", "31") + "\n"
                    default: out += paint("      ~ \(f.flag): \(f.before ?? "unset") → \(f.after ?? "unset")", "33") + "\n"
                    }
                }
            }
        }
        for o in plan.orphans {
            out += "  ! deployment \(o) is running but not in the manifest (apply --prune removes it)\n"
        }
        let unchanged = plan.count(.noop)
        if !plan.hasChanges {
            return out + "No changes. \(unchanged) replica\(unchanged == 1 ? "" : "s") up to date.\n"
        }
        return out + "\nPlan: \(plan.count(.create)) to create, \(plan.count(.replace)) to replace, "
            + "\(plan.count(.update)) to update, \(plan.count(.delete)) to delete; \(unchanged) unchanged.\n"
    }

    func paint(_ s: String, _ code: String) -> String { color ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }
}
