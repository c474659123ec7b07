import DeployCore
import DeployKit
import DeploySpec
import Engines
@testable import DeployTargets
import TestSupport
import Foundation
import Testing

/// The Docker Engine API client's pure parts: endpoints, image names, log frames.
@Suite struct DockerAPITests {
    /// One multiplexed frame: stream, three zero bytes, big-endian size, payload.
    func frame(_ stream: UInt8, _ text: String) -> [UInt8] {
        let p = Array(text.utf8)
        let n = UInt32(p.count)
        return [stream, 0, 0, 0, UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + p
    }

    @Test func logFramesAreReassembledAcrossChunks() {
        let bytes = frame(1, "listening on 127.0.0.1:18280\n") + frame(2, "warning: slow\n") + frame(1, "ready\n")
        for size in [1, 3, 7, 8, 9, 50, bytes.count] {
            let frames = LogFrames()
            var text = ""
            var i = 0
            while i < bytes.count {
                text += frames.feed(Array(bytes[i..<min(bytes.count, i + size)]))
                i += size
            }
            #expect(text == "listening on 127.0.0.1:18280\nwarning: slow\nready\n", "chunks of \(size)")
        }
        #expect(DockerAPI.demultiplex(bytes) == "listening on 127.0.0.1:18280\nwarning: slow\nready\n")
        // A TTY container's output has no frames: it passes through.
        #expect(LogFrames().feed(Array("plain text line\n".utf8)) == "plain text line\n")
    }

    @Test func endpointsAndImageNames() throws {
        #expect(try DockerEndpoint.parse("unix:///var/run/docker.sock").get().kind == .unix("/var/run/docker.sock"))
        #expect(try DockerEndpoint.parse("tcp://10.0.0.11:2375").get().defaultAddress == "10.0.0.11")
        let ssh = try DockerEndpoint.parse("ssh://deploy@10.0.0.11:2222/run/podman/podman.sock").get()
        #expect(ssh.kind == .ssh(destination: "deploy@10.0.0.11", port: 2222, socket: "/run/podman/podman.sock"))
        #expect(ssh.defaultAddress == "10.0.0.11")
        #expect(try DockerEndpoint.parse("ssh://h20-a").get().kind == .ssh(destination: "h20-a", port: nil, socket: "/var/run/docker.sock"))
        for bad in ["unix://relative.sock", "tcp://10.0.0.11", "http://x:1", "ssh://-oProxyCommand=x", "ssh://deploy@h:0", "ssh://deploy@"] {
            #expect(throws: DockerError.self, "\(bad)") { try DockerEndpoint.parse(bad).get() }
        }
        #expect(DockerAPI.split("lmsysorg/sglang:v0.5.23") == ("lmsysorg/sglang", "v0.5.23"))
        #expect(DockerAPI.split("localhost:5000/sglang") == ("localhost:5000/sglang", "latest"))
        // The registry whose login a pull sends: the image's first component when it names a host.
        #expect(DockerAPI.registry(of: "swr.cn-north-4.myhuaweicloud.com/desaysv/gpustack/sglang-dspark:v1.0") == "swr.cn-north-4.myhuaweicloud.com")
        #expect(DockerAPI.registry(of: "127.0.0.1:5000/dsdeploy/sim:dev") == "127.0.0.1:5000")
        #expect(DockerAPI.registry(of: "localhost/dsdeploy-engine-sim:dev") == "localhost")
        #expect(DockerAPI.registry(of: "lmsysorg/sglang:v0.5.23") == "docker.io" && DockerAPI.registry(of: "ubuntu") == "docker.io")
        #expect(DockerDriver.exitStatus("Exited (137) 5 minutes ago") == "exit 137" && DockerDriver.exitStatus("Created") == "created")
        #expect(DockerDriver.bytes("16g") == 16 << 30 && DockerDriver.bytes("512m") == 512 << 20 && DockerDriver.bytes("1024") == 1024)
    }
}

/// What the docker target sends to create the seed's DSpark container (manifests/dspark.yaml on
/// manifests/targets/gpu-fleet.yaml): the argv as arrays, env, GPUs, hub cache, settings.
@Suite struct DockerCreateBodyTests {
    @Test func theSeedsContainer() throws {
        let (m, d) = ManifestLoader(source: RepositoryFileSource(), targetTypes: TargetKinds.schemas)
            .load(["manifests/dspark.yaml", "manifests/targets/gpu-fleet.yaml"])
        let r = SpecValidator(targetTypes: TargetKinds.schemas).validate(m, loadDiagnostics: d)
        #expect(r.isValid, "\(r.diagnostics.map(\.message))")
        let config = try #require(r.deployments.first?.target)
        let target = SlotTarget(ref: TargetRef(name: "gpu-fleet", type: "docker"), driver: InMemoryDriver(clock: ManualClock()),
                                hosts: DockerKind.inventory(config), clock: ManualClock())
        let spec = try #require(try target.desired(PlanInput(deployments: r.deployments, files: [])).first)
        #expect(spec.node == "h20-a" && spec.host == "10.0.0.11" && spec.gpuIds == Array(0..<8))
        let body = DockerDriver.createBody(spec, environment: ["PYPI_PACKAGES_INSTALL": Secret("-U distro")],
                                           labels: ["dsdeploy.managed": "true"])
        #expect(body["Image"]?.string == "swr.cn-north-4.myhuaweicloud.com/desaysv/gpustack/sglang-dspark:v1.0")
        #expect(body["Entrypoint"]?.array?.compactMap(\.string) == ["sglang", "serve"])
        let cmd = body["Cmd"]?.array?.compactMap(\.string) ?? []
        #expect(Array(cmd.prefix(6)) == ["--model-path", "deepseek-ai/DeepSeek-V4-Flash-DSpark", "--host", "10.0.0.11", "--port", "30000"])
        let env = body["Env"]?.array?.compactMap(\.string) ?? []
        #expect(env.contains("PYPI_PACKAGES_INSTALL=-U distro") && env.contains("SGLANG_USE_MODELSCOPE=true"), "\(env)")
        #expect(env.contains("DSDEPLOY_ENGINE_VERSION=0.5.19"), "the version the flags were checked against: \(env)")
        #expect(!env.contains { $0.hasPrefix("CUDA_VISIBLE_DEVICES=") }, "inside the container the GPUs are numbered from 0")
        let host = try #require(body["HostConfig"])
        #expect(host["NetworkMode"]?.string == "host" && host["IpcMode"]?.string == "host" && host["ShmSize"] == nil)
        #expect(host["Binds"]?.array?.compactMap(\.string) == ["dsdeploy-modelscope-cache:/root/.cache/modelscope"])
        let gpus = host["DeviceRequests"]?.array?.first
        #expect(gpus?["DeviceIDs"]?.array?.compactMap(\.string) == (0..<8).map(String.init) && gpus?["Driver"]?.string == "nvidia")
        #expect(host["Ulimits"]?.array?.compactMap { $0["Name"]?.string } == ["memlock", "stack"])
        #expect(body["Labels"]?["dsdeploy.managed"]?.string == "true")
        #expect(body["ExposedPorts"] == nil && host["PortBindings"] == nil, "host network: nothing to publish")

        // `network: bridge`: {{worker_ip}} renders 0.0.0.0 (the engine's own namespace), clients keep the
        // host's address, and the port is published on that address only.
        var bridged = config
        bridged.fields["network"] = .scalar("bridge")
        let onBridge = SlotTarget(ref: TargetRef(name: "gpu-fleet", type: "docker"), driver: InMemoryDriver(clock: ManualClock()),
                                  hosts: DockerKind.inventory(bridged), clock: ManualClock())
        var resolved = try #require(r.deployments.first)
        resolved.target = bridged
        resolved.targetRevisionParts = DockerKind.schema.revisionParts(bridged)
        let b = try #require(try onBridge.desired(PlanInput(deployments: [resolved], files: [])).first)
        #expect(b.host == "10.0.0.11" && Array(b.argv.dropFirst(2).prefix(4)) == ["--model-path", "deepseek-ai/DeepSeek-V4-Flash-DSpark", "--host", "0.0.0.0"])
        #expect(b.revision != spec.revision, "a change of network restarts the replica")
        let bb = DockerDriver.createBody(b, environment: [:], network: .bridge, publishOn: "10.0.0.11", labels: [:])
        #expect(bb["HostConfig"]?["NetworkMode"]?.string == "bridge")
        #expect(bb["ExposedPorts"]?["30000/tcp"] != nil)
        #expect(bb["HostConfig"]?["PortBindings"]?["30000/tcp"]?.array?.first?["HostIp"]?.string == "10.0.0.11")
        #expect(bb["HostConfig"]?["PortBindings"]?["30000/tcp"]?.array?.first?["HostPort"]?.string == "30000")
    }
}

/// `validate` of docker Targets: errors point at the host entry's own value, and a deployment that
/// cannot fit the hosts' declared GPUs is refused before anything is contacted.
@Suite struct DockerTargetValidationTests {
    func validate(_ hosts: String, replicas: Int = 2, gpus: Int = 8) -> [Diagnostic] {
        let text = """
        apiVersion: dsdeploy/v1
        kind: Backend
        metadata: {name: b}
        spec:
          engine: sglang
          versions:
            v: {engineVersion: "0.5.23", image: img, command: "--model-path {{model_path}} --host {{worker_ip}} --port {{port}}"}
        ---
        apiVersion: dsdeploy/v1
        kind: Target
        metadata: {name: fleet}
        spec:
          type: docker
          hosts:
        \(hosts)
        ---
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: d}
        spec:
          target: fleet
          model: {source: huggingface, id: x/y}
          backend: b
          backendVersion: v
          replicas: \(replicas)
          gpusPerReplica: \(gpus)
          args: [--tp-size \(gpus)]
        """
        let (m, d) = ManifestLoader(source: MemoryFileSource(files: ["m.yaml": text]), targetTypes: TargetKinds.schemas).load(["m.yaml"])
        return SpecValidator(targetTypes: TargetKinds.schemas).validate(m, loadDiagnostics: d).diagnostics.filter { $0.severity == .error }
    }

