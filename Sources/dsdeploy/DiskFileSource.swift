import DeploySpec
import Foundation

/// Manifest files in the working tree.
struct DiskFileSource: ManifestFileSource {
    /// Reads a file from disk.
    func read(_ path: String) -> [UInt8]? {
        FileManager.default.contents(atPath: path).map { [UInt8]($0) }
    }

    /// Lists `*.yaml`/`*.yml` in a directory, sorted.
    func yamlFiles(in directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
            .map { (directory as NSString).appendingPathComponent($0) }
    }
}
