import CurlHTTP
import DeployCore
import DeployKit
import DeploySpec
import DeployTargets
@testable import DeployTargets
import Engines
import Foundation
import Testing

/// Files held in memory for the manifest loader.
struct GSMemoryFiles: ManifestFileSource {
    var files: [String: String]
    func read(_ path: String) -> [UInt8]? { files[ManifestPath.normalize(path)].map { Array($0.utf8) } }
    func yamlFiles(in directory: String) -> [String] { [] }
}

let gsFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("GPUStackFixtures").path

func gsFixture(_ name: String) throws -> [UInt8] {
    try #require(FileManager.default.contents(atPath: gsFixtures + "/" + name)).map { $0 }
}

/// A deployment of the seed's backend on a gpustack target, validated.
func gsManifest(args: [String] = ["--tp-size 8", "--speculative-algorithm DSPARK", "--trust-remote-code"],
                replicas: Int = 1, env: String = "PYPI_PACKAGES_INSTALL: \"-U distro\"", name: String = "dspark",
                extraTarget: String = "") -> ValidationResult {
    let yaml = """
        apiVersion: dsdeploy/v1
        kind: Backend
        metadata: {name: sglang-dspark}
        spec:
          engine: sglang
          versions:
            dspark:
              engineVersion: "0.5.19"
              image: registry.example.invalid/sglang-dspark:v1
              framework: cuda
              entrypoint: [sglang, serve]
              command: "--model-path {{model_path}} --host {{worker_ip}} --port {{port}}"
        ---
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: \(name)}
        spec:
          model: {source: local, path: /models/dspark}
          backend: sglang-dspark
          backendVersion: dspark
          replicas: \(replicas)
          args: [\(args.map { "\"\($0)\"" }.joined(separator: ", "))]
          env: {\(env)}
          readiness: {timeoutSeconds: 60}
        ---
        apiVersion: dsdeploy/v1
        kind: Target
        metadata: {name: lab}
        spec:
          type: gpustack
          url: http://127.0.0.1:30080
          apiKey: {valueFrom: {env: GPUSTACK_API_KEY}}
        \(extraTarget)
        """
    let loader = ManifestLoader(source: GSMemoryFiles(files: ["m.yaml": yaml]), templateDirectories: [], targetTypes: TargetKinds.schemas)
    let (m, d) = loader.load(["m.yaml"])
    return SpecValidator(targetTypes: TargetKinds.schemas).validate(m, loadDiagnostics: d)
}

func gsDesired(_ r: ValidationResult) throws -> [GPUStackModelSpec] {
    #expect(r.isValid, "\(r.diagnostics.map(\.message))")
    let target = try #require(r.manifest.targets["lab"])
    return r.deployments.map { d in
        GPUStackMapping.model(d, env: Dictionary(uniqueKeysWithValues: d.env.compactMap { e -> (String, Secret)? in
            if case .literal(let v) = e.value { return (e.name.value, Secret(v)) }
            return nil
        }), target: target)
    }
}

func gsTarget(_ fake: FakeGPUStack, clock: ManualClock = ManualClock()) -> GPUStackTarget {
    let client = GPUStackClient(baseURL: "http://gpustack.test", apiKey: Secret("test-key"), transport: fake)
    let config = TargetConfig(name: "lab", type: "gpustack",
                              fields: ["url": .scalar("http://gpustack.test"), "cluster": .scalar("default"), "owner": .scalar("lab")],
                              location: SourceLocation(file: "m.yaml", line: 1, column: 1))
    return GPUStackTarget(client: client, config: config, clock: clock)
}

@Suite struct GPUStackWatchParserTests {
    @Test func parsesTheRecordedStreamInAnyChunking() throws {
        let bytes = try gsFixture("watch_instances.stream")
        for size in [1, 7, 64, 4096, bytes.count] {
            var p = GPUStackWatchParser()
            var events: [GPUStackWatchEvent] = []
            var i = 0
            while i < bytes.count {
                events += p.feed(Array(bytes[i..<min(i + size, bytes.count)]))
                i += size
            }
            #expect(events.map(\.kind.rawValue) == [1, 3, 1, 2, 2, 2, 3] || events.count == 7, "chunk \(size)")
            #expect(events.filter { $0.kind == .created }.count == 3)
            #expect(events.filter { $0.kind == .deleted }.count == 1)
            #expect(events.first?.data["state"]?.string == "pending")
        }
    }

