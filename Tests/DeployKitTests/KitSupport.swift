import DeployCore
import DeployKit
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

/// The rendered specs of one SGLang deployment written inline (the planner and executor tests' fixture).
func inlineSpecs(name: String = "d", replicas: Int = 2, memFraction: String = "0.85", surge: Int = 1, unavailable: Int = 0,
                 label: String = "a") throws -> [LaunchSpec] {
    let files = ["m.yaml": """
    apiVersion: dsdeploy/v1
    kind: Backend
    metadata: {name: b}
    spec:
      engine: sglang
      versions:
        v: {engineVersion: "0.5.23", image: img, entrypoint: [sglang, serve],
            command: "--model-path {{model_path}} --port {{port}}"}
    ---
    apiVersion: dsdeploy/v1
    kind: Deployment
    metadata: {name: \(name), labels: {team: \(label)}}
    spec:
      model: {source: huggingface, id: x/y}
      backend: b
      backendVersion: v
      replicas: \(replicas)
      rollout: {maxSurge: \(surge), maxUnavailable: \(unavailable)}
      readiness: {timeoutSeconds: 30}
      args: ["--mem-fraction-static \(memFraction)"]
    """]
    let r = loadInline(files, ["m.yaml"])
    #expect(!r.diagnostics.hasErrors, "\(r.diagnostics.map(\.message))")
    return try r.deployments.flatMap { try Renderer().render($0).get() }
}
