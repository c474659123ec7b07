public import Foundation
import Synchronization

/// Loads and caches the flag catalogs compiled into the binary (`EmbeddedFiles`). Thread-safe; each file is decoded once.
///
/// ```swift
/// let catalog = try CatalogStore.catalog(.sglang, version: "0.5.23")
/// ```
public final class CatalogStore: Sendable {
    /// The store over the catalogs compiled into the binary.
    public static let shared = CatalogStore()

    /// A folder of catalogs that replaces the compiled-in ones for every store without a directory of
    /// its own. The executables set it once at start-up, from `$DSDEPLOY_ENGINE_CATALOGS`, before the
    /// first catalog is read.
    public static var bundledOverride: URL? {
        get { overrideDirectory.withLock { $0 } }
        set { overrideDirectory.withLock { $0 = newValue } }
    }

    private static let overrideDirectory = Mutex<URL?>(nil)

    private let directory: URL?
    private let state = Mutex(State())

    private struct State {
        var index: [EngineKind: [String]]?
        var catalogs: [String: FlagCatalog] = [:]
        var histories: [EngineKind: HistoryRef] = [:]
    }

    /// A store over `directory` (a folder of generated catalogs); nil means the compiled-in ones.
    public init(directory: URL? = nil) {
        self.directory = directory
    }

    /// The catalog of `engine` at `version` (exact version string, as `versions(of:)` lists).
    public func catalog(_ engine: EngineKind, version: String) throws(CatalogError) -> FlagCatalog {
        let key = "\(engine.rawValue)-\(version)"
        if let cached = state.withLock({ $0.catalogs[key] }) { return cached }
        let known = try index()[engine] ?? []
        guard known.contains(version) else {
            throw CatalogError.unknownVersion(engine: engine, version: version, known: known,
                                              suggestion: nearestVersion(to: version, of: engine))
        }
        let catalog = try CatalogDecoder.catalog(bytes: try bytes("\(key).json"), file: "\(key).json",
                                                 history: history(of: engine))
        return state.withLock { s in
            if let raced = s.catalogs[key] { return raced }
            s.catalogs[key] = catalog
            return catalog
        }
    }

    /// The versions the store has a catalog for, oldest first (empty when unreadable).
    public func versions(of engine: EngineKind) -> [String] {
        (try? index()[engine]) ?? []
    }

    /// The surveyed version a version resolves to (`VersionResolution`: exact, same release, nearest
    /// older, newest or oldest); for a string that is not a version, the newest.
    public func nearestVersion(to version: String, of engine: EngineKind) -> String? {
        let known = versions(of: engine)
        return VersionResolution.resolve(version, engine: engine, known: known)?.catalogVersion ?? known.last
    }

    /// `shared.catalog(engine, version:)`.
    public static func catalog(_ engine: EngineKind, version: String) throws(CatalogError) -> FlagCatalog {
        try shared.catalog(engine, version: version)
    }

    /// `shared.versions(of:)`.
    public static func versions(of engine: EngineKind) -> [String] {
        shared.versions(of: engine)
    }

    /// `shared.nearestVersion(to:of:)`.
    public static func nearestVersion(to version: String, of engine: EngineKind) -> String? {
        shared.nearestVersion(to: version, of: engine)
    }

    // MARK: - Loading

    private func index() throws(CatalogError) -> [EngineKind: [String]] {
        if let idx = state.withLock({ $0.index }) { return idx }
        let idx = try CatalogDecoder.index(try load("index.json"))
        state.withLock { $0.index = idx }
        return idx
    }

    /// The engine's history, decoded lazily on first use (nil when the engine has none).
    private func history(of engine: EngineKind) -> HistoryRef? {
        let file = "\(engine.rawValue)-history.json"
        guard exists(file) else { return nil }
        return state.withLock { s in
            if let h = s.histories[engine] { return h }
            let dir = folder
            let ref = HistoryRef {
                guard let data = CatalogStore.read(file, in: dir), let json = try? JSONReader.parse(bytes: data) else { return nil }
                return try? EngineHistory(json: json)
            }
            s.histories[engine] = ref
            return ref
        }
    }

    /// The folder the catalogs are read from: the store's own, else `bundledOverride`; nil: the
    /// catalogs compiled into the binary (`EmbeddedFiles`).
    private var folder: URL? { directory ?? CatalogStore.bundledOverride }

    private func exists(_ file: String) -> Bool {
        guard let dir = folder else { return EmbeddedFiles.contains("catalogs/" + file) }
        return FileManager.default.fileExists(atPath: dir.appendingPathComponent(file).path)
    }

    private func bytes(_ file: String) throws(CatalogError) -> [UInt8] {
        guard let data = CatalogStore.read(file, in: folder) else { throw CatalogError.missingResource(file) }
        return data
    }

    /// A catalog file from `dir`, or compiled in when `dir` is nil.
    private static func read(_ file: String, in dir: URL?) -> [UInt8]? {
        guard let dir else { return EmbeddedFiles.bytes("catalogs/" + file) }
        return FileManager.default.contents(atPath: dir.appendingPathComponent(file).path).map { [UInt8]($0) }
    }

    private func load(_ file: String) throws(CatalogError) -> JSONValue {
        let data = try bytes(file)
        do {
            return try JSONReader.parse(bytes: data)
        } catch {
            throw CatalogError.malformed(file: file, reason: "\(error.message) at offset \(error.offset)")
        }
    }
}