    @Test func heartbeatsAndGarbageAreSkipped() {
        var p = GPUStackWatchParser()
        let text = "\n\n\n\n{\"type\":2,\"data\":{\"id\":5,\"state\":\"running\"},\"changed_fields\":{\"state\":[[\"starting\"],[\"running\"]]},\"id\":1}\n\nnot json\n\n{\"type\":9,\"data\":{}}\n\n"
        let events = p.feed(Array(text.utf8))
        #expect(events.count == 1)
        #expect(events[0].id == 5 && events[0].kind == .updated)
        #expect(events[0].changedFields["state"] != nil)
    }

    @Test func anUnfinishedEventWaitsForItsBlankLine() {
        var p = GPUStackWatchParser()
        #expect(p.feed(Array("{\"type\":1,\"data\":{\"id\":1}}\n".utf8)).isEmpty)
        #expect(p.feed(Array("\n".utf8)).count == 1)
    }
}

@Suite struct GPUStackMappingTests {
    @Test func parametersRoundTripThroughGPUStacksSplitting() throws {
        #expect(GPUStackMapping.parameterStrings(flag: "--tp-size", values: ["8"]) == ["--tp-size 8"])
        #expect(GPUStackMapping.parameterStrings(flag: "--trust-remote-code", values: []) == ["--trust-remote-code"])
        #expect(GPUStackMapping.parameterStrings(flag: "--json-model-override-args", values: [#"{"a": 1}"#])
                == ["--json-model-override-args", #"{"a": 1}"#])
        #expect(GPUStackMapping.tokens(ofParameters: ["--tp-size 8", "--x", #"{"a": 1}"#, "--y 'a b'"])
                == ["--tp-size", "8", "--x", #"{"a": 1}"#, "--y", "a b"])
    }

    @Test func liveParametersCanonicaliseWithTheCatalog() throws {
        let d = try #require(try gsDesired(gsManifest()).first)
        // GPUStack's own form (as stored by its UI) with an alias and `=`: the same flags.
        let (live, problems) = GPUStackMapping.flagSet(ofParameters: ["--trust-remote-code", "--speculative-algorithm=DSPARK", "--tensor-parallel-size 8"],
                                                       catalog: d.catalog)
        #expect(problems.isEmpty)
        #expect(live == d.flagSet)
        #expect(d.backendParameters == ["--tp-size 8", "--speculative-algorithm DSPARK", "--trust-remote-code"])
    }

    @Test func versionNamesFollowGPUStacksRules() {
        #expect(GPUStackMapping.versionName(engineVersion: "0.5.19", version: "dspark") == "dspark-custom")
        #expect(GPUStackMapping.versionName(engineVersion: "0.5.19", version: "0.5.19") == "0.5.19-custom")
        #expect(GPUStackMapping.versionName(engineVersion: "0.5.19", version: "mine-custom") == "mine-custom")
        #expect(GPUStackMapping.versionGateWarning(engineVersion: "0.5.19", versionName: "dspark-custom") == nil)
        #expect(GPUStackMapping.versionGateWarning(engineVersion: "0.5.5", versionName: "dspark-custom") != nil)
        #expect(GPUStackMapping.versionGateWarning(engineVersion: "0.5.5", versionName: "0.5.5-dspark-custom") == nil)
    }

    @Test func warnsAboutWhatGPUStackAppends() throws {
        let d = try #require(try gsDesired(gsManifest(args: ["--trust-remote-code"])).first)
        #expect(d.warnings.contains { $0.contains("--tp-size") })
        #expect(d.warnings.contains { $0.contains("--mem-fraction-static") })
        let set = try #require(try gsDesired(gsManifest(args: ["--tp-size 8", "--mem-fraction-static 0.8", "--enable-metrics"])).first)
        #expect(set.warnings.isEmpty)
    }

    @Test func versionCheck() throws {
        #expect(try GPUStackClient.checkVersion("v2.3.0").get() == nil)
        #expect(try GPUStackClient.checkVersion("v2.4.1").get() != nil)
        #expect((try? GPUStackClient.checkVersion("v0.7.1").get()) == nil)
    }

    @Test func errorsAreWordedAndNeverCarryTheKey() {
        func f(_ status: Int, _ msg: String) -> GPUStackError {
            GPUStackClient.failure(method: "POST", path: "/v2/models/3/restart?x=1",
                                   response: HTTPResponse(status: status, headers: [], body: Array(#"{"message":"\#(msg)"}"#.utf8)),
                                   baseURL: "http://h:1")
        }
        #expect(f(401, "Invalid authentication credentials").kind == .unauthorized)
        #expect(f(401, "x").message.contains("apiKey"))
        #expect(f(409, "A restart is already in progress").kind == .conflict)
        #expect(f(400, "Inference backend 15 not found").kind == .notFound)
        #expect(f(400, "Custom backend version must end with '-custom'").kind == .rejected)
        #expect(f(500, "Failed to create model").kind == .server)
        #expect(!f(500, "boom").message.contains("?x=1"))
    }
}

@Suite(.serialized) struct GPUStackTargetTests {
    @Test func createThenNoopThenFlagChangeRestarts() throws {
        let fake = FakeGPUStack()
        let target = gsTarget(fake)
        let desired = try gsDesired(gsManifest())
        let (plan, observed) = try target.plan(desired, prune: false)
        #expect(plan.errors.isEmpty)
        #expect(plan.versions.map(\.action) == [.create])
        #expect(plan.changes.map(\.action) == [.create])
        let report = target.apply(plan, desired: desired, observed: observed) { _ in }
        #expect(report.succeeded, "\(report.outcomes)")
        let version = try #require(fake.backends[2]?["version_configs"]?["dspark-custom"])
        #expect(version["image_name"]?.string == "registry.example.invalid/sglang-dspark:v1")
        #expect(version["run_command"]?.string == "--model-path {{model_path}} --host {{worker_ip}} --port {{port}}")
        #expect(fake.backends[2]?["default_env"]?["X"]?.string == "1", "read–modify–write keeps other fields")
        let model = try #require(fake.models.values.first)
        #expect(model["local_path"]?.string == "/models/dspark")
        #expect(model["backend"]?.string == "SGLang")
        #expect(model["cluster_id"]?.int == 1)
        #expect(GPUStackOwnership.owner(ofModel: model) == "lab")

        // No-op: reads only, a constant number of them.
        let before = fake.requests.count
        let (again, _) = try gsTarget(fake).plan(desired, prune: false)
        #expect(!again.hasChanges)
        let calls = fake.requests.dropFirst(before)
        #expect(calls.allSatisfy { $0.hasPrefix("GET ") })
        #expect(again.apiCalls == calls.count && calls.count == 5)

        // A flag change: PUT, restart, wait.
        let changed = try gsDesired(gsManifest(args: ["--tp-size 8", "--speculative-algorithm EAGLE", "--trust-remote-code"]))
        let (p3, o3) = try target.plan(changed, prune: false)
        #expect(p3.changes.map(\.action) == [.replace])
        #expect(p3.changes[0].flags.map(\.flag) == ["--speculative-algorithm"])
        let r3 = target.apply(p3, desired: changed, observed: o3) { _ in }
        #expect(r3.succeeded)
        #expect(fake.requests.contains { $0.hasSuffix("/restart") })
        #expect(fake.models.values.first?["backend_parameters"]?.strings.contains("--speculative-algorithm EAGLE") == true)
    }

    @Test func replicasOnlyDoesNotRestart() throws {
        let fake = FakeGPUStack()
        let target = gsTarget(fake)
        let d1 = try gsDesired(gsManifest())
        let (p1, o1) = try target.plan(d1, prune: false)
        #expect(target.apply(p1, desired: d1, observed: o1) { _ in }.succeeded)
        let d2 = try gsDesired(gsManifest(replicas: 3))
        let (p2, o2) = try target.plan(d2, prune: false)
        #expect(p2.changes.map(\.action) == [.update])
        #expect(target.apply(p2, desired: d2, observed: o2) { _ in }.succeeded)
        #expect(!fake.requests.contains { $0.hasSuffix("/restart") })
        #expect(fake.instances.count == 3)
    }

    @Test func aFailedInstanceFailsTheApplyWithGPUStacksMessageAndReverts() throws {
        let fake = FakeGPUStack()
        let target = gsTarget(fake)
        let d1 = try gsDesired(gsManifest())
        let (p1, o1) = try target.plan(d1, prune: false)
        #expect(target.apply(p1, desired: d1, observed: o1) { _ in }.succeeded)
        fake.worker = { m in
            m["backend_parameters"]?.strings.contains("--speculative-algorithm EAGLE") == true
                ? ("error", "simulated: CUDA out of memory") : ("running", nil)
        }
        let d2 = try gsDesired(gsManifest(args: ["--tp-size 8", "--speculative-algorithm EAGLE", "--trust-remote-code"]))
        let (p2, o2) = try target.plan(d2, prune: false)
        let r2 = target.apply(p2, desired: d2, observed: o2) { _ in }
        #expect(!r2.succeeded)
        #expect(r2.outcomes.last?.message.contains("simulated: CUDA out of memory") == true)
        #expect(r2.outcomes.last?.result == .reverted)
        #expect(fake.models.values.first?["backend_parameters"]?.strings.contains("--speculative-algorithm DSPARK") == true)
    }

    @Test func aRestartInFlightFallsBackToDeletingTheInstances() throws {
        let fake = FakeGPUStack()
        let clock = ManualClock()
        let target = gsTarget(fake, clock: clock)
        let d1 = try gsDesired(gsManifest())
        let (p1, o1) = try target.plan(d1, prune: false)
        #expect(target.apply(p1, desired: d1, observed: o1) { _ in }.succeeded)
        fake.restartConflicts = 1
        let old = Set(fake.instances.keys)
        let d2 = try gsDesired(gsManifest(env: "A: b"))
        let (p2, o2) = try target.plan(d2, prune: false)
        #expect(p2.changes.first?.fields.contains { $0.field == "env.A" } == true)
        #expect(target.apply(p2, desired: d2, observed: o2) { _ in }.succeeded)
        #expect(fake.requests.filter { $0.hasSuffix("/restart") }.count == 1)
        #expect(fake.requests.contains { $0.hasPrefix("DELETE /v2/model-instances/") })
        #expect(Set(fake.instances.keys).isDisjoint(with: old))
    }

    @Test func multiReplicaFlagChangeRollsOneInstanceAtATime() throws {
        let fake = FakeGPUStack()
        let target = gsTarget(fake)
        let d1 = try gsDesired(gsManifest(replicas: 3))
        let (p1, o1) = try target.plan(d1, prune: false)
        #expect(target.apply(p1, desired: d1, observed: o1) { _ in }.succeeded)
        let d2 = try gsDesired(gsManifest(args: ["--tp-size 4"], replicas: 3))
        let (p2, o2) = try target.plan(d2, prune: false)
        let r2 = target.apply(p2, desired: d2, observed: o2) { _ in }
        #expect(r2.succeeded, "\(r2.outcomes)")
        #expect(!fake.requests.contains { $0.hasSuffix("/restart") })
        #expect(fake.requests.filter { $0.hasPrefix("DELETE /v2/model-instances/") }.count == 3)
    }

    @Test func foreignModelsAreNeverTouchedAndPruneIsScopedToTheOwner() throws {
        let fake = FakeGPUStack()
        let target = gsTarget(fake)
        // A model someone made by hand, with the deployment's name.
        _ = try GPUStackClient(baseURL: "http://gpustack.test", apiKey: Secret("test-key"), transport: fake)
            .post("/v2/models", .object(["name": .string("dspark"), "source": .string("local_path"),
                                         "local_path": .string("/x"), "cluster_id": .number(1), "replicas": .number(0)]))
        let d = try gsDesired(gsManifest())
        let (plan, _) = try target.plan(d, prune: true)
        #expect(plan.errors.count == 1 && plan.errors[0].contains("not created by dsdeploy"))
        #expect(!plan.changes.contains { $0.action == .delete })

        // Our own model that left the manifests is pruned; the hand-made one stays.
        let other = try gsDesired(gsManifest(name: "other"))
        let (p2, o2) = try target.plan(other, prune: false)
        #expect(target.apply(p2, desired: other, observed: o2) { _ in }.succeeded)
        let (p3, _) = try target.plan(try gsDesired(gsManifest(name: "third")), prune: false)
        #expect(p3.orphans == ["other"])
        let third = try gsDesired(gsManifest(name: "third"))
        let (p4, o4) = try target.plan(third, prune: true)
        #expect(p4.changes.filter { $0.action == .delete }.map(\.deployment) == ["other"])
        #expect(target.apply(p4, desired: third, observed: o4) { _ in }.succeeded)
        #expect(Set(fake.models.values.compactMap { $0["name"]?.string }) == ["dspark", "third"])
    }

    @Test func wrongKeyAndServerDownAreClearErrors() throws {
        let fake = FakeGPUStack(key: "right")
        let d = try gsDesired(gsManifest())
        #expect(throws: GPUStackError.self) { try gsTarget(fake).plan(d, prune: false) }
        do { _ = try gsTarget(fake).plan(d, prune: false) } catch { #expect(error.kind == .unauthorized) }
        fake.down = true
        do { _ = try gsTarget(fake).plan(d, prune: false) } catch {
            #expect(error.kind == .unreachable)
            #expect(error.message.contains("connection refused"))
        }
    }

    @Test func statusAndLogs() throws {
        let fake = FakeGPUStack()
        let target = gsTarget(fake)
        let d = try gsDesired(gsManifest(replicas: 2))
        let (p, o) = try target.plan(d, prune: false)
        #expect(target.apply(p, desired: d, observed: o) { _ in }.succeeded)
        let rows = try target.status()
        #expect(rows.count == 2 && rows.allSatisfy { $0.state == "running" && $0.endpoint == "http://127.0.0.1:40000" })
        #expect(try target.logs(deployment: "dspark", replica: 1, tail: 10).contains("Application startup complete"))
        #expect(throws: GPUStackError.self) { try target.logs(deployment: "dspark", replica: 5, tail: 10) }
    }
}
