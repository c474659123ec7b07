import DeployCore
import Engines

/// Renders a `ManifestDiff` for people, Terraform-style (`+` add, `-` remove, `~` change).
public struct DiffTextRenderer: Sendable {
    /// Use ANSI colours.
    public var color: Bool
    /// Show unchanged deployments too.
    public var showUnchanged: Bool

    /// Creates a renderer.
    public init(color: Bool = false, showUnchanged: Bool = false) {
        self.color = color
        self.showUnchanged = showUnchanged
    }

    /// The text.
    public func render(_ diff: ManifestDiff) -> String {
        var out = ""
        for d in diff.deployments {
            switch d.action {
            case .noop:
                if showUnchanged { out += "  deployment \(d.name): no changes\n" }
            case .create:
                out += paint("+ deployment \(d.name) (create)", "32") + "\n"
                out += body(d, brief: true)
            case .delete:
                out += paint("- deployment \(d.name) (delete)", "31") + "\n"
            case .update:
                let impact: String
                switch d.impact {
                case .restart: impact = "update, restart required"
                case .scale: impact = "update, scale only: running replicas keep running"
                case .none: impact = "update, no restart"
                }
                out += paint("~ deployment \(d.name) (\(impact))", "33") + "\n"
                out += body(d, brief: false)
            }
        }
        let c = diff.deployments.filter { $0.action == .create }.count
        let u = diff.deployments.filter { $0.action == .update }.count
        let r = diff.deployments.filter { $0.action == .update && $0.impact == .restart }.count
        let x = diff.deployments.filter { $0.action == .delete }.count
        if c + u + x == 0 { return out + "No changes. \(diff.deployments.count) deployment(s) up to date.\n" }
        return out + "\nDiff: \(c) to create, \(u) to update (\(r) with restart), \(x) to delete.\n"
    }

    func body(_ d: DeploymentDiff, brief: Bool) -> String {
        var out = ""
        for f in d.fields {
            if brief { out += "    \(f.field): \(f.after ?? "")\n"; continue }
            out += "    \(f.field): \(f.before ?? "(none)") → \(f.after ?? "(none)")"
                + (f.restart ? "" : "  (no restart)") + "\n"
        }
        for f in d.flags {
            let note = f.effective ? "" : "  (default value; no effective change)"
            switch f.kind {
            case .added: out += paint("  + \(f.flag)" + value(f.after), "32") + note + "\n"
            case .removed: out += paint("  - \(f.flag)" + value(f.before), "31") + note + "\n"
            default: out += paint("  ~ \(f.flag): \(f.before ?? "") → \(f.after ?? "")", "33") + note + "\n"
            }
        }
        for e in d.env {
            let sign = e.kind == .added ? "+" : (e.kind == .removed ? "-" : "~")
            if e.secret {
                out += "  \(sign) env \(e.name): (secret \(e.kind))\n"
            } else if e.kind == .changed {
                out += "  ~ env \(e.name): \(quote(e.before)) → \(quote(e.after))\n"
            } else {
                out += "  \(sign) env \(e.name)=\(quote(e.after ?? e.before))\n"
            }
        }
        return out
    }

    func value(_ v: String?) -> String {
        guard let v, v != "true" else { return "" }
        return " " + v
    }

    func quote(_ s: String?) -> String { "\"\(s ?? "")\"" }

    func paint(_ s: String, _ code: String) -> String {
        color ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s
    }
}
