import DeployCore
@testable import DeploySpec
import DeployTargets
import Foundation
import Testing
import TestSupport

/// Files on disk (what the CLI reads), for the repository's shipped manifests.
struct DiskFileSource: ManifestFileSource {
    func read(_ path: String) -> [UInt8]? { FileManager.default.contents(atPath: path).map { [UInt8]($0) } }

    func yamlFiles(in directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().map { directory + "/" + $0 }
    }
}

/// The repository root (for shipped manifests and templates).
let repoRoot = repositoryRoot

/// A marker in inline YAML: the caret of the expected diagnostic lands on the character after it.
let marker: Character = "⁁"

/// Removes every marker; returns the clean text and the (line, column) of each marker in order.
func markers(_ text: String) -> (String, [(line: Int, column: Int)]) {
    var clean = ""
    var found: [(Int, Int)] = []
    var line = 1, column = 1
    for ch in text {
        if ch == marker { found.append((line, column)); continue }
        clean.append(ch)
        if ch == "\n" { line += 1; column = 1 } else { column += ch.unicodeScalars.count }
    }
    return (clean, found)
}

/// Validates inline YAML (plus the repo's stock templates).
func validate(_ yaml: String, file: String = "m.yaml", extra: [String: String] = [:]) -> ValidationResult {
    var files = extra
    files[file] = yaml
    let source = MemoryFileSource(files: files)
    let loader = ManifestLoader(source: source, templateDirectories: [], targetTypes: TargetKinds.schemas)
    let (m, d) = loader.load([file])
    return SpecValidator(targetTypes: TargetKinds.schemas, files: source).validate(m, loadDiagnostics: d)
}

/// The seed's backend, inline.
func seedBackend(engineVersion: String = "0.5.19") -> String {
    """
    apiVersion: dsdeploy/v1
    kind: Backend
    metadata: {name: sglang-dspark}
    spec:
      engine: sglang
      versions:
        dspark:
          engineVersion: "\(engineVersion)"
          image: example/sglang-dspark:v1.0
          entrypoint: [sglang, serve]
          command: "--model-path {{model_path}} --host {{worker_ip}} --port {{port}}"
    ---

    """
}

/// A deployment document with the given args lines.
func deployment(name: String = "d", args: [String], extra: String = "") -> String {
    """
    apiVersion: dsdeploy/v1
    kind: Deployment
    metadata: {name: \(name)}
    spec:
      model: {source: modelscope, id: deepseek-ai/DeepSeek-V4-Flash-DSpark}
      backend: sglang-dspark
      backendVersion: dspark
      gpusPerReplica: 8
    \(extra)  args:
    \(args.map { "    - \($0)" }.joined(separator: "\n"))

    """
}

/// Asserts that a diagnostic with `id` sits exactly at the marker.
func expectDiagnostic(_ r: ValidationResult, _ id: String, at pos: (line: Int, column: Int),
                      sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    let hit = r.diagnostics.first { $0.id == id && $0.location?.line == pos.line && $0.location?.column == pos.column }
    #expect(hit != nil, "expected [\(id)] at \(pos.line):\(pos.column); got \(r.diagnostics.map { "\($0.location.map { "\($0.line):\($0.column)" } ?? "-") [\($0.id)] \($0.message)" })",
            sourceLocation: sourceLocation)
}