    @Test func errorsPointAtTheHostEntry() throws {
        let errors = validate("""
            - {name: a, docker: "ssh://deploy@10.0.0.11", gpus: 8}
            - name: b
              docker: "https://10.0.0.12:2376"
              gpus: eight
        """)
        let scheme = try #require(errors.first { $0.message.contains("must start with unix://") })
        #expect(scheme.location?.line == 17 && scheme.location?.column == 15, "\(String(describing: scheme.location))")
        let gpus = try #require(errors.first { $0.message.contains("gpus must be a count") })
        #expect(gpus.location?.line == 18 && gpus.location?.column == 13, "\(String(describing: gpus.location))")
    }

    @Test func aDeploymentThatCannotFitTheHostsGPUsIsRefused() throws {
        let two = """
            - {name: a, docker: "ssh://deploy@10.0.0.11", gpus: 8}
            - {name: b, docker: "ssh://deploy@10.0.0.12", gpus: 4}
        """
        #expect(validate(two, replicas: 1, gpus: 8).isEmpty)
        let tooBig = validate(two, replicas: 1, gpus: 16)
        #expect(tooBig.map(\.message) == ["deployment 'd' needs 16 GPUs per replica on one host, but the largest host of target 'fleet' has 8 (a 8, b 4)"],
                "\(tooBig.map(\.message))")
        #expect(tooBig.first?.location?.line == 27)
        #expect(validate(two, replicas: 3, gpus: 4).isEmpty, "3 × 4 fits: a takes 2, b takes 1")
        let four = validate(two, replicas: 4, gpus: 4)
        #expect(four.map(\.message) == ["deployment 'd' needs 4 replicas of 4 GPUs, but the hosts of target 'fleet' have room for 3 (a 8, b 4)"],
                "\(four.map(\.message))")
    }
}

