public import DeploySpec
import Foundation

/// The repository root (this file is Tests/TestSupport/Repository.swift).
public let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// Repository files, read by paths relative to the repository root (as if it were the working
/// directory, without changing the process's working directory, which parallel tests share).
public struct RepositoryFileSource: ManifestFileSource {
    /// The directory relative paths start from.
    public var root: String

    /// A source rooted at `root` (default: the repository).
    public init(root: String = repositoryRoot) { self.root = root }

    func absolute(_ path: String) -> String { path.hasPrefix("/") ? path : root + "/" + path }

    /// The bytes of `path`, nil when it does not exist.
    public func read(_ path: String) -> [UInt8]? {
        FileManager.default.contents(atPath: absolute(path)).map { [UInt8]($0) }
    }

    /// `*.yaml`/`*.yml` files of `directory`, sorted, spelled relative like `directory`.
    public func yamlFiles(in directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: absolute(directory))) ?? []
        return names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().map { directory + "/" + $0 }
    }
}

/// Files held in memory, keyed by normalised path.
public struct MemoryFileSource: ManifestFileSource {
    /// Path → text.
    public var files: [String: String]

    /// A source over `files`.
    public init(files: [String: String]) { self.files = files }

    /// The bytes of `path`, nil when it is not held.
    public func read(_ path: String) -> [UInt8]? {
        files[ManifestPath.normalize(path)].map { Array($0.utf8) }
    }

    /// Whether any held file is under `path`.
    public func isDirectory(_ path: String) -> Bool {
        let dir = ManifestPath.normalize(path)
        return files.keys.contains { $0.hasPrefix(dir + "/") }
    }

    /// Held `*.yaml` files directly in `directory`, sorted.
    public func yamlFiles(in directory: String) -> [String] {
        let dir = ManifestPath.normalize(directory)
        return files.keys.filter { ManifestPath.directory(of: $0) == dir && $0.hasSuffix(".yaml") }.sorted()
    }
}
