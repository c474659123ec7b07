public import Engines

/// What the command line asks the simulator to do.
public enum SimArgumentOutcome: Sendable {
    /// Run with this launch; `warnings` are logged (deprecated flags).
    case launch(SimLaunch, warnings: [String])
    /// `-h` / `--help`: print this text and exit 0.
    case help(String)
    /// An argparse error: print `usage` and `prog: error: message`, exit 2.
    case usageError(String)
    /// Flags argparse accepts but the engine rejects at start-up (exit 1 after a traceback).
    case configError(String)
}

/// Parses SGLang's command line against one catalog the way SGLang's argparse parser does.
///
/// Unknown (and removed) flags are collected into `unrecognized arguments: ...`; a wrong
/// value type, a missing value or an ambiguous abbreviation is `argument --x: ...`; unique
/// abbreviations are accepted like argparse's `allow_abbrev`; repeated flags keep the last value.
public enum SimArguments {
    /// The program name argparse shows (`python -m sglang.launch_server`).
    public static let prog = "launch_server.py"

    /// Parses `argv` (without the program name).
    public static func parse(_ argv: [String], catalog: FlagCatalog) -> SimArgumentOutcome {
        if argv.contains("-h") || argv.contains("--help") { return .help(helpText(catalog)) }
        let c = collect(argv, catalog: catalog)
        let (unrecognized, valueErrors, configErrors, warnings) = (c.unrecognized, c.valueErrors, c.configErrors, c.warnings)
        if let first = valueErrors.first { return .usageError(first) }
        guard case .string(let modelPath)? = c.flagSet["--model-path"], !modelPath.isEmpty else {
            return .usageError("the following arguments are required: --model-path/--model")
        }
        if !unrecognized.isEmpty { return .usageError("unrecognized arguments: " + unrecognized.joined(separator: " ")) }
        if let first = configErrors.first { return .configError(first) }
        let serverArgs = resolve(c.flagSet, catalog: catalog, modelPath: modelPath)
        let host = serverArgs["host"]?.string ?? "127.0.0.1"
        guard let port = serverArgs["port"]?.int, (0...65535).contains(port) else {
            return .usageError("argument --port: invalid port (must be 0-65535)")
        }
        let served = serverArgs["served_model_name"]?.string ?? modelPath
        return .launch(SimLaunch(host: host, port: port, modelPath: modelPath, servedModelName: served,
                                 serverArgs: serverArgs), warnings: warnings)
    }

    /// What checking argv against a catalog found, in argparse's terms.
    struct Collected {
        var flagSet: FlagSet
        /// Tokens for `unrecognized arguments: ...`.
        var unrecognized: [String] = []
        /// `argument --x: ...` errors (usage errors, exit 2).
        var valueErrors: [String] = []
        /// Errors the engine raises after parsing (exit 1).
        var configErrors: [String] = []
        /// Deprecation warnings.
        var warnings: [String] = []
    }

    /// Checks argv (flags only; leading non-flag tokens are unrecognized) the way argparse does.
    static func collect(_ argv: [String], catalog: FlagCatalog) -> Collected {
        var unrecognized: [String] = []
        let leading = argv.prefix { !ArgGroup.isFlagToken($0) }
        unrecognized += leading
        let groups = ArgGroup.group(tokens: argv.enumerated().map { (text: $0.element, offset: $0.offset) },
                                    origin: { $0 })
        let byOrigin = Dictionary(groups.map { ($0.origin, $0) }, uniquingKeysWith: { a, _ in a })
        let result = FlagChecker(catalog: catalog).check(groups)
        var valueErrors: [String] = []
        var configErrors: [String] = []
        var warnings: [String] = []
        for issue in result.issues {
            guard issue.isError else {
                warnings.append(issue.message)
                continue
            }
            let g = byOrigin[issue.origin]
            let flag = g?.flag ?? "?"
            switch issue.id {
            case "unknown-flag", "removed-flag":
                unrecognized += g.map { [$0.attached ? $0.flag + "=" + $0.values.joined() : $0.flag]
                    + ($0.attached ? [] : $0.values) } ?? []
            case "abbreviated-flag":  // an error only for an ambiguous prefix (a unique one is a warning)
                valueErrors.append("ambiguous option: \(flag) could match \(catalog.prefixMatches(flag).joined(separator: ", "))")
            case "missing-value":
                let many = catalog.spec(named: flag).map { $0.arity == .oneOrMore } ?? false
                valueErrors.append("argument \(flag): expected \(many ? "at least one argument" : "one argument")")
            case "unexpected-value":
                if let g, g.attached {
                    valueErrors.append("argument \(flag): ignored explicit argument '\(g.values.joined())'")
                } else if let g {
                    let takes = catalog.spec(named: flag).map { $0.isPresence ? 0 : 1 } ?? 0
                    unrecognized += g.values.dropFirst(takes)
                }
            case "invalid-value":
                valueErrors.append("argument \(flag): " + argparseValueMessage(issue, group: g, catalog: catalog))
            case "duplicate-flag":
                continue  // argparse keeps the last value silently
            default:
                configErrors.append(issue.message)
            }
        }
        return Collected(flagSet: result.flagSet, unrecognized: unrecognized, valueErrors: valueErrors,
                         configErrors: configErrors, warnings: warnings)
    }