/// `validate` of a multi-node replica on a docker target: one node per host, so the hosts must be
/// enough (and have the GPUs), and the host network; located at `nodesPerReplica`.
@Suite struct DockerMultiNodeValidationTests {
    func validate(_ hosts: String, nodes: Int, gpus: Int = 8, network: String = "") -> [Diagnostic] {
        let text = """
        apiVersion: dsdeploy/v1
        kind: Backend
        metadata: {name: b}
        spec:
          engine: sglang
          versions:
            v: {engineVersion: "0.5.23", image: img, command: "--model-path {{model_path}} --host {{worker_ip}} --port {{port}}"}
        ---
        apiVersion: dsdeploy/v1
        kind: Target
        metadata: {name: fleet}
        spec:
          type: docker\(network)
          hosts:
        \(hosts)
        ---
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: d}
        spec:
          target: fleet
          model: {source: huggingface, id: x/y}
          backend: b
          backendVersion: v
          gpusPerReplica: \(gpus)
          nodesPerReplica: \(nodes)
          args: [--tp-size \(gpus * nodes)]
        """
        let (m, d) = ManifestLoader(source: MemoryFileSource(files: ["m.yaml": text]), targetTypes: TargetKinds.schemas).load(["m.yaml"])
        return SpecValidator(targetTypes: TargetKinds.schemas).validate(m, loadDiagnostics: d).diagnostics.filter { $0.severity == .error }
    }

