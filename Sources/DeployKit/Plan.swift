/// What one planned change acts on: a replica slot (slot targets place every replica themselves), a
/// whole deployment (server-scheduled targets: the server places the replicas), or a backend version
/// a server keeps (GPUStack's custom versions).
public enum ChangeUnit: Sendable, Hashable, Codable, Comparable {
    /// Replica `index` of a deployment.
    case replica(deployment: String, index: Int)
    /// A deployment as one server object (a GPUStack model, a Kubernetes Deployment).
    case deployment(String)
    /// A backend version kept on the server.
    case backendVersion(backend: String, version: String)

    /// The deployment the unit belongs to (nil for a backend version).
    public var deployment: String? {
        switch self {
        case .replica(let d, _), .deployment(let d): return d
        case .backendVersion: return nil
        }
    }

    /// The replica index, for a replica unit.
    public var replica: Int? {
        if case .replica(_, let i) = self { return i }
        return nil
    }

    /// `deployment/replica`, `deployment`, or `backend version BACKEND VERSION`: how people and reports name it.
    public var id: String {
        switch self {
        case .replica(let d, let i): return "\(d)/\(i)"
        case .deployment(let d): return d
        case .backendVersion(let b, let v): return "backend version \(b) \(v)"
        }
    }

    /// Backend versions first (deployments use them), then deployments and their replicas by name and index.
    public static func < (a: ChangeUnit, b: ChangeUnit) -> Bool { a.sortKey < b.sortKey }

    var sortKey: (Int, String, Int, String) {
        switch self {
        case .backendVersion(let b, let v): return (0, b, 0, v)
        case .deployment(let d): return (1, d, -1, "")
        case .replica(let d, let i): return (1, d, i, "")
        }
    }

    enum CodingKeys: String, CodingKey { case kind, deployment, replica, backend, version }

    /// `{"kind": "replica", "deployment": "dspark", "replica": 0}` (flat, for jq).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .replica(let d, let i):
            try c.encode("replica", forKey: .kind)
            try c.encode(d, forKey: .deployment)
            try c.encode(i, forKey: .replica)
        case .deployment(let d):
            try c.encode("deployment", forKey: .kind)
            try c.encode(d, forKey: .deployment)
        case .backendVersion(let b, let v):
            try c.encode("backendVersion", forKey: .kind)
            try c.encode(b, forKey: .backend)
            try c.encode(v, forKey: .version)
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .kind) {
        case "replica": self = .replica(deployment: try c.decode(String.self, forKey: .deployment),
                                        index: try c.decode(Int.self, forKey: .replica))
        case "deployment": self = .deployment(try c.decode(String.self, forKey: .deployment))
        case "backendVersion": self = .backendVersion(backend: try c.decode(String.self, forKey: .backend),
                                                      version: try c.decode(String.self, forKey: .version))
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .kind, in: c, debugDescription: "unknown change unit '\(other)'")
        }
    }
}

/// One change to one unit. Apply decides on `action` alone; `reason` and `notes` are for people.
public struct PlannedChange: Sendable, Codable, Hashable {
    /// What to do (Terraform's vocabulary; the symbol belongs to the action).
    public enum Action: String, Sendable, Codable, Hashable, CaseIterable {
        /// Start (or write) a unit that does not exist.
        case create
        /// Change only what needs no restart (labels, replica count on a server).
        case update
        /// Start the new revision, verify it, then stop the old one.
        case replace
        /// Stop and forget the unit.
        case delete
        /// Nothing to do.
        case noop

        /// `+`, `~`, `-` or a space.
        public var symbol: String {
            switch self {
            case .create: return "+"
            case .update, .replace: return "~"
            case .delete: return "-"
            case .noop: return " "
            }
        }

        /// ANSI colour code of the action in text output.
        public var colour: String {
            switch self {
            case .create: return "32"
            case .delete: return "31"
            case .update, .replace: return "33"
            case .noop: return "0"
            }
        }
    }

    /// What the change acts on.
    public var unit: ChangeUnit
    /// The action.
    public var action: Action
    /// Why, in words.
    public var reason: String
    /// Slot targets: the desired launch (nil for delete and for server-scheduled targets).
    public var desired: LaunchSpec?
    /// Slot targets: the instance currently there (nil for create and for server-scheduled targets).
    public var current: ObservedReplica?
    /// Flag-level differences between current and desired.
    public var flags: [FlagDiffEntry]
    /// Field differences (image, env, model, replicas ...).
    public var fields: [FieldChange]
    /// The revision the unit runs once the change is applied (nil for delete, backend versions).
    public var revision: String?
    /// Server-scheduled targets: the server's id of the object (a GPUStack model id), nil when new.
    public var ref: String?
    /// Server-scheduled targets: replicas the server is asked to run.
    public var replicas: Int?
    /// How the target will run it, for people (flags a server injects, duplicates).
    public var notes: [String]

