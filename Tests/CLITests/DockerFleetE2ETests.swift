import Foundation
import POSIXSpawn
import Testing
import TestSupport

/// The seed's DSpark deployment on a fleet of Docker hosts, end to end on the built binary: each
/// host is a network namespace of its own with its own sshd and its own dockerd (own data root and
/// socket, `scripts/setup-dockerd.sh`), reached only through SSH. The image is the engine simulator
/// (`scripts/engine-image.sh`), tagged with the seed's image name, so the seed's Backend file runs
/// unchanged: `entrypoint: [sglang, serve]`, its run command, its readiness log line. GPUs are real
/// `DeviceRequests`: each dockerd finds an `nvidia-container-runtime-hook` on its PATH (a stand-in
/// that does nothing), so dockerd accepts the request and hands the container NVIDIA_VISIBLE_DEVICES
/// exactly as on a GPU host.
@Suite(.serialized) struct DockerFleetE2ETests {
    struct Failure: Error, CustomStringConvertible { var description: String }

    static let seedImage = "swr.cn-north-4.myhuaweicloud.com/desaysv/gpustack/sglang-dspark:v1.0"

    /// One fake GPU host: a network namespace (`NamespaceHost`), its sshd, its dockerd.
    final class FleetHost: @unchecked Sendable {
        let name: String
        let host: NamespaceHost
        var dir: String { host.dir }
        var ns: String { host.ns }
        var address: String { host.address }
        var dockerd = false