    @Test func aGroupNeedsAsManyHostsAsNodesOnTheHostNetwork() throws {
        let two = """
            - {name: a, docker: "ssh://deploy@10.0.0.11", gpus: 8}
            - {name: b, docker: "ssh://deploy@10.0.0.12", gpus: 4}
            - {name: c, docker: "ssh://deploy@10.0.0.13"}
        """
        #expect(validate(two, nodes: 2).isEmpty, "a and c (whose GPUs nvidia-smi counts)")
        let three = validate(two, nodes: 3)
        #expect(three.map(\.message) == ["deployment 'd': a replica on 3 nodes (nodesPerReplica: 3) runs one node per host, on 3 distinct "
                                         + "hosts with 8 GPUs each, but target 'fleet' has 2 such of 3 hosts (a 8 GPUs, b 4 GPUs, c)"],
                "\(three.map(\.message))")
        #expect(three.first?.id == "insufficient-gpus" && three.first?.location?.line == 28, "at nodesPerReplica: \(String(describing: three.first?.location))")
        let bridge = validate(two, nodes: 2, network: "\n  network: bridge")
        #expect(bridge.first?.id == "unsupported" && bridge.first?.message.contains("network: bridge") == true
                && bridge.first?.location?.line == 29, "\(bridge.map { ($0.message, $0.location?.line ?? 0) })")
    }
}

/// A disaggregated deployment on a docker target: validated only with the hosts' network, and the
/// router's container is created like any replica's but without GPUs, hub volume or engine ulimits.
@Suite struct DockerDisaggregationTests {
    func load(network: String) -> ValidationResult {
        let text = """
        apiVersion: dsdeploy/v1
        kind: Backend
        metadata: {name: b}
        spec:
          engine: sglang
          versions:
            v: {engineVersion: "0.5.23", image: img, entrypoint: [sglang, serve], command: "--model-path {{model_path}} --host {{worker_ip}} --port {{port}}"}
        ---
        apiVersion: dsdeploy/v1
        kind: Target
        metadata: {name: fleet}
        spec:
          type: docker
          network: \(network)
          hosts:
            - {name: a, docker: "ssh://deploy@10.0.0.11", gpus: 8}
            - {name: b, docker: "ssh://deploy@10.0.0.12", gpus: 8}
        ---
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: d}
        spec:
          target: fleet
          model: {source: huggingface, id: x/y}
          backend: b
          backendVersion: v
          port: 30000
          args: [--tp-size 8]
          disaggregation:
            prefill: {gpusPerReplica: 8}
            decode: {gpusPerReplica: 8}
            router: {version: "0.3.2", image: router-img}
        """
        let (m, d) = ManifestLoader(source: MemoryFileSource(files: ["m.yaml": text]), targetTypes: TargetKinds.schemas).load(["m.yaml"])
        return SpecValidator(targetTypes: TargetKinds.schemas).validate(m, loadDiagnostics: d)
    }

