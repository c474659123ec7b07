import Synchronization

/// A flag the engine version no longer has, and what to use instead.
public struct FlagRemoval: Hashable, Sendable {
    /// The removed flag.
    public var flag: String
    /// First surveyed version without the flag.
    public var removedIn: String
    /// Last surveyed version with the flag.
    public var lastSeen: String
    /// Flags of this catalog to use instead (may be empty).
    public var replacements: [String]
    /// Extra advice (e.g. the JSON form of a replacement), nil when none.
    public var note: String?
    /// True when the surveyed versions are sparse: removal happened somewhere after `lastSeen`.
    public var approximate: Bool
}

/// A flag that only exists in versions newer than the catalog's.
public struct FlagIntroduction: Hashable, Sendable {
    /// The flag.
    public var flag: String
    /// First surveyed version with the flag.
    public var firstSeen: String
    /// True when the surveyed versions are sparse: it was added somewhere before `firstSeen`.
    public var approximate: Bool
}

/// Added/removed flags across the surveyed versions of one engine (`<engine>-history.json`).
struct EngineHistory: Sendable {
    struct Record: Sendable {
        var firstSeen: String
        var lastSeen: String
        var removedIn: String?
        var replacements: [String]
        var note: String?
        /// The record's own precision (the two versions around it are adjacent releases); nil: the file's.
        var approximate: Bool?
    }

    var approximate: Bool
    var records: [String: Record]
    /// The oldest surveyed version.
    var oldest: String?

    /// Decodes the generated history file.
    init(json: JSONValue) throws(CatalogError) {
        guard case .object(let root) = json, case .object(let flags)? = root["flags"] else {
            throw CatalogError.malformed(file: "history", reason: "missing 'flags'")
        }
        if case .bool(let b)? = root["approximate"] { approximate = b } else { approximate = false }
        oldest = root["versions"]?.stringArray?.first
        var out: [String: Record] = [:]
        out.reserveCapacity(flags.count)
        for (name, value) in flags {
            guard case .object(let r) = value else { continue }
            out[name] = Record(firstSeen: r["first_seen"]?.stringValue ?? "",
                               lastSeen: r["last_seen"]?.stringValue ?? "",
                               removedIn: r["removed_in"]?.stringValue,
                               replacements: r["replacements"]?.stringArray ?? [],
                               note: r["note"]?.stringValue,
                               approximate: { if case .bool(let b)? = r["approximate"] { return b }; return nil }())
        }
        records = out
    }
}

/// A history decoded on first use (only unknown flags need it, so catalog loads skip it).
final class HistoryRef: Sendable {
    private let loader: @Sendable () -> EngineHistory?
    private let cache = Mutex<EngineHistory??>(nil)

    /// A reference that runs `loader` once, on the first `history` access.
    init(_ loader: @escaping @Sendable () -> EngineHistory?) {
        self.loader = loader
    }

    /// A reference to an already decoded history.
    convenience init(_ history: EngineHistory) {
        self.init { history }
    }

    /// The history (nil when it could not be read).
    var history: EngineHistory? {
        cache.withLock { cached in
            if case .some(let h) = cached { return h }
            let h = loader()
            cached = .some(h)
            return h
        }
    }
}

extension FlagCatalog {
    /// Why `flag` is not in this catalog when a surveyed older version had it: set when this
    /// version is at or after `removedIn`. Replacements are those this catalog has (following
    /// a replacement that was itself removed later).
    public func removal(of flag: String) -> FlagRemoval? {
        let name = normalized(flag)
        guard let h = history?.history, let r = h.records[name], let removedIn = r.removedIn,
              engineVersion >= EngineVersion(removedIn), spec(named: name) == nil else { return nil }
        var seen: Set<String> = [name]
        var reps: [String] = []
        func follow(_ candidates: [String], depth: Int) {
            for c in candidates where !seen.contains(c) {
                seen.insert(c)
                if let s = spec(named: c) {
                    if !reps.contains(s.name) { reps.append(s.name) }
                } else if depth < 4, let next = h.records[c] {
                    follow(next.replacements, depth: depth + 1)
                }
            }
        }
        follow(r.replacements, depth: 0)
        return FlagRemoval(flag: name, removedIn: removedIn, lastSeen: r.lastSeen,
                           replacements: reps, note: r.note, approximate: r.approximate ?? h.approximate)
    }

    /// Set when `flag` only appears in surveyed versions newer than this catalog's.
    public func introduction(of flag: String) -> FlagIntroduction? {
        let name = normalized(flag)
        guard let h = history?.history, let r = h.records[name], !r.firstSeen.isEmpty,
              engineVersion < EngineVersion(r.firstSeen), spec(named: name) == nil else { return nil }
        return FlagIntroduction(flag: name, firstSeen: r.firstSeen, approximate: r.approximate ?? h.approximate)
    }
}

extension JSONValue {
    /// The string, when this is a JSON string.
    var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The strings of a JSON array of strings (other elements skipped).
    var stringArray: [String]? {
        guard case .array(let a) = self else { return nil }
        return a.compactMap(\.stringValue)
    }
}

/// When a flag name was seen across the surveyed versions of its engine.
public struct FlagLifetime: Hashable, Sendable {
    /// First surveyed version with the flag; nil when it is in the oldest surveyed one.
    public var firstSeen: String?
    /// First surveyed version without it again; nil when the newest still has it.
    public var removedIn: String?
}

extension FlagCatalog {
    /// The surveyed lifetime of a flag name (nil when the engine has no history).
    public func lifetime(of flag: String) -> FlagLifetime? {
        guard let h = history?.history else { return nil }
        guard let r = h.records[normalized(flag)] else { return FlagLifetime(firstSeen: nil, removedIn: nil) }
        return FlagLifetime(firstSeen: r.firstSeen == h.oldest ? nil : r.firstSeen, removedIn: r.removedIn)
    }

    /// Every flag name the engine's history knows that this version does not have (removed before it,
    /// or added after it), sorted.
    public var historicalNames: [String] {
        guard let h = history?.history else { return [] }
        return h.records.keys.filter { spec(named: $0) == nil }.sorted()
    }
}
