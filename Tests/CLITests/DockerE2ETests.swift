import Foundation
import POSIXSpawn
import Testing
import TestSupport

/// The docker target end to end on the built binary against podman's Docker-compatible API, which
/// the test starts itself (`scripts/setup-podman.sh serve`). The engine is the tiny real llama.cpp
/// server in its registry-free image (`scripts/engine-image.sh tiny-llama`), on the host's network.
@Suite(.serialized) struct DockerE2ETests {
    /// One podman API socket per "host"; two sockets of one podman are two hosts of a fleet.
    final class Podman: @unchecked Sendable {
        let dir: String
        var pids: [Int32] = []

        init() throws {
            dir = NSTemporaryDirectory() + "dsdeploy-docker-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }

        /// Starts a service on `dir/NAME.sock` (the image first: `scripts/setup-podman.sh`); its unix:// URL.
        func socket(_ name: String) throws -> String {
            let setup = try runProcess("/bin/bash", [CLITests.root + "/scripts/setup-podman.sh"],
                                       environment: ProcessInfo.processInfo.environment, cwd: dir)
            guard setup.status == 0 else { throw Failure(description: "setup-podman.sh failed: \(setup.out)\(setup.err)") }
            let path = dir + "/\(name).sock"
            var env = ProcessInfo.processInfo.environment
            env["CONTAINERS_CONF"] = CLITests.root + "/scripts/podman/containers.conf"
            // Spawned directly (its own session, output to a file) and reaped by `stop`.
            let pid = try Spawner.spawn(argv: ["podman", "system", "service", "--time=0", "unix://" + path],
                                        environment: env.map { "\($0.key)=\($0.value)" },
                                        fileActions: [.open(0, path: "/dev/null", flags: O_RDONLY),
                                                      .open(1, path: path + ".log", flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644),
                                                      .duplicate(1, to: 2)],
                                        searchPath: true, newSession: true)
            pids.append(pid)
            let up = eventually(timeout: 30) {
                (try? runProcess("/usr/bin/curl", ["-sf", "--unix-socket", path, "http://d/_ping"], environment: [:], cwd: self.dir))?.status == 0
            }
            guard up else { throw Failure(description: "podman service did not answer on \(path)") }
            // The tiny engine's image, built from this machine's files (no registry); kept when up to date.
            let image = try runProcess("/bin/bash", [CLITests.root + "/scripts/engine-image.sh", "--docker", "unix://" + path, "tiny-llama"],
                                       environment: env, cwd: CLITests.root)
            guard image.status == 0 else { throw Failure(description: "engine-image.sh tiny-llama: \(image.out)\(image.err)") }
            return "unix://" + path
        }

        /// The containers the API lists (all states), by name.
        func containers(_ socket: String) throws -> [String] {
            let path = String(socket.dropFirst("unix://".count))
            let r = try runProcess("/usr/bin/curl", ["-s", "--unix-socket", path, "http://d/v1.41/containers/json?all=1"],
                                   environment: [:], cwd: dir)
            let list = (try JSONSerialization.jsonObject(with: Data(r.out.utf8))) as? [[String: Any]] ?? []
            return list.compactMap { ($0["Names"] as? [String])?.first }
        }

        func stop() {
            for p in pids {
                kill(-p, SIGTERM)
                var status: Int32 = 0
                _ = waitpid(p, &status, 0)
            }
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    struct Failure: Error, CustomStringConvertible { var description: String }

    /// The quickstart's tiny llama.cpp deployment on a docker target with `hosts`, in the image
    /// `scripts/engine-image.sh` builds (the engine, its Python and the model inside; no bind mount).
    func manifest(hosts: [(String, String)], replicas: Int = 1, parallel: Int = 1, port: Int,
                  image: String = "localhost/dsdeploy-tiny-llama:dev", model: String? = nil, extraTarget: String = "",
                  benchmarks: String = "") -> String {
        """
        apiVersion: dsdeploy/v1
        kind: Backend
        metadata: {name: tiny-llama}
        spec:
          engine: llama.cpp
          versions:
            dev:
              engineVersion: "b11312"
              image: \(image)
              framework: cpu
              entrypoint: [/usr/local/bin/llama-server]
              command: "-m {{model_path}} --host {{worker_ip}} --port {{port}} -a {{model_name}}"
        ---
        apiVersion: dsdeploy/v1
        kind: Target
        metadata: {name: box}
        spec:
          type: docker
          hosts:
        \(hosts.map { "    - {name: \($0.0), docker: \"\($0.1)\", address: 127.0.0.1}" }.joined(separator: "\n"))
        \(extraTarget)
        ---
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: tiny}
        spec:
          target: box
          model: {source: local, path: \(model ?? "/models/tiny-llama.gguf")}
          backend: tiny-llama
          backendVersion: dev
          servedModelName: tiny-llama
          replicas: \(replicas)
          port: \(port)
          readiness: {timeoutSeconds: 60}
          rollout: {maxSurge: 0, maxUnavailable: 1}
          args: [-c 512, --parallel \(parallel), --threads 1]
          container:
            ulimits: {}
        \(benchmarks)
        """
    }

    @Test func applyReplaceRevertLogsAndDeleteOnOneHost() throws {
        let podman = try Podman()
        defer { podman.stop() }
        let sock = try podman.socket("a")
        let s = try Sandbox()
        defer { _ = try? s.run(["delete", "manifests/app.yaml", "--auto-approve", "--grace", "2"]); s.tearDown() }
        let app = s.dir + "/manifests/app.yaml"
        try manifest(hosts: [("podman-a", sock)], port: s.port).write(toFile: app, atomically: true, encoding: .utf8)

        let first = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(first.status == 0, "\(first.out)\(first.err)")
        #expect(first.out.contains("Target box: Docker hosts podman-a (\(sock))"), "\(first.out)")
        let status = try s.run(["status", "-f", "manifests/app.yaml", "--output", "json"])
        let row = try #require((json(status.out)["replicas"] as? [[String: Any]])?.first, "\(status.out)\(status.err)")
        #expect(row["state"] as? String == "ready" && row["host"] as? String == "podman-a", "\(row)")
        let endpoint = try #require(row["endpoint"] as? String)
        let models = try runProcess("/usr/bin/curl", ["-sf", endpoint + "/v1/models"], environment: [:], cwd: s.dir)
        #expect(models.status == 0 && models.out.contains("tiny-llama"), "the container serves: \(models.out)")
        let names = try podman.containers(sock)
        #expect(names.count == 1 && names[0].hasPrefix("/dsd-tiny-0-"), "\(names)")
        #expect(try s.run(["plan", "manifests/app.yaml", "--detailed-exitcode"]).status == 0, "nothing to change")
        // The state lives on the host: another machine (another state directory) sees the same and plans nothing.
        let elsewhere = ["DSDEPLOY_HOME": s.dir + "/other-machine"]
        let otherPlan = try s.run(["plan", "manifests/app.yaml", "--detailed-exitcode"], env: elsewhere)
        #expect(otherPlan.status == 0, "\(otherPlan.out)\(otherPlan.err)")
        let otherStatus = json(try s.run(["status", "-f", "manifests/app.yaml", "--output", "json"], env: elsewhere).out)
        #expect((otherStatus["replicas"] as? [[String: Any]])?.first?["state"] as? String == "ready", "\(otherStatus)")
        // Another machine's apply holds the target's lock (a network on the first host): refused, naming it.
        let path = String(sock.dropFirst("unix://".count))
        let held = #"{"Name": "dsd-lock-box", "Labels": {"dsdeploy.holder": "ci@runner-7", "dsdeploy.holder-host": "runner-7", "#
            + #""dsdeploy.holder-pid": "4242", "dsdeploy.command": "dsdeploy apply app.yaml", "dsdeploy.since": "2026-12-06T10:00:00Z"}}"#
        let create = try runProcess("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", path, "-X", "POST",
                                                      "-H", "Content-Type: application/json", "-d", held,
                                                      "http://d/v1.41/networks/create"], environment: [:], cwd: s.dir)
        #expect(create.out == "201", "\(create.out)\(create.err)")
        let locked = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(locked.status == 1)
        #expect(locked.err.contains("target 'box' is locked by ci@runner-7 (pid 4242 on runner-7, since 2026-12-06T10:00:00Z: dsdeploy apply app.yaml)"),
                "\(locked.err)")
        _ = try runProcess("/usr/bin/curl", ["-s", "--unix-socket", path, "-X", "DELETE", "http://d/v1.41/networks/dsd-lock-box"],
                           environment: [:], cwd: s.dir)
        #expect(try s.run(["apply", "manifests/app.yaml", "--auto-approve"]).status == 0, "the lock is gone: apply works again (a no-op)")

        // A flag change: the container is replaced, the new one verified (the engine's /props).
        try manifest(hosts: [("podman-a", sock)], parallel: 2, port: s.port).write(toFile: app, atomically: true, encoding: .utf8)
        let replace = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(replace.status == 0 && replace.out.contains("~ --parallel: 1 → 2"), "\(replace.out)\(replace.err)")
        let after = try podman.containers(sock)
        #expect(after.count == 1 && after != names, "one container, a new one: \(after)")

        // A container killed behind dsdeploy's back is found and replaced.
        let victim = String(after[0].dropFirst())
        _ = try runProcess("/usr/bin/curl", ["-s", "--unix-socket", String(sock.dropFirst("unix://".count)), "-X", "POST",
                                             "http://d/v1.41/containers/\(victim)/kill"], environment: [:], cwd: s.dir)
        let found = try s.run(["plan", "manifests/app.yaml"])
        #expect(found.out.contains("~ replace tiny/0  (replica is not running"), "\(found.out)\(found.err)")
        #expect(try s.run(["apply", "manifests/app.yaml", "--auto-approve"]).status == 0)
        #expect((json(try s.run(["status", "-f", "manifests/app.yaml", "--output", "json"]).out)["replicas"] as? [[String: Any]])?
            .contains { $0["state"] as? String == "ready" } == true)