        /// `tls`: the daemon also listens on ADDRESS:2376 with `--tlsverify` (certificates in `dir/d/tls`).
        init(name: String, tls: Bool = false, bridge: Bool = false, ssh: Bool = true) throws {
            self.name = name
            // Short: dockerd's and containerd's unix sockets live under it.
            host = try NamespaceHost(dir: "/tmp/dsf-" + String(UInt32.random(in: 0...0xffffff), radix: 16), prefix: "dsf", net: 233)
            let dir = host.dir
            try FileManager.default.createDirectory(atPath: dir + "/bin", withIntermediateDirectories: true)
            // The NVIDIA hook dockerd looks for on its PATH: with it, `--gpus`/DeviceRequests work.
            let hook = dir + "/bin/nvidia-container-runtime-hook"
            try "#!/bin/sh\ncat >/dev/null\nexit 0\n".write(toFile: hook, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: hook)
            var env = ProcessInfo.processInfo.environment
            env["PATH"] = dir + "/bin:" + (env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin")
            let serve = try Self.script([CLITests.root + "/scripts/setup-dockerd.sh", "serve", dir + "/d", "--netns", host.ns]
                                        + (bridge ? ["--bridge"] : []) + (tls ? ["--tls", host.address + ":2376"] : []),
                                        environment: env, log: dir + "/serve.log")
            guard serve.status == 0 else { throw Failure(description: "setup-dockerd.sh serve: \(serve.out)\(serve.err)") }
            dockerd = true
            let image = try Self.script([CLITests.root + "/scripts/engine-image.sh", "--docker", "unix://" + socket, "sim"],
                                        environment: ProcessInfo.processInfo.environment, log: dir + "/image.log")
            guard image.status == 0 else { throw Failure(description: "engine-image.sh: \(image.out)\(image.err)") }
            let (repo, tag2) = (String(seedImage.split(separator: ":")[0]), String(seedImage.split(separator: ":")[1]))
            let tagged = try api("POST", "/images/localhost/dsdeploy-engine-sim:dev/tag?repo=\(repo)&tag=\(tag2)")
            guard tagged.status == 201 else { throw Failure(description: "tagging the seed's image: \(tagged)") }
            // nvidia-smi for a session over SSH: a stand-in that prints `gpus.csv` and `apps.csv` when a
            // test writes them (lines in the real captures' format), else fails as without a driver.
            let smi = dir + "/bin/nvidia-smi"
            try """
                #!/bin/sh
                [ -f '\(dir)/gpus.csv' ] || { echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver." >&2; exit 9; }
                case "$1" in
                  --query-gpu=*) cat '\(dir)/gpus.csv' ;;
                  --query-compute-apps=*) cat '\(dir)/apps.csv' ;;
                  *) exit 2 ;;
                esac
                """.write(toFile: smi, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: smi)
            if ssh { try host.startSSHD(setEnv: ["PATH": dir + "/bin:/usr/local/bin:/usr/bin:/bin"]) }
        }

        var socket: String { dir + "/d/docker.sock" }

        /// Runs a script that leaves daemons behind (setsid): output to a file, not a pipe a daemon
        /// could hold open, and waited for by pid. Its exit status and output.
        static func script(_ argv: [String], environment: [String: String], log: String) throws -> (status: Int32, out: String, err: String) {
            let pid = try Spawner.spawn(argv: ["/bin/bash"] + argv, environment: environment.map { "\($0.key)=\($0.value)" },
                                        fileActions: [.open(0, path: "/dev/null", flags: O_RDONLY),
                                                      .open(1, path: log, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644),
                                                      .duplicate(1, to: 2)])
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            let out = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            return ((status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f), out, "")
        }

        /// This host's entry of the user's ssh config (host key pinned, StrictHostKeyChecking yes).
        var sshConfig: String { host.sshConfigEntry(name) }

        /// Calls this host's Engine API directly (the test's own view, not dsdeploy's).
        @discardableResult
        func api(_ method: String, _ path: String, body: String? = nil, headers: [String] = []) throws -> (status: Int, body: String) {
            let data = (body.map { ["-H", "Content-Type: application/json", "-d", $0] } ?? []) + headers.flatMap { ["-H", $0] }
            let r = try runProcess("/usr/bin/curl", ["-s", "-w", "\n%{http_code}", "-X", method, "--unix-socket", socket] + data
                                   + ["http://d/v1.41" + path], environment: [:], cwd: "/")
            let lines = r.out.split(separator: "\n", omittingEmptySubsequences: false)
            return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
        }

        /// This host's containers (all states).
        func containers() throws -> [[String: Any]] {
            let body = try api("GET", "/containers/json?all=1").body
            return (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [[String: Any]] ?? []
        }

        /// Cuts the host off this machine (its link goes down), or brings it back.
        func cut(_ down: Bool) throws { try host.cut(down) }

        func stop() {
            host.stopSSHD(masters: "fleet_ssh_config")
            if dockerd {
                _ = try? Self.script([CLITests.root + "/scripts/setup-dockerd.sh", "stop", dir + "/d"],
                                     environment: ProcessInfo.processInfo.environment, log: "/dev/null")
            }
            host.remove()
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    /// The seed's DSpark deployment (its Backend file as shipped) on a fleet of `hosts`.
    func manifest(_ s: Sandbox, hosts: [FleetHost], sshConfig: String, replicas: Int = 4, memFraction: String = "0.85",
                  env: [String: String] = [:], extra: String = "") -> String {
        var envLines = "    PYPI_PACKAGES_INSTALL: \"-U distro\"\n"
        for (k, v) in env.sorted(by: { $0.key < $1.key }) { envLines += "    \(k): '\(v)'\n" }
        return """
        apiVersion: dsdeploy/v1
        kind: Include
        metadata: {name: backend}
        spec: {files: [backends/sglang-dspark.yaml]}
        ---
        apiVersion: dsdeploy/v1
        kind: Target
        metadata: {name: gpu-fleet}
        spec:
          type: docker
          sshConfig: \(sshConfig)
          hosts:
        \(hosts.map { "    - {name: \($0.name), docker: \"ssh://\($0.name)\($0.socket)\", address: \($0.address), gpus: 16}" }.joined(separator: "\n"))
        ---
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: dspark}
        spec:
          target: gpu-fleet
          model: {source: modelscope, id: deepseek-ai/DeepSeek-V4-Flash-DSpark}
          backend: sglang-dspark
          backendVersion: dspark
          replicas: \(replicas)
          gpusPerReplica: 8
          port: \(s.port)
          readiness: {timeoutSeconds: 60}
          rollout: {maxSurge: 2, maxUnavailable: 0}
          # The test VM's root cannot raise memlock (no CAP_SYS_RESOURCE): runc refuses the default ulimits.
          container: {ulimits: {}}
          args:
            - --tp-size 8
            - --ep-size 8
            - --speculative-algorithm DSPARK
            - --mem-fraction-static \(memFraction)
          env:
        \(envLines)
        """ + extra
    }

    func rows(_ s: Sandbox, env: [String: String] = [:]) throws -> [[String: Any]] {
        let r = try s.run(["status", "-f", "manifests/app.yaml", "--output", "json"], env: env)
        return (json(r.out)["replicas"] as? [[String: Any]]) ?? []
    }

    /// A host without `gpus` hands out what its nvidia-smi reports free, read over the SSH connection:
    /// a GPU another program holds is skipped and named (the stand-in prints an 8-GPU host in the
    /// real captures' format, GPU 2 held by pid 438).
    @Test func aHostWithoutGPUsAsksItsNvidiaSmiOverSSH() throws {
        let a = try FleetHost(name: "h20-a")
        defer { a.stop() }
        let s = try Sandbox()
        defer { s.tearDown() }
        let sshConfig = s.dir + "/fleet_ssh_config"
        try a.sshConfig.write(toFile: sshConfig, atomically: true, encoding: .utf8)
        let uuid = { (i: Int) in "GPU-9e7bc364-3fcd-7c80-c2db-d5ab8914e66\(i)" }
        try (0..<8).map { "\($0), \(uuid($0)), NVIDIA H100 80GB HBM3, 81559, 0, 81079, 0, 00000000:00:0\($0).0, 580.159.04, 9.0\n" }.joined()
            .write(toFile: a.dir + "/gpus.csv", atomically: true, encoding: .utf8)
        try "\(uuid(2)), 438, /usr/bin/python3, 6242\n".write(toFile: a.dir + "/apps.csv", atomically: true, encoding: .utf8)
        let app = s.dir + "/manifests/app.yaml"
        try manifest(s, hosts: [a], sshConfig: sshConfig, replicas: 1).replacingOccurrences(of: ", gpus: 16}", with: "}")
            .write(toFile: app, atomically: true, encoding: .utf8)
        let full = try s.run(["plan", "manifests/app.yaml"])
        #expect(full.status == 1)
        #expect(full.err.contains("needs 8 GPUs for a replica; no host has them (h20-a: 7 of 8 free; GPU 2 runs pid 438 (python3))"),
                "\(full.out)\(full.err)")
        try (try String(contentsOfFile: app, encoding: .utf8)).replacingOccurrences(of: "gpusPerReplica: 8", with: "gpusPerReplica: 4")
            .replacingOccurrences(of: "--tp-size 8", with: "--tp-size 4").replacingOccurrences(of: "--ep-size 8", with: "--ep-size 4")
            .write(toFile: app, atomically: true, encoding: .utf8)
        let fits = try s.run(["plan", "manifests/app.yaml"])
        #expect(fits.status == 0, "\(fits.out)\(fits.err)")
        #expect(fits.out.contains("+ create  dspark/0 ") && fits.out.contains(" gpus 0,1,3,4  (new replica)")
                && fits.out.contains("warning: h20-a: GPU 2 runs pid 438 (python3), which dsdeploy did not start"), "\(fits.out)")
    }

    @Test func theSeedOnTwoHostsReachedOverSSH() throws {
        let a = try FleetHost(name: "h20-a")
        defer { a.stop() }
        let b = try FleetHost(name: "h20-b")
        defer { b.stop() }
        let s = try Sandbox()
        defer { _ = try? s.run(["delete", "manifests/app.yaml", "--auto-approve", "--grace", "2"]); s.tearDown() }
        let sshConfig = s.dir + "/fleet_ssh_config"
        try (a.sshConfig + b.sshConfig).write(toFile: sshConfig, atomically: true, encoding: .utf8)
        let app = s.dir + "/manifests/app.yaml"
        func write(_ text: String) throws { try text.write(toFile: app, atomically: true, encoding: .utf8) }
        // Bad SSH settings are clear errors naming the host, before anything is started: a key the host
        // does not accept, and a host key that does not match the one known for that address.
        let wrongKey = s.dir + "/wrong_key_ssh_config"
        try a.sshConfig.replacingOccurrences(of: a.dir + "/client_key", with: b.dir + "/client_key")
            .write(toFile: wrongKey, atomically: true, encoding: .utf8)
        try write(manifest(s, hosts: [a], sshConfig: wrongKey, replicas: 2))
        let denied = try s.run(["plan", "manifests/app.yaml"])
        #expect(denied.status == 1 && denied.err.contains("host 'h20-a'") && denied.err.contains("ssh to h20-a failed")
                && denied.err.contains("Permission denied (publickey)"), "\(denied.err)")
        let wrongHostKey = s.dir + "/wrong_host_key_ssh_config"
        try a.sshConfig.replacingOccurrences(of: a.dir + "/known_hosts", with: s.dir + "/impostor_known_hosts")
            .write(toFile: wrongHostKey, atomically: true, encoding: .utf8)
        try "[\(a.address)]:2222 \(try String(contentsOfFile: b.dir + "/host_key.pub", encoding: .utf8))"
            .write(toFile: s.dir + "/impostor_known_hosts", atomically: true, encoding: .utf8)
        try write(manifest(s, hosts: [a], sshConfig: wrongHostKey, replicas: 2))
        let mismatch = try s.run(["plan", "manifests/app.yaml"])
        #expect(mismatch.status == 1 && mismatch.err.contains("host 'h20-a'") && mismatch.err.contains("Host key verification failed"),
                "\(mismatch.err)")
        // A Docker socket path the host does not have: ssh connects and forwards, and the host refuses
        // each forwarded connection; the error says so in ssh's words.
        try write(manifest(s, hosts: [a], sshConfig: sshConfig, replicas: 2)
                  .replacingOccurrences(of: "ssh://h20-a" + a.socket, with: "ssh://h20-a/run/no-such-docker.sock"))
        let noSocket = try s.run(["plan", "manifests/app.yaml"])
        #expect(noSocket.status == 1 && noSocket.err.contains("host 'h20-a'") && noSocket.err.contains("/run/no-such-docker.sock")
                && noSocket.err.contains("open failed"), "\(noSocket.err)")
        #expect(try a.containers().isEmpty && b.containers().isEmpty)

