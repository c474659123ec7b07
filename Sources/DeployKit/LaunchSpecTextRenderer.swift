import DeploySpec
import Foundation

/// Renders launch specs for people: a copy-pasteable command line and a provenance table.
public struct LaunchSpecTextRenderer: Sendable {
    /// Use ANSI colours.
    public var color: Bool

    /// Creates a renderer.
    public init(color: Bool = false) { self.color = color }

    /// The text for all replicas.
    public func render(_ specs: [LaunchSpec]) -> String {
        var out = ""
        for (i, s) in specs.enumerated() {
            if i > 0 { out += "\n" }
            out += bold("\(s.id)") + "  revision \(s.revision)  target \(s.target)  \(s.host):\(s.port)"
                + (s.gpuIds.isEmpty ? "" : "  gpus \(s.gpuIds.map(String.init).joined(separator: ","))") + "\n"
            out += "  image:  \(s.image)\n"
            out += "  engine: \(s.engine) \(s.engineVersion)\n"
            out += "  argv:   " + s.argv.map(ShellQuote.quote).joined(separator: " ") + "\n"
            if let pd = s.pd {
                switch pd.role {
                case .router:
                    out += "  role:   router of \(pd.group): dsdeploy registers \(pd.group)-prefill and \(pd.group)-decode servers through POST /workers as they become ready\n"
                case .prefill, .decode:
                    out += "  role:   \(pd.role.rawValue) server of \(pd.group)" + (s.bootstrapPort.map { ", bootstrap port \($0)" } ?? "") + "\n"
                }
            }
            if let n = s.nodes, n > 1 {
                if let placed = s.nodeHosts, placed.count == n {
                    // Nodes on distinct hosts: each node's whole argv (its own --host, the replica's port).
                    out += "  nodes:  \(n), one engine instance (rank 0 serves the API), one node per host, each runs:\n"
                    for (rank, p) in placed.enumerated() {
                        let node = s.forNode(rank)
                        out += "    node \(rank) on \(p.host) \(p.address)"
                            + (p.gpuIds.isEmpty ? "" : " gpus \(p.gpuIds.map(String.init).joined(separator: ","))") + ":\n"
                        out += "      " + node.argv.map(ShellQuote.quote).joined(separator: " ") + "\n"
                    }
                } else {
                    out += "  nodes:  \(n), one engine instance (rank 0 serves the API); each node runs the argv above with:\n"
                    for rank in 0..<n {
                        let port = rank == 0 ? "" : "--port \(s.port + 100 * rank) "
                        out += "    node \(rank): " + port + s.nodeFlags(rank: rank).map(ShellQuote.quote).joined(separator: " ") + "\n"
                    }
                }
            }
            out += "  flags:\n"
            let width = min(60, s.flags.map { $0.tokens.joined(separator: " ").count }.max() ?? 0)
            for f in s.flags {
                let t = f.tokens.joined(separator: " ")
                let source = f.source.rawValue
                out += "    " + t + String(repeating: " ", count: max(1, width - t.count + 2)) + source
                if let o = f.origin { out += String(repeating: " ", count: max(1, 12 - source.count)) + o.description }
                out += "\n"
            }
            if !s.env.isEmpty {
                out += "  env:\n"
                for e in s.env {
                    out += "    \(e.name)=\(e.display)" + (e.secret ? "  (secret, \(e.from ?? ""))" : "")
                    if let o = e.origin { out += "  " + o.description }
                    out += "\n"
                }
            }
            // Fields an overlay or a setting changed (the base's own fields are in the JSON output).
            let overridden = (s.fieldOrigins ?? [:]).filter { !$0.value.isBase }.sorted { $0.key < $1.key }
            if !overridden.isEmpty {
                out += "  set by overlays and settings:\n"
                let w = overridden.map(\.key.count).max() ?? 0
                for (path, o) in overridden {
                    out += "    " + path + String(repeating: " ", count: w - path.count + 2) + o.description + "\n"
                }
            }
        }
        return out
    }

    func bold(_ s: String) -> String { color ? "\u{1B}[1m\(s)\u{1B}[0m" : s }
}

/// POSIX-shell quoting for display only (dsdeploy never runs a shell).
public enum ShellQuote {
    /// The token quoted so that a shell would read it back as one word.
    public static func quote(_ s: String) -> String {
        if s.isEmpty { return "''" }
        let safe = s.unicodeScalars.allSatisfy { u in
            (u.value >= 0x30 && u.value <= 0x39) || (u.value >= 0x41 && u.value <= 0x5A)
                || (u.value >= 0x61 && u.value <= 0x7A) || "-_./:=,@%+".unicodeScalars.contains(u)
        }
        if safe { return s }
        return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
