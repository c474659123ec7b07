import DeployCore
import DeploySpec
import DeployTargets
import Foundation
import Testing

/// The repository root.
let repoRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// Loads and validates repository files (paths relative to the repo root).
func load(_ paths: [String]) -> ValidationResult {
    let cwd = FileManager.default.currentDirectoryPath
    _ = FileManager.default.changeCurrentDirectoryPath(repoRoot)
    defer { _ = FileManager.default.changeCurrentDirectoryPath(cwd) }
    let (m, d) = ManifestLoader(source: Disk(), targetTypes: TargetKinds.schemas).load(paths)
    return SpecValidator(targetTypes: TargetKinds.schemas).validate(m, loadDiagnostics: d)
}

/// Loads inline YAML files held in memory.
func loadInline(_ files: [String: String], _ paths: [String]) -> ValidationResult {
    let (m, d) = ManifestLoader(source: Mem(files: files), targetTypes: TargetKinds.schemas).load(paths)
    return SpecValidator(targetTypes: TargetKinds.schemas).validate(m, loadDiagnostics: d)
}

/// Files on disk (what the CLI reads), for the repository's own manifests.
struct Disk: ManifestFileSource {
    func read(_ path: String) -> [UInt8]? { FileManager.default.contents(atPath: path).map { [UInt8]($0) } }
    func yamlFiles(in directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().map { directory + "/" + $0 }
    }
}

struct Mem: ManifestFileSource {
    var files: [String: String]
    func read(_ path: String) -> [UInt8]? { files[ManifestPath.normalize(path)].map { Array($0.utf8) } }
    func yamlFiles(in directory: String) -> [String] { [] }
}

/// Compares text with a golden file beside the tests; `RECORD_SNAPSHOTS=1` re-records.
func expectGolden(_ text: String, _ name: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/\(name)").path
    if ProcessInfo.processInfo.environment["RECORD_SNAPSHOTS"] == "1" {
        try? text.write(toFile: path, atomically: true, encoding: .utf8)
        return
    }
    guard let golden = try? String(contentsOfFile: path, encoding: .utf8) else {
        Issue.record("missing golden file \(name); run with RECORD_SNAPSHOTS=1", sourceLocation: sourceLocation)
        return
    }
    #expect(text == golden, "output differs from Golden/\(name) (RECORD_SNAPSHOTS=1 re-records)", sourceLocation: sourceLocation)
}
