internal import CEmbedded

/// Files compiled into the binary (the `CEmbedded` module, listed by `scripts/gen-embedded.py`): the
/// flag catalogs under `catalogs/` and the stock backends under `templates/`. A copied `dsdeploy`
/// needs nothing beside it.
public enum EmbeddedFiles {
    /// Name → bytes in the binary's read-only data; built on first use.
    private nonisolated(unsafe) static let table: [String: UnsafeBufferPointer<UInt8>] = {
        var count = 0
        guard let files = dsd_embedded_files(&count) else { return [:] }
        var table: [String: UnsafeBufferPointer<UInt8>] = [:]
        for i in 0..<count {
            let f = files[i]
            table[String(cString: f.name)] = UnsafeBufferPointer(start: f.data, count: f.end - f.data)
        }
        return table
    }()

    /// The bytes of `name` ("catalogs/index.json", "templates/vllm.yaml"), nil when not embedded.
    public static func bytes(_ name: String) -> [UInt8]? {
        table[name].map { Array($0) }
    }

    /// Whether `name` is embedded.
    public static func contains(_ name: String) -> Bool {
        table[name] != nil
    }

    /// The embedded names that start with `prefix` ("templates/"), sorted.
    public static func names(under prefix: String) -> [String] {
        table.keys.filter { $0.hasPrefix(prefix) }.sorted()
    }
}
