import DeployCore
import DeployKit
import DeploySpec
import DeployTargets
import Foundation
import Testing
import TestSupport

/// Loading manifests for the Kubernetes tests, and the pinned `kubernetes-validate` they check
/// rendered objects with.
enum KubernetesSupport {
    /// The Kubernetes version whose OpenAPI schemas the rendered objects are validated against (the
    /// newest that kubernetes-validate 1.37.0 bundles).
    static let schemaVersion = "1.37.0"

    /// Validates `files` (repository-relative, or in `memory`) with the stock templates.
    static func validate(_ files: [String], memory: [String: String]? = nil, targetOverride: String? = nil) -> ValidationResult {
        let source: any ManifestFileSource = memory.map { MemoryFileSource(files: $0) } ?? RepositoryFileSource()
        // Stock backends come from the `templates/` the loader finds beside the manifests.
        let loader = ManifestLoader(source: source, targetTypes: TargetKinds.schemas)
        let (m, d) = loader.load(files)
        var v = SpecValidator(targetTypes: TargetKinds.schemas, files: source)
        v.targetOverride = targetOverride
        return v.validate(m, loadDiagnostics: d)
    }

    /// `kubernetes-validate` and its venv's python, from the setup script (`make test` runs it first);
    /// nil, with an issue naming the script, when it is not installed.
    static func validator(sourceLocation: Testing.SourceLocation = #_sourceLocation) -> (cli: String, python: String)? {
        guard let r = try? runProcess(repositoryRoot + "/scripts/setup-kubernetes-validate.sh", ["--check"]), r.status == 0 else {
            Issue.record("kubernetes-validate is not installed: run scripts/setup-kubernetes-validate.sh (make test does)",
                         sourceLocation: sourceLocation)
            return nil
        }
        var values: [String: String] = [:]
        for line in r.out.split(separator: "\n") {
            let kv = line.split(separator: "=", maxSplits: 1).map(String.init)
            if kv.count == 2 { values[kv[0]] = kv[1] }
        }
        guard let cli = values["KUBERNETES_VALIDATE"], let py = values["KUBERNETES_VALIDATE_PYTHON"] else { return nil }
        return (cli, py)
    }

    /// Runs `kubernetes-validate --strict` on every file; returns the count of objects that passed
    /// and the output (every failure is in it).
    static func strictValidate(_ files: [String], cli: String) throws -> (passed: Int, failed: Int, output: String) {
        let r = try runProcess(cli, ["--strict", "-k", schemaVersion] + files)
        let text = r.out + r.err
        let passed = text.components(separatedBy: " passed for resource ").count - 1
        let failed = text.components(separatedBy: " did not validate ").count - 1
        #expect(r.status == 0 || failed > 0, "kubernetes-validate exited \(r.status) without a failure: \(text)")
        return (passed, failed + (r.status != 0 && failed == 0 ? 1 : 0), text)
    }

    /// The LeaderWorkerSet CRD schema, less its two pod templates (the file's header says what was
    /// cut, from which commit), and the script that validates every object strictly with it and the
    /// pinned kubernetes-validate schemas.
    static let schemaDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("KubernetesSchemas").path
    static let crdExcerpt = schemaDirectory + "/leaderworkerset.x-k8s.io_leaderworkersets.excerpt.yaml"
    static let objectValidator = schemaDirectory + "/validate_objects.py"

    /// Validates every object of `files` strictly: core and apps kinds against the Kubernetes
    /// OpenAPI schemas (kubernetes-validate, `schemaVersion`), a LeaderWorkerSet against the CRD
    /// excerpt with its pod templates as core `v1 PodTemplate`s; any other kind fails. Returns the
    /// objects that passed and failed and the output (every failure is in it).
    static func validateObjects(_ files: [String], python: String) throws -> (passed: Int, failed: Int, output: String) {
        let r = try runProcess(python, [objectValidator, "--crd", crdExcerpt, "--kubernetes-version", schemaVersion] + files)
        let text = r.out + r.err
        guard let last = r.out.split(separator: "\n").last(where: { $0.hasPrefix("objects: ") }) else {
            Issue.record("validate_objects.py gave no summary (exit \(r.status)): \(text)")
            return (0, 1, text)
        }
        let numbers = last.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        guard numbers.count == 2 else { return (0, 1, text) }
        #expect((r.status == 0) == (numbers[1] == 0), "exit \(r.status) with \(last)")
        return (numbers[0], numbers[1], text)
    }

    /// A fresh temporary directory.
    static func tempDir(_ name: String = #function) throws -> String {
        let dir = NSTemporaryDirectory() + "dsdeploy-k8s-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }
}
