/// The shape a manifest value must have: drives validation, JSON Schema output and docs.
public indirect enum SchemaType: Sendable {
    /// A string (a number is accepted too), optionally matching a regular expression.
    case string(pattern: String? = nil)
    /// An integer in a range.
    case integer(min: Int? = nil, max: Int? = nil)
    /// An integer or a decimal number.
    case number(min: Double? = nil, max: Double? = nil)
    /// true or false.
    case boolean
    /// One of these strings.
    case enumeration([String])
    /// A number or a string (env values, free-form scalars).
    case scalar
    /// A list of values of one type.
    case list(SchemaType)
    /// A string or a list of strings (entrypoints).
    case stringOrList
    /// GPUs: a count (`8`: ids 0…7) or a list of ids, all ≥ 0.
    case gpuIDs
    /// A mapping with free keys and values of one type.
    case map(SchemaType)
    /// A mapping with a fixed set of keys.
    case object(ObjectSchema)
    /// An env value: a scalar, or `{valueFrom: {env|file}, secret}`.
    case envValue
    /// Any value, not checked (the keys of a Target whose type is unknown: the type is the error).
    case any

    /// Name for messages ("a string", "a list", ...).
    var expected: String {
        switch self {
        case .string, .enumeration: return "a string"
        case .integer: return "an integer"
        case .number: return "a number"
        case .boolean: return "a boolean"
        case .scalar: return "a string or number"
        case .list: return "a list"
        case .stringOrList: return "a string or a list of strings"
        case .gpuIDs: return "a count or a list of GPU ids"
        case .map, .object: return "a mapping"
        case .envValue: return "a string or a mapping with 'valueFrom'"
        case .any: return "a value"
        }
    }
}

/// One key of an object.
public struct FieldSchema: Sendable {
    /// The key.
    public let name: String
    /// The shape of its value.
    public let type: SchemaType
    /// True when the key must be given.
    public let required: Bool
    /// What it means, for `dsdeploy schema` and editors.
    public let doc: String

    /// Creates a field.
    public init(_ name: String, _ type: SchemaType, required: Bool = false, _ doc: String) {
        self.name = name
        self.type = type
        self.required = required
        self.doc = doc
    }
}

/// A mapping with a fixed set of keys: unknown keys are errors.
public struct ObjectSchema: Sendable {
    /// Its name in the JSON Schema.
    public let title: String
    /// Its keys.
    public let fields: [FieldSchema]
    /// At most one of these keys may be given (model `id` vs `path`).
    public let exclusive: [[String]]
    /// The names of the required fields, in order (checked for every mapping: walking `fields` for
    /// them copied each field).
    let requiredFields: [String]
    /// How diagnostics name it (`the spec of a gpustack Target`); the title when nil.
    public var label: String?

    /// How diagnostics name it.
    var name: String { label ?? title }

    /// Creates an object schema.
    public init(_ title: String, exclusive: [[String]] = [], _ fields: [FieldSchema]) {
        self.title = title
        self.fields = fields
        self.exclusive = exclusive
        self.requiredFields = fields.filter(\.required).map(\.name)
    }

    func field(_ name: String) -> FieldSchema? { fields.first { $0.name == name } }

    /// Index in `fields` of the field with this name (the first, as `field(_:)` finds).
    func fieldIndex(_ name: String) -> Int? {
        for i in fields.indices where fields[i].name == name { return i }
        return nil
    }
}