    @Test func bridgeIsRefusedAtDisaggregation() throws {
        let errors = load(network: "bridge").diagnostics.filter { $0.severity == .error }
        #expect(errors.map(\.id) == ["unsupported"], "\(errors.map(\.message))")
        #expect(errors.first?.message.hasPrefix("deployment 'd': prefill/decode disaggregation needs the hosts' network") == true)
        #expect(errors.first?.location?.line == 30 && errors.first?.location?.column == 5, "\(String(describing: errors.first?.location))")
    }

    @Test func theRoutersContainerHasNoGPUs() throws {
        let r = load(network: "host")
        #expect(r.isValid, "\(r.diagnostics.map(\.message))")
        let config = try #require(r.deployments.first?.target)
        let target = SlotTarget(ref: TargetRef(name: "fleet", type: "docker"), driver: InMemoryDriver(clock: ManualClock()),
                                hosts: DockerKind.inventory(config), clock: ManualClock())
        let specs = try target.desired(PlanInput(deployments: r.deployments, files: []))
        #expect(Set(specs.map(\.deployment)) == ["d", "d-prefill", "d-decode"], "\(specs.map(\.id))")
        let router = try #require(specs.first { $0.deployment == "d" })
        let body = DockerDriver.createBody(router, environment: [:], labels: [:])
        #expect(body["Image"]?.string == "router-img")
        #expect(body["Entrypoint"]?.array?.compactMap(\.string) == ["python3", "-m", "sglang_router.launch_router"])
        let cmd = body["Cmd"]?.array?.compactMap(\.string) ?? []
        #expect(cmd.starts(with: ["--host", router.host, "--port", "30000"]) && cmd.contains("--pd-disaggregation"), "\(cmd)")
        let host = try #require(body["HostConfig"])
        #expect(host["DeviceRequests"] == nil && host["NetworkMode"]?.string == "host")
        #expect(host["Binds"]?.array?.isEmpty == true && host["Ulimits"]?.array?.isEmpty == true, "\(host)")
        let server = try #require(specs.first { $0.deployment == "d-decode" })
        let serverHost = DockerDriver.createBody(server, environment: [:], labels: [:])["HostConfig"]
        #expect(serverHost?["DeviceRequests"]?.array?.first?["DeviceIDs"]?.array?.count == 8)
        #expect(serverHost?["Ulimits"]?.array?.count == 2 && serverHost?["Binds"]?.array?.count == 1)
    }
}

/// The Engine API client's answers to status codes, against a loopback HTTP server that answers as
/// dockerd does (`GET /version`, then the call). `POST /containers/{id}/start` answers 304 for a
/// container already running: a start whose answer was lost and that was sent again must not fail.
@Suite struct DockerAPIStatusTests {
    /// Answers each request on its own connection: `answer(method, path)` → (status, body).
    final class EngineStub: @unchecked Sendable {
        let port: Int
        private let listener: Int32
        private let lock = NSLock()
        private var seen: [String] = []
        private let ended = DispatchSemaphore(value: 0)
        var requests: [String] { lock.withLock { seen } }

