/// One engine flag as written, with its value(s): the unit the checker works on.
///
/// A manifest `args` entry (`--tp-size 8`, `--tp-size=8`, `--trust-remote-code`) is one group;
/// a run-command template is split into argv tokens and grouped (a token starting with `-`
/// that is not a negative number starts a group).
public struct ArgGroup: Hashable, Sendable {
    /// The flag as spelled, without any `=value` part (`--tp-size`, `--tp`, `-m`).
    public var flag: String
    /// The value tokens after the flag (empty for a presence flag). `--k=v` gives `["v"]`.
    public var values: [String]
    /// True when the value was attached with `=`.
    public var attached: Bool
    /// The caller's index of this group (which manifest entry / template token it came from).
    public var origin: Int
    /// Column offset (0-based, in Unicode scalars) of the flag inside the caller's source text.
    public var flagOffset: Int
    /// Column offset of each value token inside the caller's source text.
    public var valueOffsets: [Int]

    /// Creates a group.
    public init(flag: String, values: [String], attached: Bool = false, origin: Int,
                flagOffset: Int = 0, valueOffsets: [Int] = []) {
        self.flag = flag
        self.values = values
        self.attached = attached
        self.origin = origin
        self.flagOffset = flagOffset
        self.valueOffsets = valueOffsets.count == values.count
            ? valueOffsets : Array(repeating: flagOffset, count: values.count)
    }
}

/// A problem the checker found in a flag group; the caller maps it to a file location.
public struct FlagIssue: Hashable, Sendable {
    /// Which part of the group the caret points at.
    public enum Part: Hashable, Sendable { case flag, value(Int) }
    /// error or warning.
    public var isError: Bool
    /// Stable id (`unknown-flag`, `removed-flag`, `abbreviated-flag`, `missing-value`,
    /// `unexpected-value`, `invalid-value`, `duplicate-flag`, `flag-conflict`, `deprecated-flag`).
    public var id: String
    /// The message (no location prefix).
    public var message: String
    /// `ArgGroup.origin` of the group the issue is about.
    public var origin: Int
    /// The part of that group to point at.
    public var part: Part
    /// Extra lines (`note: ...`).
    public var notes: [String]
    /// Origin of another group the issue refers to (the first occurrence of a duplicate
    /// flag), so the caller can point a note at it; nil when none.
    public var related: Int?
    /// The text that should replace the flag as written (the full name of an abbreviation, the
    /// closest flag of a typo, the replacement of a removed flag); nil when there is no single fix.
    public var fixIt: String?

    /// Creates an issue.
    public init(error: Bool, id: String, message: String, origin: Int, part: Part = .flag,
                notes: [String] = [], related: Int? = nil, fixIt: String? = nil) {
        self.isError = error
        self.id = id
        self.message = message
        self.origin = origin
        self.part = part
        self.notes = notes
        self.related = related
        self.fixIt = fixIt
    }
}

/// Facts about where the flags will run, for placement rules (tp × pp must fit the GPUs).
public struct CheckContext: Hashable, Sendable {
    /// GPUs given to one replica on one node; nil when the manifest does not say.
    public var gpusPerReplica: Int?
    /// Nodes one replica spans (1 for a single host).
    public var nodes: Int

    /// Creates a context.
    public init(gpusPerReplica: Int? = nil, nodes: Int = 1) {
        self.gpusPerReplica = gpusPerReplica
        self.nodes = nodes
    }
}
