import DeployCore
@testable import DeploySpec
import DeployTargets
import Testing
import TestSupport

/// `FieldLocations` reads paths from the spec's YAML on demand; every answer must be what recording
/// every path up front (`all`) gives.
@Suite struct FieldLocationsTests {
    /// A deployment with nested keys of every kind: mappings, lists, env entries with insides,
    /// prefill/decode roles with their own env, and quoted keys holding dots.
    let text = """
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata:
          name: d
          labels: {team: infra}
        spec:
          model: {source: modelscope, id: deepseek-ai/DeepSeek-V4-Flash-DSpark}
          backend: sglang-dspark
          backendVersion: dspark
          gpusPerReplica: 8
          args: [--tp-size 8]
          env:
            TOKEN: {valueFrom: {env: HOME}}
            PLAIN: "1"
          container:
            shmSize: 16g
            ulimits: {nofile: 65536, memlock: -1}
          "odd.key": {inner: 1}
          odd: {key: {inner: 2}}
          disaggregation:
            prefill:
              replicas: 1
              env: {X: {value: "1"}}
            decode: {replicas: 2}

        """

    func deployment() throws -> Deployment {
        let source = MemoryFileSource(files: ["m.yaml": seedBackend() + text])
        let (m, _) = ManifestLoader(source: source, targetTypes: TargetKinds.schemas).load(["m.yaml"])
        return try #require(m.deployments.first)
    }

    @Test func everyRecordedPathIsFoundWhereItIsWritten() throws {
        let d = try deployment()
        let all = d.fieldLocations.all
        for path in ["model", "model.id", "env", "env.TOKEN", "env.PLAIN", "container.ulimits.nofile",
                     "disaggregation.prefill.env.X.value", "labels.team", "args"] {
            #expect(all[path] != nil, "\(path) not recorded")
        }
        for (path, location) in all {
            #expect(d.fieldLocations[path] == location, "\(path)")
        }
        // The insides of an env entry are not located; neither are paths that are not there.
        #expect(all["env.TOKEN.valueFrom"] == nil)
        #expect(d.fieldLocations["env.TOKEN.valueFrom"] == nil)
        for missing in ["model.revision", "container.ulimits.nofile.x", "mod", "env.TOK", ""] {
            #expect(d.fieldLocations[missing] == nil, "\(missing)")
        }
        // Two keys give `odd.key.inner`: the later one in the document wins, as it did when recorded.
        #expect(d.fieldLocations["odd.key.inner"] == all["odd.key.inner"])
        #expect(d.fieldLocations["odd.key.inner"]?.line == d.fieldLocations["odd"]?.line)
    }

    @Test func explicitPathsWinAndCanBeRemoved() throws {
        var d = try deployment()
        let elsewhere = SourceLocation(file: "other.yaml", line: 9, column: 3)
        d.fieldLocations["replicas"] = elsewhere
        d.fieldLocations["model.id"] = elsewhere
        #expect(d.fieldLocations["replicas"] == elsewhere)
        #expect(d.fieldLocations["model.id"] == elsewhere)
        #expect(d.fieldLocations.all["model.id"] == elsewhere)
        d.fieldLocations["model"] = nil
        #expect(d.fieldLocations["model"] == nil)
        #expect(d.fieldLocations.all["model"] == nil)
        #expect(d.fieldLocations["model.id"] == elsewhere)
    }
}