        // A model that is not there: the engine exits, the rollout fails with its log, and the
        // previous revision is started again (maxSurge 0 stopped it first).
        try manifest(hosts: [("podman-a", sock)], parallel: 2, port: s.port, model: "/nonexistent/model.gguf")
            .write(toFile: app, atomically: true, encoding: .utf8)
        let broken = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(broken.status == 1, "\(broken.out)\(broken.err)")
        #expect(broken.out.contains("container exited"), "\(broken.out)")
        let back = try s.run(["status", "-f", "manifests/app.yaml", "--output", "json"])
        let rows = (json(back.out)["replicas"] as? [[String: Any]]) ?? []
        #expect(rows.count == 1 && rows.first?["state"] as? String == "ready", "the last good revision serves: \(back.out)")

        let logs = try s.run(["logs", "tiny", "--file", "manifests/app.yaml", "--tail", "5"])
        #expect(logs.status == 0 && logs.out.contains("listening"), "\(logs.out)\(logs.err)")
        // `logs -f` follows the container's output: still running (and printing) until killed, so `timeout -s KILL` ends by that signal (KILL: the test process may hand its children a blocked SIGTERM).
        var env = ProcessInfo.processInfo.environment
        env["DSDEPLOY_HOME"] = s.dir + "/.dsdeploy"
        let follow = try runProcess("/usr/bin/timeout", ["-s", "KILL", "3", CLITests.binary, "logs", "tiny", "--file", "manifests/app.yaml",
                                                         "-f", "--tail", "2"], environment: env, cwd: s.dir)
        #expect(follow.status == 9 && !follow.out.isEmpty, "\(follow.status): \(follow.out)\(follow.err)")
        let delete = try s.run(["delete", "manifests/app.yaml", "--auto-approve", "--grace", "2"])
        #expect(delete.status == 0, "\(delete.out)\(delete.err)")
        #expect(try podman.containers(sock).isEmpty)
    }

