public import Foundation
import Synchronization

/// Loads and caches the bundled flag catalogs. Thread-safe; each file is decoded once.
///
/// ```swift
/// let catalog = try CatalogStore.catalog(.sglang, version: "0.5.23")
/// ```
public final class CatalogStore: Sendable {
    /// The store over the catalogs bundled with this module.
    public static let shared = CatalogStore()

    /// A folder of catalogs that replaces the bundled ones for every store without a directory of
    /// its own. The executables set it once at start-up, from `$DSDEPLOY_ENGINE_CATALOGS`, before the
    /// first catalog is read (a store remembers the folder it found).
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
        var bundled: URL?
    }

    /// A store over `directory` (a folder of generated catalogs); nil means the bundled ones.
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
        guard let url = try? resourceURL(file), FileManager.default.fileExists(atPath: url.path) else {
            return nil
        }
        return state.withLock { s in
            if let h = s.histories[engine] { return h }
            let ref = HistoryRef {
                guard let data = FileManager.default.contents(atPath: url.path),
                      let json = try? JSONReader.parse(bytes: [UInt8](data)) else { return nil }
                return try? EngineHistory(json: json)
            }
            s.histories[engine] = ref
            return ref
        }
    }

    private func resourceURL(_ file: String) throws(CatalogError) -> URL {
        if let dir = directory { return dir.appendingPathComponent(file) }
        if let dir = state.withLock({ $0.bundled }) { return dir.appendingPathComponent(file) }
        let dir = try CatalogStore.bundledDirectory()
        state.withLock { $0.bundled = dir }
        return dir.appendingPathComponent(file)
    }

    /// The bundled `catalogs` folder: `bundledOverride` when set, else the `*_Engines.resources`
    /// bundle next to the executable (checked first because SwiftPM's `Bundle.module` accessor traps
    /// when the bundle is missing), else `Bundle.module`.
    static func bundledDirectory() throws(CatalogError) -> URL {
        let fm = FileManager.default
        if let dir = bundledOverride { return dir }
        // The usual place first, found without `Bundle.main` or listing the folder (which cost
        // ~30M instructions, a tenth of validating a small manifest, in a build folder).
        let main = executableDirectory() ?? Bundle.main.bundleURL
        let usual = main.appendingPathComponent("dsdeploy_Engines.resources").appendingPathComponent("catalogs")
        if fm.fileExists(atPath: usual.appendingPathComponent("index.json").path) { return usual }
        let beside = (try? fm.contentsOfDirectory(atPath: main.path))?
            .filter { $0.hasSuffix("_Engines.resources") }.sorted() ?? []
        for name in beside {
            let dir = main.appendingPathComponent(name).appendingPathComponent("catalogs")
            if fm.fileExists(atPath: dir.appendingPathComponent("index.json").path) { return dir }
        }
        guard let dir = Bundle.module.url(forResource: "catalogs", withExtension: nil) else {
            throw CatalogError.missingResource("catalogs")
        }
        return dir
    }

    /// The folder of the running executable (Linux: `/proc/self/exe`), nil where unknown.
    private static func executableDirectory() -> URL? {
        #if os(Linux)
        guard let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return nil }
        return URL(fileURLWithPath: path).deletingLastPathComponent()
        #else
        return nil
        #endif
    }

    private func bytes(_ file: String) throws(CatalogError) -> [UInt8] {
        let url = try resourceURL(file)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw CatalogError.missingResource(file)
        }
        return [UInt8](data)
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
