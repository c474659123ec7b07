import DeployCore

/// Warnings at `$NAME` and `${NAME}` in env values, args and run commands (deployments, backend
/// versions, and the settings of overlays and `--values` files): dsdeploy starts engines from argv
/// arrays with no shell, so nothing expands them and the engine would get the text as written (a
/// Docker Compose habit, `HF_TOKEN: ${HF_TOKEN}`, would send the engine that text as its token). An
/// env value that is one reference gets `valueFrom` as its fix-it.
struct UnexpandedVariables {
    var diagnostics: [Diagnostic] = []

    /// One manifest document's spec.
    mutating func check(kind: String, spec: YAMLMapping) {
        switch kind {
        case "Deployment":
            unexpanded(env: spec["env"])
            unexpanded(args: spec["args"])
            if let pd = spec["disaggregation"]?.mapping {
                for role in ["prefill", "decode"] {
                    unexpanded(env: pd[role]?.mapping?["env"])
                    unexpanded(args: pd[role]?.mapping?["args"])
                }
                unexpanded(args: pd["router"]?.mapping?["args"])
            }
        case "Backend":
            for (_, version) in spec["versions"]?.mapping?.stringPairs ?? [] {
                guard let v = version.mapping else { continue }
                unexpanded(env: v["env"])
                unexpanded(args: v["args"])
                if let command = v["command"]?.scalar { unexpanded(command, what: "the run command") }
            }
        case "Overlay":
            for (_, patch) in spec["deployments"]?.mapping?.stringPairs ?? [] {
                for (path, value) in patch.mapping?["set"]?.mapping?.stringPairs ?? [] { check(setting: path.value, value) }
            }
        default:
            break
        }
    }

    /// One setting of a deployment (an overlay's `set`, a `--values` file's `deployments.NAME.PATH`
    /// with `PATH` given): the paths that reach an engine are `env.NAME`, `args`, and flags (`--x` or
    /// `args.--x`).
    mutating func check(setting key: String, _ value: YAMLNode) {
        if key.hasPrefix("env.") {
            guard let s = value.scalar ?? value.mapping?["value"]?.scalar else { return }
            unexpanded(s, what: "env '\(key.dropFirst(4))'", envValue: value.scalar != nil)
        } else if key == "args" {
            unexpanded(args: value)
        } else if key.hasPrefix("-") || key.hasPrefix("args.") {
            if let s = value.scalar { unexpanded(s, what: "the value of '\(key.hasPrefix("args.") ? String(key.dropFirst(5)) : key)'") }
        }
    }

    private mutating func unexpanded(env node: YAMLNode?) {
        guard let m = node?.mapping else { return }
        for (name, value) in m.stringPairs {
            guard let s = value.scalar ?? value.mapping?["value"]?.scalar else { continue }
            unexpanded(s, what: "env '\(name.value)'", envValue: value.scalar != nil)
        }
    }

    private mutating func unexpanded(args node: YAMLNode?) {
        for item in node?.sequence?.items ?? [] {
            if let s = item.scalar { unexpanded(s, what: "the args entry") }
        }
    }

    private mutating func unexpanded(_ s: YAMLScalar, what: String, envValue: Bool = false) {
        guard s.value.utf8.contains(UInt8(ascii: "$")) else { return }
        let refs = Self.shellReferences(s.value)
        guard let first = refs.first else { return }
        let list = refs.map { "'\($0.text)'" }.joined(separator: ", ")
        var d = Diagnostic.warning("unexpanded-variable",
                                   "\(what) has \(list), which no shell expands: the engine gets it as written",
                                   at: s.location, length: s.length)
        if envValue, refs.count == 1, first.text == s.value {
            d.notes = ["to take the value from dsdeploy's own environment when it applies, write valueFrom (a secret unless 'secret: false')"]
            d.fixIt = "{valueFrom: {env: \(first.name)}}"
        } else {
            d.notes = ["dsdeploy starts engines from argv arrays, not through a shell; write the value itself, "
                       + "or pass it as an env var with valueFrom: {env: NAME}"]
        }
        diagnostics.append(d)
    }

    /// The `$NAME` and `${NAME}` references in `text` (shell and Docker Compose syntax), in order.
    static func shellReferences(_ text: String) -> [(text: String, name: String)] {
        let u = Array(text.utf8)
        func isStart(_ b: UInt8) -> Bool { b == UInt8(ascii: "_") || (b | 0x20) >= UInt8(ascii: "a") && (b | 0x20) <= UInt8(ascii: "z") }
        func isPart(_ b: UInt8) -> Bool { isStart(b) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) }
        var out: [(text: String, name: String)] = []
        var i = 0
        while i < u.count {
            guard u[i] == UInt8(ascii: "$"), i + 1 < u.count else { i += 1; continue }
            if u[i + 1] == UInt8(ascii: "{") {
                var j = i + 2
                while j < u.count, isPart(u[j]) { j += 1 }
                // `${NAME}` and `${NAME:-default}`-style forms; the name must start like a variable's.
                if j > i + 2, isStart(u[i + 2]), j < u.count, u[j] == UInt8(ascii: "}") || u[j] == UInt8(ascii: ":") || u[j] == UInt8(ascii: "-") {
                    var end = j
                    while end < u.count, u[end] != UInt8(ascii: "}") { end += 1 }
                    if end < u.count {
                        out.append((String(decoding: u[i...end], as: UTF8.self), String(decoding: u[(i + 2)..<j], as: UTF8.self)))
                        i = end + 1
                        continue
                    }
                }
            } else if isStart(u[i + 1]) {
                var j = i + 1
                while j < u.count, isPart(u[j]) { j += 1 }
                out.append((String(decoding: u[i..<j], as: UTF8.self), String(decoding: u[(i + 1)..<j], as: UTF8.self)))
                i = j
                continue
            }
            i += 1
        }
        return out
    }
}
