import DeployKit

/// Renders a GPUStack plan the way `PlanTextRenderer` renders a local one: one line per model that
/// changes, with its flag-level diff, then GPUStack's own notes.
public struct GPUStackPlanText: Sendable {
    /// Use ANSI colours.
    public var color: Bool

    /// Creates a renderer.
    public init(color: Bool = false) { self.color = color }

    /// The text.
    public func render(_ plan: GPUStackPlan) -> String {
        var out = "Target \(plan.target): GPUStack \(plan.serverVersion) at \(plan.url), cluster \(plan.cluster) (owner \(plan.owner))\n"
        for w in plan.warnings { out += "  warning: \(w)\n" }
        for v in plan.versions where v.action != .noop {
            let sign = v.action == .create ? "+" : (v.action == .delete ? "-" : "~")
            out += paint("  \(sign) \(v.action.rawValue) backend version \(v.backend) \(v.version)", code(v.action.rawValue)) + "\n"
            for f in v.fields { out += "      \(f.field): \(f.before ?? "(none)") → \(f.after ?? "(none)")\n" }
        }
        for c in plan.changes where c.action != .noop {
            switch c.action {
            case .create: out += paint("  + create  \(c.deployment)", "32") + "  (\(c.reason); \(c.replicas) replica\(c.replicas == 1 ? "" : "s"))\n"
            case .replace: out += paint("  ~ replace \(c.deployment)", "33") + "  (\(c.reason))\n"
            case .update: out += paint("  ~ update  \(c.deployment)", "33") + "  (\(c.reason))\n"
            case .delete: out += paint("  - delete  \(c.deployment)", "31") + "  (\(c.reason))\n"
            case .noop: break
            }
            if c.action == .replace || c.action == .update {
                for f in c.fields {
                    let secret = f.field.hasPrefix("env.") && f.before == nil && f.after == nil
                    out += secret ? "      \(f.field): (secret changed)\n" : "      \(f.field): \(f.before ?? "(none)") → \(f.after ?? "(none)")\n"
                }
                for f in c.flags {
                    switch f.kind {
                    case "added": out += paint("      + \(f.flag)\(f.after.map { $0 == "true" ? "" : " " + $0 } ?? "")", "32") + "\n"
                    case "removed": out += paint("      - \(f.flag)\(f.before.map { $0 == "true" ? "" : " " + $0 } ?? "")", "31") + "\n"
                    default: out += paint("      ~ \(f.flag): \(f.before ?? "unset") → \(f.after ?? "unset")", "33") + "\n"
                    }
                }
            }
            if c.action == .create || c.action == .replace {
                for w in c.warnings { out += "      note: \(w)\n" }
            }
        }
        for o in plan.orphans {
            out += "  ! model \(o) was created by this owner but is not in the manifests (apply --prune removes it)\n"
        }
        for e in plan.errors { out += "  error: \(e)\n" }
        let unchanged = plan.count(.noop)
        let calls = "\(plan.apiCalls) API call\(plan.apiCalls == 1 ? "" : "s")"
        if !plan.hasChanges {
            return out + "No changes. \(unchanged) deployment\(unchanged == 1 ? "" : "s") up to date (\(calls)).\n"
        }
        return out + "\nPlan: \(plan.count(.create)) to create, \(plan.count(.replace)) to replace (restart), "
            + "\(plan.count(.update)) to update, \(plan.count(.delete)) to delete; \(unchanged) unchanged (\(calls)).\n"
    }

    func code(_ action: String) -> String { action == "create" ? "32" : (action == "delete" ? "31" : "33") }

    func paint(_ s: String, _ code: String) -> String { color ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }
}