    @Test func aFleetSpreadsReplicasAndAMissingImageIsNamed() throws {
        let podman = try Podman()
        defer { podman.stop() }
        let a = try podman.socket("a"), b = try podman.socket("b")
        let s = try Sandbox()
        defer { _ = try? s.run(["delete", "manifests/app.yaml", "--auto-approve", "--grace", "2"]); s.tearDown() }
        let app = s.dir + "/manifests/app.yaml"
        try manifest(hosts: [("host-a", a), ("host-b", b)], replicas: 2, port: s.port).write(toFile: app, atomically: true, encoding: .utf8)
        let apply = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(apply.status == 0, "\(apply.out)\(apply.err)")
        let rows = (json(try s.run(["status", "-f", "manifests/app.yaml", "--output", "json"]).out)["replicas"] as? [[String: Any]]) ?? []
        #expect(rows.map { $0["host"] as? String ?? "" } == ["host-a", "host-b"], "one replica per host: \(rows)")
        #expect(rows.allSatisfy { $0["state"] as? String == "ready" })

        // An image the hosts do not have, with the default pull policy (never): refused by name, nothing changes.
        try manifest(hosts: [("host-a", a), ("host-b", b)], replicas: 2, port: s.port, image: "localhost/dsd-missing:1")
            .write(toFile: app, atomically: true, encoding: .utf8)
        let missing = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(missing.status == 1)
        #expect(missing.out.contains("host 'host-a' has no image localhost/dsd-missing:1, and target 'box' never pulls"), "\(missing.out)")
        let still = (json(try s.run(["status", "-f", "manifests/app.yaml", "--output", "json"]).out)["replicas"] as? [[String: Any]]) ?? []
        #expect(still.count == 2 && still.allSatisfy { $0["state"] as? String == "ready" }, "\(still)")
    }