    /// Creates a change of any unit.
    public init(unit: ChangeUnit, action: Action, reason: String, desired: LaunchSpec? = nil,
                current: ObservedReplica? = nil, flags: [FlagDiffEntry] = [], fields: [FieldChange] = [],
                revision: String? = nil, ref: String? = nil, replicas: Int? = nil, notes: [String] = []) {
        self.unit = unit
        self.revision = revision ?? desired?.revision
        self.action = action
        self.reason = reason
        self.desired = desired
        self.current = current
        self.flags = flags
        self.fields = fields
        self.ref = ref
        self.replicas = replicas
        self.notes = notes
    }

    /// Creates a change of a replica slot.
    public init(deployment: String, replica: Int, action: Action, reason: String, desired: LaunchSpec?,
                current: ObservedReplica?, flags: [FlagDiffEntry], fields: [FieldChange]) {
        self.init(unit: .replica(deployment: deployment, index: replica), action: action, reason: reason,
                  desired: desired, current: current, flags: flags, fields: fields)
    }

    /// The deployment the change belongs to (empty for a backend version).
    public var deployment: String { unit.deployment ?? "" }
    /// The replica slot, for replica changes (0 otherwise).
    public var replica: Int { unit.replica ?? 0 }
    /// How people and reports name the unit (`deployment/replica`, `deployment`, `backend version B V`).
    public var id: String { unit.id }
}

/// Names a target in plans, reports and status: what the user called it and what it is.
public struct TargetRef: Sendable, Codable, Hashable {
    /// The Target document's name (`local` for the embedded target).
    public var name: String
    /// Its type (`local`, `gpustack` ...).
    public var type: String
    /// Where it is, for people (`GPUStack v2.3.0 at http://…, cluster default (owner prod)`); empty for local.
    public var detail: String

    /// Creates a reference.
    public init(name: String, type: String, detail: String = "") {
        self.name = name
        self.type = type
        self.detail = detail
    }
}

/// API requests a server-scheduled target made.
public struct APICalls: Sendable, Codable, Hashable {
    /// Read requests.
    public var reads: Int
    /// Write requests.
    public var writes: Int

    /// Creates a count.
    public init(reads: Int, writes: Int) {
        self.reads = reads
        self.writes = writes
    }

    /// Reads plus writes.
    public var total: Int { reads + writes }
}

/// A plan: pure data, computed from (desired, observed) by a target, rendered and applied separately.
public struct Plan: Sendable, Codable, Hashable {
    /// The format this dsdeploy writes and reads (2: units, target, blockers, notes).
    public static let currentFormatVersion = 2
    /// Schema version of the JSON form.
    public var formatVersion = Plan.currentFormatVersion
    /// The target the plan was made against.
    public var target: TargetRef
    /// Fingerprint of the desired state the plan was made for.
    public var desiredDigest: String
    /// Fingerprint of the observed state the plan was made against (a plan file is stale when it changed).
    public var observedDigest: String
    /// Manifest files the plan was made from.
    public var files: [String]
    /// Every unit, sorted: backend versions, then deployments and replicas.
    public var changes: [PlannedChange]
    /// Deployments the target runs for these manifests that are not in them and were not pruned.
    public var orphans: [String]
    /// Conditions that stop apply (a server object of the same name dsdeploy does not own ...).
    public var blockers: [String]
    /// Notes for people (an untested server version ...).
    public var notes: [String]
    /// Requests made to compute the plan (server-scheduled targets), nil when none were made.
    public var apiCalls: APICalls?

    /// Creates a plan.
    public init(target: TargetRef, desiredDigest: String, observedDigest: String, files: [String],
                changes: [PlannedChange], orphans: [String], blockers: [String] = [], notes: [String] = [],
                apiCalls: APICalls? = nil) {
        self.target = target
        self.desiredDigest = desiredDigest
        self.observedDigest = observedDigest
        self.files = files
        self.changes = changes
        self.orphans = orphans
        self.blockers = blockers
        self.notes = notes
        self.apiCalls = apiCalls
    }

    /// True when something would change.
    public var hasChanges: Bool { changes.contains { $0.action != .noop } }

    /// Count of changes with this action.
    public func count(_ a: PlannedChange.Action) -> Int { changes.filter { $0.action == a }.count }

    /// The fingerprint of a list of parts (order-free): what `desiredDigest` and `observedDigest` are made of.
    public static func digest(_ parts: [String]) -> String {
        Revision.fnv1a64(parts.sorted().joined(separator: "\n"))
    }

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version", target, desiredDigest = "desired_digest",
             observedDigest = "observed_digest", files, changes, orphans, blockers, notes, apiCalls = "api_calls"
    }
}
