/// The shape a manifest value must have: drives validation, JSON Schema output and docs.
indirect enum SchemaType: Sendable {
    case string(pattern: String? = nil)
    case integer(min: Int? = nil, max: Int? = nil)
    /// An integer or a decimal number.
    case number(min: Double? = nil, max: Double? = nil)
    case boolean
    case enumeration([String])
    /// A number or a string (env values, free-form scalars).
    case scalar
    case list(SchemaType)
    /// A string or a list of strings (entrypoints).
    case stringOrList
    /// A mapping with free keys and values of one type.
    case map(SchemaType)
    case object(ObjectSchema)
    /// An env value: a scalar, or `{valueFrom: {env|file}, secret}`.
    case envValue

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
        case .map, .object: return "a mapping"
        case .envValue: return "a string or a mapping with 'valueFrom'"
        }
    }
}

/// One key of an object.
struct FieldSchema: Sendable {
    let name: String
    let type: SchemaType
    let required: Bool
    let doc: String

    init(_ name: String, _ type: SchemaType, required: Bool = false, _ doc: String) {
        self.name = name
        self.type = type
        self.required = required
        self.doc = doc
    }
}

/// A mapping with a fixed set of keys: unknown keys are errors.
struct ObjectSchema: Sendable {
    let title: String
    let fields: [FieldSchema]
    /// At most one of these keys may be given (model `id` vs `path`).
    let exclusive: [[String]]

    init(_ title: String, exclusive: [[String]] = [], _ fields: [FieldSchema]) {
        self.title = title
        self.fields = fields
        self.exclusive = exclusive
    }

    func field(_ name: String) -> FieldSchema? { fields.first { $0.name == name } }
}