        init(_ answer: @escaping @Sendable (String, String) -> (Int, String)) throws {
            guard let (l, p) = loopbackListener(backlog: 16) else { throw DockerError(status: 0, message: "cannot listen") }
            listener = l
            port = p
            // The thread closes the listener itself once `stop` has shut it down: closed by `stop`,
            // its number could be reused by another test's socket before this loop calls accept
            // again, and this stub would answer that test's requests.
            let thread = Thread { [self] in
                defer {
                    close(l)
                    ended.signal()
                }
                while true {
                    let c = accept(l, nil, nil)
                    if c < 0 { return }
                    var bytes: [UInt8] = []
                    var buf = [UInt8](repeating: 0, count: 4096)
                    while !String(decoding: bytes, as: UTF8.self).contains("\r\n\r\n") {
                        let n = recv(c, &buf, buf.count, 0)
                        if n <= 0 { break }
                        bytes += buf[..<n]
                    }
                    let line = String(decoding: bytes, as: UTF8.self).split(separator: "\r\n").first.map(String.init) ?? ""
                    let parts = line.split(separator: " ").map(String.init)
                    let (method, path) = (parts.first ?? "", parts.count > 1 ? parts[1] : "")
                    lock.withLock { seen.append("\(method) \(path)") }
                    let (status, body) = path == "/version" ? (200, #"{"ApiVersion":"1.43"}"#) : answer(method, path)
                    if status == 0 {  // no answer: the connection just closes
                        close(c)
                        continue
                    }
                    let text = "HTTP/1.1 \(status) X\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n"
                        + "Connection: close\r\n\r\n\(body)"
                    _ = Array(text.utf8).withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    close(c)
                }
            }
            thread.start()
        }

        func stop() {
            shutdown(listener, Int32(SHUT_RDWR))
            ended.wait()
        }
    }

    func api(_ stub: EngineStub) throws -> DockerAPI {
        DockerAPI(endpoint: try DockerEndpoint.parse("tcp://127.0.0.1:\(stub.port)").get())
    }

    @Test func aStartOfARunningContainerIsNotAFailure() throws {
        let stub = try EngineStub { method, path in
            switch (method, path) {
            case ("POST", "/v1.43/containers/running/start"): (304, "")
            case ("POST", "/v1.43/containers/new/start"): (204, "")
            default: (404, #"{"message":"No such container: gone"}"#)
            }
        }
        defer { stub.stop() }
        let docker = try api(stub)
        try docker.start("running")
        try docker.start("new")
        #expect(throws: DockerError.self) { try docker.start("gone") }
        do {
            try docker.start("gone")
        } catch {
            #expect(error.status == 404 && error.message.contains("No such container: gone"), "\(error)")
        }
        #expect(stub.requests.filter { $0.hasSuffix("/start") }.count == 4)
    }

    /// Stopping one already stopped (304) or gone (404), and removing one gone (404): all fine. No
    /// grace: only the forced removal. A stop that gets no answer goes on to the removal.
    @Test func stoppingWhatIsStoppedOrGoneIsNotAFailure() throws {
        let stub = try EngineStub { method, path in
            switch (method, path) {
            case ("POST", "/v1.43/containers/stopped/stop?t=5"): (304, "")
            case ("DELETE", "/v1.43/containers/stopped?force=1"), ("DELETE", "/v1.43/containers/running?force=1"),
                 ("DELETE", "/v1.43/containers/unanswered?force=1"): (204, "")
            case ("POST", "/v1.43/containers/unanswered/stop?t=5"): (0, "")
            case ("POST", "/v1.43/containers/busy/stop?t=5"): (500, #"{"message":"cannot stop container: busy"}"#)
            default: (404, #"{"message":"No such container"}"#)
            }
        }
        defer { stub.stop() }
        let docker = try api(stub)
        try docker.stopAndRemove("stopped", grace: 5)
        try docker.stopAndRemove("gone", grace: 5)
        try docker.stopAndRemove("running", grace: 0)
        #expect(!stub.requests.contains { $0.contains("/running/stop") }, "no grace: no stop call")
        try docker.stopAndRemove("unanswered", grace: 5)
        #expect(stub.requests.contains("DELETE /v1.43/containers/unanswered?force=1"))
        do {
            try docker.stopAndRemove("busy", grace: 5)
            Issue.record("a stop the engine refused must fail")
        } catch {
            #expect(error.status == 500 && error.message.contains("cannot stop container: busy"), "\(error)")
        }
    }
}
