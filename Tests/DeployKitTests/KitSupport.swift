import DeployCore
import DeploySpec
import DeployTargets
import Foundation
import Testing
import TestSupport

/// Loads and validates repository files (paths relative to the repo root, read without changing
/// the working directory).
func load(_ paths: [String]) -> ValidationResult {
    let (m, d) = ManifestLoader(source: RepositoryFileSource(), targetTypes: TargetKinds.schemas).load(paths)
    return SpecValidator(targetTypes: TargetKinds.schemas).validate(m, loadDiagnostics: d)
}

/// Loads inline YAML files held in memory.
func loadInline(_ files: [String: String], _ paths: [String]) -> ValidationResult {
    let (m, d) = ManifestLoader(source: MemoryFileSource(files: files), targetTypes: TargetKinds.schemas).load(paths)
    return SpecValidator(targetTypes: TargetKinds.schemas).validate(m, loadDiagnostics: d)
}

/// Compares text with `Golden/<name>` beside the tests; `RECORD_SNAPSHOTS=1` re-records and fails
/// the test ("recorded new baseline"), a missing file fails (see `expectSnapshot`).
func expectGolden(_ text: String, _ name: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    expectSnapshot(text, named: name, sourceLocation: sourceLocation)
}