        try write(manifest(s, hosts: [a, b], sshConfig: sshConfig))
        #expect(try s.run(["validate", "manifests/app.yaml"]).status == 0)

        // First apply: four replicas of 8 GPUs, two per host.
        var t0 = Date()
        let first = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        let firstApply = Date().timeIntervalSince(t0)
        #expect(first.status == 0, "\(first.out)\(first.err)")
        var status = try rows(s)
        #expect(status.count == 4 && status.allSatisfy { $0["state"] as? String == "ready" }, "\(status)")
        #expect(status.map { $0["host"] as? String ?? "" }.sorted() == ["h20-a", "h20-a", "h20-b", "h20-b"], "\(status)")
        // What runs on a host is the seed's container: its image, `sglang serve`, GPUs by device request.
        let onA = try a.containers()
        #expect(onA.count == 2 && onA.allSatisfy { $0["Image"] as? String == Self.seedImage }, "\(onA)")
        let id = try #require(onA.first?["Id"] as? String)
        let inspect = json(try a.api("GET", "/containers/\(id)/json").body)
        let config = inspect["Config"] as? [String: Any] ?? [:]
        #expect(config["Entrypoint"] as? [String] == ["sglang", "serve"], "\(config)")
        let env = config["Env"] as? [String] ?? []
        #expect(env.contains("SGLANG_USE_MODELSCOPE=true") && env.contains("PYPI_PACKAGES_INSTALL=-U distro")
                && env.contains("DSDEPLOY_ENGINE_VERSION=0.5.19"), "\(env)")
        let requests = (inspect["HostConfig"] as? [String: Any])?["DeviceRequests"] as? [[String: Any]] ?? []
        let ids = requests.first?["DeviceIDs"] as? [String] ?? []
        #expect(requests.first?["Driver"] as? String == "nvidia" && (ids == (0...7).map(String.init) || ids == (8...15).map(String.init)),
                "\(requests)")
        // dockerd's NVIDIA driver hands the engine process exactly those GPUs.
        let enginePid = (inspect["State"] as? [String: Any])?["Pid"] as? Int ?? 0
        let environ = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(enginePid)/environ")))
            .map { $0.split(separator: 0).map { String(decoding: $0, as: UTF8.self) } } ?? []
        #expect(environ.contains("NVIDIA_VISIBLE_DEVICES=" + ids.joined(separator: ",")), "\(environ)")
        let cmd = config["Cmd"] as? [String] ?? []
        #expect(cmd.starts(with: ["--model-path", "deepseek-ai/DeepSeek-V4-Flash-DSpark", "--host", a.address]), "\(cmd)")
        // Served where clients reach the host.
        let endpoint = try #require(status.first { $0["host"] as? String == "h20-b" }?["endpoint"] as? String)
        #expect(endpoint.hasPrefix("http://\(b.address):"), "\(endpoint)")
        let info = try runProcess("/usr/bin/curl", ["-sf", endpoint + "/server_info"], environment: [:], cwd: s.dir)
        #expect(info.status == 0 && info.out.contains("\"tp_size\":8"), "\(info.out)")

        // A no-op: plan and apply change nothing, with a constant number of reads per host.
        t0 = Date()
        let noopPlan = try s.run(["plan", "manifests/app.yaml", "--detailed-exitcode", "--output", "json"])
        let noopPlanTime = Date().timeIntervalSince(t0)
        #expect(noopPlan.status == 0, "\(noopPlan.out)\(noopPlan.err)")
        let calls = json(noopPlan.out)["api_calls"] as? [String: Any]
        #expect(calls?["reads"] as? Int == 4 && calls?["writes"] as? Int == 0, "2 reads per host (/version, /containers/json): \(String(describing: calls))")
        t0 = Date()
        let noop = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        let noopApply = Date().timeIntervalSince(t0)
        #expect(noop.status == 0 && noop.out.contains("No changes"), "\(noop.out)\(noop.err)")

        // A separate clone on another machine (its own directory and state) sees the same and plans nothing.
        let clone = NSTemporaryDirectory() + "dsdeploy-clone-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: clone) }
        try FileManager.default.copyItem(atPath: s.dir + "/manifests", toPath: clone + "/manifests")
        var other = ProcessInfo.processInfo.environment
        other["DSDEPLOY_HOME"] = clone + "/.dsdeploy"
        let clonePlan = try runProcess(CLITests.binary, ["plan", "manifests/app.yaml", "--detailed-exitcode"], environment: other, cwd: clone)
        #expect(clonePlan.status == 0, "\(clonePlan.out)\(clonePlan.err)")
        let cloneStatus = try runProcess(CLITests.binary, ["status", "-f", "manifests/app.yaml", "--output", "json"], environment: other, cwd: clone)
        #expect(((json(cloneStatus.out)["replicas"] as? [[String: Any]]) ?? []).filter { $0["state"] as? String == "ready" }.count == 4,
                "\(cloneStatus.out)")

        // A rolling flag change: every replica replaced, two at a time, each verified.
        try write(manifest(s, hosts: [a, b], sshConfig: sshConfig, memFraction: "0.80"))
        t0 = Date()
        let roll = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        let rollTime = Date().timeIntervalSince(t0)
        #expect(roll.status == 0 && roll.out.contains("~ --mem-fraction-static: 0.85 → 0.8"), "\(roll.out)\(roll.err)")
        status = try rows(s)
        #expect(status.count == 4 && Set(status.map { $0["revision"] as? String ?? "" }).count == 1, "\(status)")
        print("docker fleet (2 namespace hosts over ssh, 4 replicas): first apply \(String(format: "%.2f", firstApply)) s, "
              + "no-op plan \(String(format: "%.2f", noopPlanTime)) s, no-op apply \(String(format: "%.2f", noopApply)) s, "
              + "rolling flag change \(String(format: "%.2f", rollTime)) s")

        // Host b is cut off mid-rollout (after the first new replica on a is ready); a second apply
        // meanwhile is refused, naming the holder of the lock.
        try write(manifest(s, hosts: [a, b], sshConfig: sshConfig, memFraction: "0.80", env: ["DSDEPLOY_SIM_START_DELAY": "2"]))
        let log = s.dir + "/apply-cut.log"
        var applyEnv = ProcessInfo.processInfo.environment
        applyEnv["DSDEPLOY_HOME"] = s.dir + "/.dsdeploy"
        let pid = try Spawner.spawn(argv: [CLITests.binary, "apply", app, "--auto-approve"],
                                    environment: applyEnv.map { "\($0.key)=\($0.value)" },
                                    fileActions: [.open(0, path: "/dev/null", flags: O_RDONLY),
                                                  .open(1, path: log, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644),
                                                  .duplicate(1, to: 2)])
        let readLog = { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        #expect(eventually(timeout: 60) { readLog().contains("starting") }, "\(readLog())")
        let refused = try runProcess(CLITests.binary, ["apply", "manifests/app.yaml", "--auto-approve"], environment: other, cwd: clone)
        #expect(refused.status == 1 && refused.err.contains("target 'gpu-fleet' is locked by"), "\(refused.out)\(refused.err)")
        #expect(eventually(timeout: 60) { readLog().contains("dspark/0: ready") }, "\(readLog())")
        try b.cut(true)
        var code: Int32 = 0
        _ = waitpid(pid, &code, 0)
        let cutOutput = readLog()
        #expect((code >> 8) & 0xff == 1, "an incomplete apply exits 1: \(cutOutput)")
        #expect(cutOutput.contains("host h20-b: unreachable") && cutOutput.contains("Apply INCOMPLETE: host h20-b could not be reached"), "\(cutOutput)")
        #expect(!cutOutput.contains("reverting"), "host a's rollout finished on its own results: \(cutOutput)")
        #expect(cutOutput.contains("✔ dspark/0 replace: done") && cutOutput.contains("✔ dspark/2 replace: done"), "\(cutOutput)")
        let whileCut = try s.run(["plan", "manifests/app.yaml"])
        #expect(whileCut.status == 1 && whileCut.err.contains("host 'h20-b'"), "a plan names the host it cannot read: \(whileCut.err)")
        // b is back: the next apply converges, and nothing is left to do.
        try b.cut(false)
        // Its sshd answers again before the apply that converges (on a loaded machine the link takes a moment).
        try b.host.waitForSSH("h20-b", config: sshConfig)
        let converge = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(converge.status == 0, "\(converge.out)\(converge.err)")
        status = try rows(s)
        #expect(status.count == 4 && status.allSatisfy { $0["state"] as? String == "ready" } && Set(status.map { $0["revision"] as? String ?? "" }).count == 1,
                "\(status)")
        #expect(try s.run(["plan", "manifests/app.yaml", "--detailed-exitcode"]).status == 0)
        let (leftA, leftB) = (try a.containers(), try b.containers())
        #expect(leftA.count == 2 && leftB.count == 2, "no container left behind: \(leftA.map { $0["Names"] ?? "" }) \(leftB.map { $0["Names"] ?? "" })")

        // A container killed by hand is found and replaced.
        let victim = try #require(try b.containers().first?["Id"] as? String)
        try b.api("POST", "/containers/\(victim)/kill")
        let found = try s.run(["plan", "manifests/app.yaml"])
        #expect(found.out.contains("(replica is not running"), "\(found.out)\(found.err)")
        #expect(try s.run(["apply", "manifests/app.yaml", "--auto-approve"]).status == 0)
        #expect(try rows(s).filter { $0["state"] as? String == "ready" }.count == 4)

        // A rollout that fails (the engine dies at start) returns every host to the last good revision.
        let good = Set(try rows(s).map { $0["revision"] as? String ?? "" })
        try write(manifest(s, hosts: [a, b], sshConfig: sshConfig, memFraction: "0.75", env: ["DSDEPLOY_SIM_CRASH_ON_START": "1"]))
        let broken = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(broken.status == 1 && broken.out.contains("Apply FAILED for dspark"), "\(broken.out)\(broken.err)")
        status = try rows(s)
        #expect(status.count == 4 && Set(status.map { $0["revision"] as? String ?? "" }) == good
                && status.allSatisfy { $0["state"] as? String == "ready" }, "the last good revision serves: \(status)")

        // A deployment dropped from the manifests keeps running until `--prune`, which stops only
        // this owner's containers.
        let canary = """

        ---
        apiVersion: dsdeploy/v1
        kind: Deployment
        metadata: {name: canary}
        spec:
          target: gpu-fleet
          model: {source: modelscope, id: deepseek-ai/DeepSeek-V4-Flash-DSpark}
          backend: sglang-dspark
          backendVersion: dspark
          replicas: 1
          gpusPerReplica: 8
          port: \(s.port + 10)
          container: {ulimits: {}}
          args: [--tp-size 8]
        """
        try write(manifest(s, hosts: [a, b], sshConfig: sshConfig, replicas: 3, memFraction: "0.80", env: ["DSDEPLOY_SIM_START_DELAY": "2"],
                           extra: canary))
        let withCanary = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(withCanary.status == 0, "\(withCanary.out)\(withCanary.err)")
        let foreign = try a.api("POST", "/containers/create?name=not-ours", body: #"{"Image": "localhost/dsdeploy-engine-sim:dev"}"#).status
        #expect(foreign == 201, "a container dsdeploy does not own")
        try write(manifest(s, hosts: [a, b], sshConfig: sshConfig, replicas: 3, memFraction: "0.80", env: ["DSDEPLOY_SIM_START_DELAY": "2"]))
        let orphan = try s.run(["plan", "manifests/app.yaml"])
        #expect(orphan.out.contains("deployment canary runs on target gpu-fleet but is not in the manifests"), "\(orphan.out)\(orphan.err)")
        let pruned = try s.run(["apply", "manifests/app.yaml", "--auto-approve", "--prune"])
        #expect(pruned.status == 0, "\(pruned.out)\(pruned.err)")
        #expect(try rows(s).allSatisfy { $0["deployment"] as? String == "dspark" } && (try rows(s)).count == 3)
        #expect(try a.containers().contains { ($0["Names"] as? [String])?.first == "/not-ours" }, "prune leaves what it does not own")
        let delete = try s.run(["delete", "manifests/app.yaml", "--auto-approve", "--grace", "2"])
        #expect(delete.status == 0, "\(delete.out)\(delete.err)")
        #expect(try a.containers().map { ($0["Names"] as? [String])?.first ?? "" } == ["/not-ours"] && b.containers().isEmpty)
    }

    /// A host whose Engine API is `tcp://` with TLS (dockerd `--tlsverify`: CA, client certificate
    /// and key), and replicas on the engine's bridge network with their port published on the host's
    /// address.
    @Test func aHostOverTLSWithPublishedPorts() throws {
        let h = try FleetHost(name: "h20-tls", tls: true, bridge: true, ssh: false)
        defer { h.stop() }
        let s = try Sandbox()
        defer { _ = try? s.run(["delete", "manifests/app.yaml", "--auto-approve", "--grace", "2"]); s.tearDown() }
        let certs = h.dir + "/d/tls"
        func target(_ tls: String) -> String {
            """
            apiVersion: dsdeploy/v1
            kind: Include
            metadata: {name: backend}
            spec: {files: [backends/sglang-dspark.yaml]}
            ---
            apiVersion: dsdeploy/v1
            kind: Target
            metadata: {name: secure}
            spec:
              type: docker
              network: bridge
              hosts:
                - {name: h20-tls, docker: "tcp://\(h.address):2376", gpus: 8}
            \(tls)
            ---
            apiVersion: dsdeploy/v1
            kind: Deployment
            metadata: {name: dspark}
            spec:
              target: secure
              model: {source: modelscope, id: deepseek-ai/DeepSeek-V4-Flash-DSpark}
              backend: sglang-dspark
              backendVersion: dspark
              gpusPerReplica: 8
              port: \(s.port)
              readiness: {timeoutSeconds: 60}
              container: {ulimits: {}}
              args: [--tp-size 8, --ep-size 8, --speculative-algorithm DSPARK, --mem-fraction-static 0.85]
            """
        }
        let app = s.dir + "/manifests/app.yaml"
        // A certificate without its key is a located validate error; nothing is contacted.
        try target("  tls: {caBundle: \(certs)/ca.pem, cert: \(certs)/cert.pem}").write(toFile: app, atomically: true, encoding: .utf8)
        let half = try s.run(["validate", "manifests/app.yaml"])
        #expect(half.status == 1 && half.err.contains("app.yaml:14:8: error: target 'secure': tls needs both 'cert' and 'key'"), "\(half.err)")
        // The wrong CA: the daemon's certificate does not verify; the plan names the host and changes nothing.
        try target("  tls: {caBundle: \(certs)/cert.pem, cert: \(certs)/cert.pem, key: \(certs)/key.pem}")
            .write(toFile: app, atomically: true, encoding: .utf8)
        let wrong = try s.run(["plan", "manifests/app.yaml"])
        #expect(wrong.status == 1 && wrong.err.contains("host 'h20-tls': cannot reach the Docker engine at tcp://\(h.address):2376: SSL certificate problem"),
                "\(wrong.err)")
        // No TLS at all against a TLS daemon: refused by the daemon.
        try target("").write(toFile: app, atomically: true, encoding: .utf8)
        #expect(try s.run(["plan", "manifests/app.yaml"]).status == 1)
        // The key from the environment (a CI secret), the rest from files: apply works.
        try target("  tls: {caBundle: \(certs)/ca.pem, cert: \(certs)/cert.pem, key: {valueFrom: {env: DOCKER_TLS_KEY}}}")
            .write(toFile: app, atomically: true, encoding: .utf8)
        let key = try String(contentsOfFile: certs + "/key.pem", encoding: .utf8)
        let apply = try s.run(["apply", "manifests/app.yaml", "--auto-approve"], env: ["DOCKER_TLS_KEY": key])
        #expect(apply.status == 0, "\(apply.out)\(apply.err)")
        #expect(!apply.out.contains("PRIVATE KEY") && !apply.err.contains("PRIVATE KEY"))
        let rows = (json(try s.run(["status", "-f", "manifests/app.yaml", "--output", "json"], env: ["DOCKER_TLS_KEY": key]).out)["replicas"]
                    as? [[String: Any]]) ?? []
        #expect(rows.count == 1 && rows.first?["state"] as? String == "ready", "\(rows)")
        #expect(rows.first?["endpoint"] as? String == "http://\(h.address):\(s.port)", "\(rows)")
        // On the bridge: the engine binds 0.0.0.0 in its own namespace; the port is published on the host's address only.
        let c = try #require(try h.containers().first)
        let inspect = json(try h.api("GET", "/containers/\(c["Id"] as? String ?? "")/json").body)
        let hostConfig = inspect["HostConfig"] as? [String: Any] ?? [:]
        #expect(hostConfig["NetworkMode"] as? String == "bridge")
        let bindings = (hostConfig["PortBindings"] as? [String: Any])?["\(s.port)/tcp"] as? [[String: Any]] ?? []
        #expect(bindings.first?["HostIp"] as? String == h.address && bindings.first?["HostPort"] as? String == String(s.port), "\(bindings)")
        let cmd = (inspect["Config"] as? [String: Any])?["Cmd"] as? [String] ?? []
        #expect(cmd.starts(with: ["--model-path", "deepseek-ai/DeepSeek-V4-Flash-DSpark", "--host", "0.0.0.0", "--port", String(s.port)]), "\(cmd)")
        let info = try runProcess("/usr/bin/curl", ["-sf", "http://\(h.address):\(s.port)/server_info"], environment: [:], cwd: s.dir)
        #expect(info.status == 0 && info.out.contains("\"host\":\"0.0.0.0\""), "served through the published port: \(info.out)")
        #expect(try s.run(["plan", "manifests/app.yaml", "--detailed-exitcode"], env: ["DOCKER_TLS_KEY": key]).status == 0)
        #expect(try s.run(["delete", "manifests/app.yaml", "--auto-approve", "--grace", "2"], env: ["DOCKER_TLS_KEY": key]).status == 0)
        #expect(try h.containers().isEmpty)

        // A private registry with a login (docker-registry with htpasswd, in the host's own network
        // namespace): the image is pulled with the Target's `registries` login; a wrong password is
        // refused, and no password is ever printed.
        let regPort = 15000 + Int.random(in: 0..<5000)
        let hash = try runProcess("/usr/bin/htpasswd", ["-Bbn", "dsd", "pull-secret-1"], environment: [:], cwd: h.dir)
        try hash.out.write(toFile: h.dir + "/htpasswd", atomically: true, encoding: .utf8)
        try """
        version: 0.1
        storage: {filesystem: {rootdirectory: \(h.dir)/registry}}
        http: {addr: "127.0.0.1:\(regPort)"}
        auth: {htpasswd: {realm: dsdeploy-test, path: \(h.dir)/htpasswd}}
        """.write(toFile: h.dir + "/registry.yml", atomically: true, encoding: .utf8)
        let registry = try Spawner.spawn(argv: ["/usr/bin/nsenter", "--net=/run/netns/" + h.ns, "/usr/bin/docker-registry", "serve", h.dir + "/registry.yml"],
                                         environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
                                         fileActions: [.open(0, path: "/dev/null", flags: O_RDONLY),
                                                       .open(1, path: h.dir + "/registry.log", flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644),
                                                       .duplicate(1, to: 2)], newSession: true)
        defer { kill(registry, SIGKILL); var st: Int32 = 0; _ = waitpid(registry, &st, 0) }
        #expect(eventually(timeout: 20) {
            (try? runProcess("/usr/bin/nsenter", ["--net=/run/netns/" + h.ns, "/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                                  "http://127.0.0.1:\(regPort)/v2/"], environment: [:], cwd: "/"))?.out == "401"
        }, "the registry asks for its login")
        let image = "127.0.0.1:\(regPort)/dsdeploy/sim"
        #expect(try h.api("POST", "/images/localhost/dsdeploy-engine-sim:dev/tag?repo=\(image)&tag=dev").status == 201)
        let login = Data(#"{"username": "dsd", "password": "pull-secret-1", "serveraddress": "127.0.0.1:\#(regPort)"}"#.utf8).base64EncodedString()
        let push = try h.api("POST", "/images/\(image)/push?tag=dev", headers: ["X-Registry-Auth: " + login])
        #expect(push.status == 200 && !push.body.contains("error"), "\(push)")
        #expect(try h.api("DELETE", "/images/\(image):dev").status == 200, "the host no longer has the image")
        func pulled(_ passwordVar: String) -> String {
            """
            apiVersion: dsdeploy/v1
            kind: Backend
            metadata: {name: private-sim}
            spec:
              engine: sglang
              versions:
                dev:
                  engineVersion: "0.5.19"
                  image: \(image):dev
                  entrypoint: [sglang, serve]
                  command: "--model-path {{model_path}} --host {{worker_ip}} --port {{port}}"
            ---
            apiVersion: dsdeploy/v1
            kind: Target
            metadata: {name: secure}
            spec:
              type: docker
              network: bridge
              pull: missing
              hosts:
                - {name: h20-tls, docker: "tcp://\(h.address):2376", gpus: 8}
              tls: {caBundle: \(certs)/ca.pem, cert: \(certs)/cert.pem, key: \(certs)/key.pem}
              registries:
                - {server: "127.0.0.1:\(regPort)", username: dsd, password: {valueFrom: {env: \(passwordVar)}}}
            ---
            apiVersion: dsdeploy/v1
            kind: Deployment
            metadata: {name: pulled}
            spec:
              target: secure
              model: {source: modelscope, id: deepseek-ai/DeepSeek-V4-Flash-DSpark}
              backend: private-sim
              backendVersion: dev
              port: \(s.port)
              readiness: {timeoutSeconds: 60}
              container: {ulimits: {}}
            """
        }
        try pulled("REGISTRY_PASSWORD").write(toFile: app, atomically: true, encoding: .utf8)
        let refusedPull = try s.run(["apply", "manifests/app.yaml", "--auto-approve"], env: ["REGISTRY_PASSWORD": "wrong-password-9"])
        #expect(refusedPull.status == 1 && refusedPull.out.contains("host 'h20-tls': pulling \(image):dev on tcp://\(h.address):2376: HTTP 500: unauthorized"),
                "\(refusedPull.out)\(refusedPull.err)")
        #expect(!(refusedPull.out + refusedPull.err).contains("wrong-password-9"), "the password is never printed")
        let noSecret = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(noSecret.status == 1 && noSecret.out.contains("takes its value from $REGISTRY_PASSWORD, which is not set"), "\(noSecret.out)\(noSecret.err)")
        let goodPull = try s.run(["apply", "manifests/app.yaml", "--auto-approve"], env: ["REGISTRY_PASSWORD": "pull-secret-1"])
        #expect(goodPull.status == 0, "\(goodPull.out)\(goodPull.err)")
        #expect(!(goodPull.out + goodPull.err).contains("pull-secret-1"))
        #expect(try h.api("GET", "/images/\(image):dev/json").status == 200, "pulled with the login")
        #expect(try s.run(["delete", "manifests/app.yaml", "--auto-approve", "--grace", "2"]).status == 0)
    }
}