    /// argparse's wording for a rejected value (`invalid int value: 'x'`, `invalid choice: ...`),
    /// or the checker's message for checks argparse does not make.
    static func argparseValueMessage(_ issue: FlagIssue, group: ArgGroup?, catalog: FlagCatalog) -> String {
        guard let g = group, let spec = catalog.spec(named: g.flag) else { return issue.message }
        var raw = g.values.first
        if case .value(let i) = issue.part, i < g.values.count { raw = g.values[i] }
        guard let raw else { return issue.message }
        if !spec.choices.isEmpty, !spec.choices.contains(raw) {
            return "invalid choice: '\(raw)' (choose from " + spec.choices.map { "'\($0)'" }.joined(separator: ", ") + ")"
        }
        let type = spec.valueType == .list ? (spec.elementType ?? .string) : spec.valueType
        switch type {
        case .int where Int(raw) == nil: return "invalid int value: '\(raw)'"
        case .float where Double(raw) == nil: return "invalid float value: '\(raw)'"
        default: return issue.message
        }
    }

    /// Every ServerArgs field: catalog defaults, then the given flags, then start-up resolution
    /// (`served_model_name` and `tokenizer_path` default to the model path, as SGLang does).
    static func resolve(_ flags: FlagSet, catalog: FlagCatalog, modelPath: String) -> [String: JSONValue] {
        var args = fields(flags, catalog: catalog)
        for field in ["served_model_name", "tokenizer_path"] where args[field] == nil || args[field] == .null {
            args[field] = .string(modelPath)
        }
        return args
    }

    /// Every catalog field: its default (null when none), then the value the given flags set.
    static func fields(_ flags: FlagSet, catalog: FlagCatalog) -> [String: JSONValue] {
        var args: [String: JSONValue] = [:]
        for spec in catalog.flags where args[spec.field] == nil || spec.defaultValue != nil {
            args[spec.field] = spec.defaultValue ?? .null
        }
        for (name, value) in flags.values {
            guard let spec = catalog.spec(named: name) else { continue }
            args[spec.field] = value.serverInfoJSON
        }
        return args
    }

    /// `usage: launch_server.py [-h] --model-path MODEL_PATH [--flag ...] ...` (one line per flag after).
    public static func usageLine(_ catalog: FlagCatalog) -> String {
        "usage: \(prog) [-h] --model-path MODEL_PATH [options]  (sglang \(catalog.version), \(catalog.flags.count) flags)"
    }

    /// The `--help` text: usage, then one line per flag with its help.
    static func helpText(_ catalog: FlagCatalog, prog: String = SimArguments.prog) -> String {
        let usage = prog == SimArguments.prog ? usageLine(catalog) : vllmUsageLine(catalog)
        var lines = [usage, "", "options:", "  -h, --help            show this help message and exit"]
        for spec in catalog.flags {
            let names = ([spec.name] + spec.aliases + spec.negativeNames).joined(separator: ", ")
            lines.append("  \(names)  \(spec.help)")
        }
        return lines.joined(separator: "\n")
    }
}
