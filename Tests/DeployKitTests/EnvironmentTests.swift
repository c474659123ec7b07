import DeployCore
import DeployKit
import DeploySpec
import DeployTargets
import Engines
import Foundation
import Testing
import TestSupport

/// Environments end to end in the library: the shipped staging and production overlays of the seed's
/// DSpark deployment (manifests/envs/), a chained overlay and settings, rendered with provenance
/// (golden files), diffed across environments and planned.
@Suite struct EnvironmentTests {
    /// Files held in memory first, then the repository's.
    struct LayeredSource: ManifestFileSource {
        var memory: MemoryFileSource
        var repository = RepositoryFileSource()
        func read(_ path: String) -> [UInt8]? { memory.read(path) ?? repository.read(path) }
        func yamlFiles(in directory: String) -> [String] { repository.yamlFiles(in: directory) }
    }

    /// Loads and validates with settings; `extra` files are held in memory beside the repository's.
    func env(_ paths: [String], set: [String] = [], values: [String] = [], extra: [String: String] = [:]) -> ValidationResult {
        let source = LayeredSource(memory: MemoryFileSource(files: extra))
        let (m, d) = ManifestLoader(source: source, targetTypes: TargetKinds.schemas)
            .load(paths, settings: ManifestSettings(set: set, valuesFiles: values))
        return SpecValidator(targetTypes: TargetKinds.schemas).validate(m, loadDiagnostics: d)
    }

    /// Every replica rendered as `dsdeploy render` does: placed on the target's inventory.
    func render(_ r: ValidationResult) throws -> String {
        #expect(!r.diagnostics.hasErrors, "\(r.diagnostics.map { "\($0.location.map { "\($0.file):\($0.line)" } ?? "") \($0.message)" })")
        var specs: [LaunchSpec] = []
        for d in r.deployments {
            let hosts = TargetKinds.kind(d.target?.type ?? "local")?.inventory(d.target) ?? []
            let placement = try Placer.place([d], hosts: hosts).get()
            specs += try Renderer().render(d, placement: placement[d.deployment.name]).get()
        }
        return LaunchSpecTextRenderer().render(specs)
    }

    /// A chained overlay: staging with a longer context and the metrics endpoint on.
    let chained = ["manifests/envs/staging-long.yaml": """
        apiVersion: dsdeploy/v1
        kind: Overlay
        metadata: {name: staging-long}
        spec:
          base: staging.yaml
          deployments:
            dspark:
              set:
                --context-length: 262144
                --enable-metrics: true
                labels.track: long-context
        """]

    @Test func stagingRender() throws {
        let r = env(["manifests/envs/staging.yaml"])
        let d = try #require(r.deployments.first)
        #expect(d.deployment.replicas == 1)
        #expect(d.deployment.gpusPerReplica == 4)
        #expect(d.flagSet.values["--context-length"]?.description == "131072")
        #expect(d.flagSet.values.count == 13, "the seed's thirteen flags, three of them changed")
        expectGolden(try render(r), "render-env-staging.txt")
    }

    @Test func productionRender() throws {
        let r = env(["manifests/envs/production.yaml"])
        let d = try #require(r.deployments.first)
        #expect(d.deployment.replicas == 2)
        #expect(d.target?.name == "gpu-fleet")
        // Production keeps the seed's flags exactly: same flag set as the base manifest.
        let seed = try #require(env(["manifests/dspark.yaml"]).deployments.first)
        #expect(d.flagSet == seed.flagSet)
        expectGolden(try render(r), "render-env-production.txt")
    }

    @Test func chainedRender() throws {
        let r = env(["manifests/envs/staging-long.yaml"], extra: chained)
        let d = try #require(r.deployments.first)
        #expect(d.flagSet.values["--context-length"]?.description == "262144")
        #expect(d.flagSet.values["--tp-size"]?.description == "4", "the middle overlay's values stay")
        expectGolden(try render(r), "render-env-chained.txt")
    }

    @Test func settingsRender() throws {
        let values = ["ops/canary.yaml": """
            # A values file: one setting per line, as --set would write them.
            deployments.dspark.labels.track: canary
            deployments.dspark.args.--max-running-requests: 16
            """]
        let r = env(["manifests/envs/production.yaml"],
                    set: ["deployments.dspark.replicas=1", "deployments.dspark.args.--mem-fraction-static=0.8"],
                    values: ["ops/canary.yaml"], extra: values)
        let d = try #require(r.deployments.first)
        #expect(d.deployment.replicas == 1)
        #expect(d.flagSet.values["--max-running-requests"]?.description == "16")
        expectGolden(try render(r), "render-env-set.txt")
    }

    @Test func stagingVersusProductionDiff() throws {
        let staging = env(["manifests/envs/staging.yaml"]), production = env(["manifests/envs/production.yaml"])
        let diff = Differ().diff(production.deployments, staging.deployments, pairSingle: true)
        let d = try #require(diff.deployments.first)
        #expect(diff.deployments.count == 1)
        #expect(Set(d.flags.map(\.flag)) == ["--context-length", "--tp-size", "--ep-size"])
        #expect(Set(d.fields.map(\.field)) == ["target", "gpusPerReplica", "replicas", "labels"])
        expectGolden(DiffTextRenderer().render(diff), "diff-env-production-staging.txt")
    }

    @Test func overlayResolvingToTheSameLaunchSpecPlansNothing() throws {
        // An overlay that only restates the base (through an alias and another spelling) and moves
        // nothing else: same revision, so the plan against the base's running replicas is a no-op.
        let same = ["manifests/envs/same.yaml": """
            apiVersion: dsdeploy/v1
            kind: Overlay
            metadata: {name: same}
            spec:
              base: ../dspark.yaml
              deployments:
                dspark:
                  set: {--tensor-parallel-size: 8, --expert-parallel-size: 8, --context-length: 1M, replicas: 1}
            """]
        let base = try #require(env(["manifests/dspark.yaml"]).deployments.first)
        let restated = try #require(env(["manifests/envs/same.yaml"], extra: same).deployments.first)
        let running = try Renderer().render(base).get()
        let desired = try Renderer().render(restated).get()
        #expect(desired.map(\.revision) == running.map(\.revision))
        let observed = running.map { s in
            ObservedReplica(deployment: s.deployment, replica: s.replica, instance: "\(s.id)-i", revision: s.revision,
                            state: .ready, launch: s, pid: 100, port: s.port, startedAt: 1, exitStatus: nil, drift: [],
                            labels: s.labels)
        }
        let plan = Planner().plan(desired: desired, observed: observed)
        #expect(plan.changes.map(\.action) == [.noop])
        #expect(!plan.hasChanges)
        // Staging changes flags: the same running replica would be replaced.
        let staging = try #require(env(["manifests/envs/staging.yaml"]).deployments.first)
        let replan = Planner().plan(desired: try Renderer().render(staging).get(), observed: observed)
        #expect(replan.changes.map(\.action) == [.replace])
    }
}