    @Test func gatesBenchmarkTheContainersEndpoint() throws {
        let podman = try Podman()
        defer { podman.stop() }
        let sock = try podman.socket("a")
        let s = try Sandbox()
        defer { _ = try? s.run(["delete", "manifests/app.yaml", "--auto-approve", "--grace", "2"]); s.tearDown() }
        let benchmarks = """
          benchmarks:
            scenarios:
              - name: tiny
                inputLen: 16
                outputLen: 8
                numPrompts: 4
                maxConcurrency: 1
                gates: [median_ttft_ms <= 10000, completed >= 4]
        """
        try manifest(hosts: [("podman-a", sock)], port: s.port, benchmarks: benchmarks)
            .write(toFile: s.dir + "/manifests/app.yaml", atomically: true, encoding: .utf8)
        let r = try s.run(["apply", "manifests/app.yaml", "--auto-approve", "--gate", "--output", "json"])
        #expect(r.status == 0, "\(r.out)\(r.err)")
        let gate = try #require((json(r.out)["gate"] as? [String: Any])?["deployments"] as? [[String: Any]])
        #expect(gate.first?["result"] as? String == "passed", "\(gate)")
        let scenario = try #require((gate.first?["scenarios"] as? [[String: Any]])?.first)
        #expect((scenario["endpoint"] as? String)?.hasPrefix("http://127.0.0.1:") == true, "the container's endpoint: \(scenario)")
    }

    /// sshd in a network namespace of its own: a remote host reached only by ssh, whose Docker
    /// socket (a path on the shared filesystem) is the podman API socket.
    final class RemoteHost: @unchecked Sendable {
        let host: NamespaceHost
        var dir: String { host.dir }

        init(dir: String) throws {
            host = try NamespaceHost(dir: dir, prefix: "dsd-h", net: 231)
            try host.startSSHD()
            try host.sshConfigEntry("remote-h1").write(toFile: dir + "/ssh_config", atomically: true, encoding: .utf8)
            try host.waitForSSH("remote-h1", config: dir + "/ssh_config")
        }

        func stop() {
            host.stopSSHD(masters: dir + "/ssh_config")
            host.remove()
        }
    }

    @Test func aHostReachedOverSSH() throws {
        let podman = try Podman()
        defer { podman.stop() }
        let sock = try podman.socket("remote")
        let remote = try RemoteHost(dir: podman.dir)
        defer { remote.stop() }
        let s = try Sandbox()
        defer { _ = try? s.run(["delete", "manifests/app.yaml", "--auto-approve", "--grace", "2"]); s.tearDown() }
        let path = String(sock.dropFirst("unix://".count))
        // The user's own ssh config names the host; the remote socket is podman's.
        try manifest(hosts: [("h1", "ssh://remote-h1\(path)")], port: s.port, extraTarget: "  sshConfig: \(podman.dir)/ssh_config")
            .write(toFile: s.dir + "/manifests/app.yaml", atomically: true, encoding: .utf8)
        let apply = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(apply.status == 0, "\(apply.out)\(apply.err)")
        #expect(apply.out.contains("Docker hosts h1 (ssh://remote-h1\(path))"), "\(apply.out)")
        let rows = (json(try s.run(["status", "-f", "manifests/app.yaml", "--output", "json"]).out)["replicas"] as? [[String: Any]]) ?? []
        #expect(rows.count == 1 && rows.first?["host"] as? String == "h1" && rows.first?["state"] as? String == "ready", "\(rows)")
        #expect(try podman.containers(sock).count == 1)
        // One multiplexed connection: the master dsdeploy started is reused by the next command.
        let control = try #require(try FileManager.default.contentsOfDirectory(atPath: s.dir + "/.dsdeploy/ssh")
            .first { $0.hasPrefix("cm-") }, "dsdeploy keeps one control socket per host")
        let check = try runProcess("/usr/bin/ssh", ["-F", podman.dir + "/ssh_config", "-o", "ControlPath=" + s.dir + "/.dsdeploy/ssh/" + control,
                                                    "-O", "check", "remote-h1"], environment: [:], cwd: s.dir)
        #expect(check.status == 0, "the ssh master still runs for the next command: \(check.err)")
        #expect(try s.run(["delete", "manifests/app.yaml", "--auto-approve", "--grace", "2"]).status == 0)
        #expect(try podman.containers(sock).isEmpty)
    }

    @Test func hostsThisDsdeployCannotReachAreLocatedErrors() throws {
        let s = try Sandbox()
        defer { s.tearDown() }
        let app = s.dir + "/manifests/app.yaml"
        try manifest(hosts: [("h20-a", "https://10.0.0.11:2376")], port: s.port).write(toFile: app, atomically: true, encoding: .utf8)
        let r = try s.run(["validate", "manifests/app.yaml"])
        #expect(r.status == 1)
        #expect(r.err.contains("app.yaml:20:29: error: target 'box', host 'h20-a': docker 'https://10.0.0.11:2376' must start with unix://, tcp:// or ssh://"),
                "\(r.err)")
    }
}
