import CurlHTTP
import Foundation
import Testing
import TestSupport

/// End to end on the built binary against the SGLang engine simulator: real processes, real HTTP.
@Suite(.serialized) struct ApplyE2ETests {
    @Test func firstApplyNoopFlagChangeAndDelete() throws {
        let s = try Sandbox()
        defer { s.tearDown() }
        let first = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(first.status == 0, "\(first.out)\(first.err)")
        let st = try s.status()
        #expect(st.count == 1 && st.first?.state == "ready", "\(st)")
        let pid = try #require(st.first?.pid)
        let rev = try #require(st.first?.revision)

        let noop = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(noop.status == 0)
        #expect(noop.out.contains("No changes"))
        #expect(try s.status().first?.pid == pid, "a no-op apply restarts nothing")
        let plan = try s.run(["plan", "manifests/app.yaml", "--detailed-exitcode"])
        #expect(plan.status == 0)

        try s.write(memFraction: "0.9", args: [])
        let plan2 = try s.run(["plan", "manifests/app.yaml", "--detailed-exitcode"])
        #expect(plan2.status == 2)
        #expect(plan2.out.contains("~ --mem-fraction-static: 0.85 → 0.9"))
        let change = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(change.status == 0, "\(change.out)\(change.err)")
        let after = try s.status()
        #expect(after.count == 1 && after.first?.state == "ready" && after.first?.revision != rev)
        #expect(!s.alive(pid), "the old instance is gone")
        // The engine really serves, with the intended args.
        let resp = try HTTPClient().get((after.first?.endpoint ?? "") + "/server_info", timeout: 5)
        let info = String(decoding: resp.body, as: UTF8.self)
        #expect(info.contains("\"mem_fraction_static\":0.9") || info.contains("\"mem_fraction_static\": 0.9"))

        let del = try s.run(["delete", "manifests/app.yaml", "--auto-approve", "--grace", "3"])
        #expect(del.status == 0)
        #expect(try s.status().isEmpty)
        #expect(s.supervisors().isEmpty, "no orphan processes")
    }

    /// The rehearsal the README and `make demo` give, on the seed's own files: the seed's SGLang 0.5.19
    /// flags (`--cuda-graph-max-bs`, gone in 0.5.20) reach a simulator that accepts 0.5.19's, because
    /// the engine is told the version dsdeploy checked against (DSDEPLOY_ENGINE_VERSION). From
    /// 2026-12-06 that variable was dropped on the way and the rehearsal failed on 0.5.23's parser.
    @Test func theSeedRehearsalFromTheREADMERuns() throws {
        let s = try Sandbox()
        defer { s.tearDown() }
        try FileManager.default.copyItem(atPath: CLITests.root + "/manifests/dspark.yaml", toPath: s.dir + "/manifests/dspark.yaml")
        let set = ["--set", "deployments.dspark.port=\(s.port)"]
        let apply = try s.run(["apply", "manifests/dspark.yaml", "manifests/targets/simulator.yaml", "--auto-approve"] + set)
        #expect(apply.status == 0)
        let row = try #require(try s.status().first)
        #expect(row.state == "ready")
        let pid = try #require(row.pid)
        let environ = String(decoding: FileManager.default.contents(atPath: "/proc/\(pid)/environ") ?? Data(), as: UTF8.self)
        #expect(environ.split(separator: "\0").contains("DSDEPLOY_ENGINE_VERSION=0.5.19"))
        #expect(try s.run(["delete", "manifests/dspark.yaml", "--auto-approve", "--grace", "2"]).status == 0)
    }

    @Test func failedRolloutRevertsAndKeepsServing() throws {
        let s = try Sandbox()
        defer { s.tearDown() }
        #expect(try s.run(["apply", "manifests/app.yaml", "--auto-approve"]).status == 0)
        let before = try #require(try s.status().first)
        try s.write(env: ["DSDEPLOY_SIM_CRASH_ON_START": "1"], args: [])
        let bad = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(bad.status == 1)
        #expect(bad.out.contains("FAILED"), "\(bad.out)")
        #expect(bad.out.contains("last log lines"), "the error carries the engine's last log lines: \(bad.out)")
        let after = try #require(try s.status().first)
        #expect(after.revision == before.revision && after.pid == before.pid && after.state == "ready")
        #expect(s.alive(try #require(before.pid)))
    }

    @Test func driftIsAFailedRollout() throws {
        let s = try Sandbox()
        defer { s.tearDown() }
        try s.write(env: ["DSDEPLOY_SIM_ARG_OVERRIDE": "{\"tp_size\": 4}"], args: [])
        let r = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(r.status == 1)
        #expect(r.out.contains("--tp-size 4 (intended 8)"), "\(r.out)")
        #expect(s.supervisors().isEmpty)
    }

    @Test func crashedReplicaIsFoundAndRestarted() throws {
        let s = try Sandbox()
        defer { s.tearDown() }
        #expect(try s.run(["apply", "manifests/app.yaml", "--auto-approve"]).status == 0)
        let pid = try #require(try s.status().first?.pid)
        kill(pid, SIGKILL)
        let exited = eventually { (try? s.status()).flatMap { $0.first?.state == "exited" ? $0 : nil } }
        let st = try exited ?? s.status()
        #expect(st.first?.state == "exited", "\(st)")
        #expect(st.first?.exitStatus?.contains("9") == true, "\(st)")
        let plan = try s.run(["plan", "manifests/app.yaml"])
        #expect(plan.out.contains("not running"), "\(plan.out)")
        #expect(try s.run(["apply", "manifests/app.yaml", "--auto-approve"]).status == 0)
        let again = try s.status()
        #expect(again.count == 1 && again.first?.state == "ready" && again.first?.pid != pid)
    }

    @Test func pruneRemovesOnlyWhenAsked() throws {
        let s = try Sandbox()
        defer { s.tearDown() }
        #expect(try s.run(["apply", "manifests/app.yaml", "--auto-approve"]).status == 0)
        try s.write(name: "other", args: [])
        let keep = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(keep.status == 0)
        #expect(keep.out.contains("deployment dspark runs on target local but is not in the manifests"), "\(keep.out)")
        #expect(Set(try s.status().map(\.deployment)) == ["dspark", "other"])
        let prune = try s.run(["apply", "manifests/app.yaml", "--auto-approve", "--prune"])
        #expect(prune.status == 0)
        #expect(try s.status().map(\.deployment) == ["other"])
    }

    @Test func sigkillMidApplyLosesNothing() throws {
        let s = try Sandbox()
        defer { s.tearDown() }
        try s.write(env: ["DSDEPLOY_SIM_START_DELAY": "4"], replicas: 2, args: [])
        let p = try s.spawn(["apply", "manifests/app.yaml", "--auto-approve"])
        // Kill it once it has started an engine that is not ready yet (start delay 4 s).
        let spawned = eventually(timeout: 60) { (try? s.status())?.contains { $0.state == "starting" } == true }
        kill(p.processIdentifier, SIGKILL)
        #expect(spawned, "the apply never reported a starting instance: \((try? s.status()) ?? [])")
        p.waitUntilExit()
        let r = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(r.status == 0, "\(r.out)\(r.err)")
        let st = try s.status()
        #expect(st.count == 2 && st.allSatisfy { $0.state == "ready" }, "\(st)")
        #expect(s.supervisors().count == 2, "exactly one supervised engine per replica: \(s.supervisors())")
        #expect(try s.run(["plan", "manifests/app.yaml", "--detailed-exitcode"]).status == 0)
    }

    @Test func secondConcurrentApplyIsRefused() throws {
        let s = try Sandbox()
        defer { s.tearDown() }
        try s.write(env: ["DSDEPLOY_SIM_START_DELAY": "4"], args: [])
        let p = try s.spawn(["apply", "manifests/app.yaml", "--auto-approve"])
        // The lock file names its holder once the first apply has taken it.
        let holds = eventually(timeout: 60) {
            (try? String(contentsOfFile: s.lockFile, encoding: .utf8))?.contains("pid=\(p.processIdentifier)\n") == true
        }
        #expect(holds, "the first apply never took the lock")
        let second = try s.run(["apply", "manifests/app.yaml", "--auto-approve"])
        #expect(second.status == 1)
        #expect(second.err.contains("pid \(p.processIdentifier)"), "\(second.err)")
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
    }

    @Test func savedPlanGoesStale() throws {
        let s = try Sandbox()
        defer { s.tearDown() }
        #expect(try s.run(["plan", "manifests/app.yaml", "--out", "p.json"]).status == 0)
        let ok = try s.run(["apply", "p.json"])
        #expect(ok.status == 0, "\(ok.out)\(ok.err)")
        #expect(try s.run(["plan", "manifests/app.yaml", "--out", "p2.json"]).status == 0)
        try s.write(memFraction: "0.8", args: [])
        let stale = try s.run(["apply", "p2.json"])
        #expect(stale.status == 1)
        #expect(stale.err.contains("stale"))
    }

    @Test func nonInteractiveApplyNeedsApproval() throws {
        let s = try Sandbox()
        defer { s.tearDown() }
        let r = try s.run(["apply", "manifests/app.yaml"])
        #expect(r.status == 1)
        #expect(r.err.contains("--auto-approve"))
        #expect(try s.status().isEmpty, "nothing was started")
        let dry = try s.run(["apply", "manifests/app.yaml", "--dry-run"])
        #expect(dry.status == 0)
        #expect(try s.status().isEmpty)
    }

    /// On a GPU machine the local target places replicas on the GPUs its `nvidia-smi` reports free:
    /// not the ones another program holds, while its own replicas keep theirs (nvidia-smi lists their
    /// engines too), and a replica that does not fit names what holds the GPUs. The `nvidia-smi` here
    /// is a stand-in script printing lines in the format of the real captures (DeployTargetsTests'
    /// Fixtures/nvidia-smi) for a 10-GPU host whose GPUs 0 and 3 run someone's python3, pid 438.
    @Test func gpusComeFromNvidiaSmiOnThisMachine() throws {
        let s = try Sandbox()
        defer { s.tearDown() }
        // The simulator target declares its GPUs (a rehearsal's are labels); this one asks nvidia-smi.
        let target = s.dir + "/manifests/targets/simulator.yaml"
        let declared = try String(contentsOfFile: target, encoding: .utf8)
        #expect(declared.contains("\n  gpus: 64\n"))
        try declared.replacingOccurrences(of: "\n  gpus: 64\n", with: "\n").write(toFile: target, atomically: true, encoding: .utf8)
        let bin = s.dir + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        let uuid = { (i: Int) in "GPU-9e7bc364-3fcd-7c80-c2db-d5ab8914e6\(i < 10 ? "0" : "")\(i)" }
        let gpus = (0..<10).map { i in
            "\(i), \(uuid(i)), NVIDIA H100 80GB HBM3, 81559, 0, 81079, 0, 00000000:00:\(6 + i).0, 580.159.04, 9.0"
        }.joined(separator: "\n") + "\n"
        try gpus.write(toFile: s.dir + "/gpus.csv", atomically: true, encoding: .utf8)
        let foreign = "\(uuid(0)), 438, /usr/bin/python3, 6242\n\(uuid(3)), 438, /usr/bin/python3, 6242\n"
        try foreign.write(toFile: s.dir + "/apps.csv", atomically: true, encoding: .utf8)
        let script = """
            #!/bin/sh
            case "$1" in
              --query-gpu=*) cat '\(s.dir)/gpus.csv' ;;
              --query-compute-apps=*) cat '\(s.dir)/apps.csv' ;;
              *) exit 2 ;;
            esac
            """
        _ = FileManager.default.createFile(atPath: bin + "/nvidia-smi", contents: Data(script.utf8), attributes: [.posixPermissions: 0o755])
        let env = ["PATH": bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")]

        let first = try s.run(["apply", "manifests/app.yaml", "--auto-approve"], env: env)
        #expect(first.status == 0)
        #expect(first.out.contains("warning: local: GPU 0 runs pid 438 (python3), which dsdeploy did not start: it is not handed out")
                && first.out.contains("warning: local: GPU 3 runs pid 438 (python3)"), "\(first.out)")
        let pid = try #require(try s.status().first?.pid)
        let environ = try #require(FileManager.default.contents(atPath: "/proc/\(pid)/environ"))
        let vars = String(decoding: environ, as: UTF8.self).split(separator: "\0").map(String.init)
        #expect(vars.contains("CUDA_VISIBLE_DEVICES=1,2,4,5,6,7,8,9"), "the 8 GPUs nobody else holds: \(vars)")
        #expect(vars.contains("CUDA_DEVICE_ORDER=PCI_BUS_ID"), "CUDA counts them as nvidia-smi does")
        #expect(try s.status().first?.gpus == [1, 2, 4, 5, 6, 7, 8, 9])
        let table = try s.run(["status"]).out
        #expect(table.contains("GPUS") && table.contains(" 1,2,4,5,6,7,8,9 "), "\(table)")

        // nvidia-smi now lists the replica's engine on its GPUs: they are still its own.
        let ours = [1, 2, 4, 5, 6, 7, 8, 9].map { "\(uuid($0)), \(pid), /usr/bin/python3, 70000\n" }.joined()
        try (foreign + ours).write(toFile: s.dir + "/apps.csv", atomically: true, encoding: .utf8)
        #expect(try s.run(["plan", "manifests/app.yaml", "--detailed-exitcode"], env: env).status == 0)

        try s.write(replicas: 2, args: [])
        let full = try s.run(["plan", "manifests/app.yaml"], env: env)
        #expect(full.status == 1)
        #expect((full.out + full.err).contains("needs 8 GPUs for a replica; no host has them (local: 0 of 10 free; "
                                               + "GPU 0 runs pid 438 (python3); GPU 3 runs pid 438 (python3))"))
        #expect(try s.status().first?.pid == pid, "nothing changed")

        // nvidia-smi fails (the driver is gone): a plan that places GPUs says they are unchecked.
        try "#!/bin/sh\necho \"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\" >&2\nexit 9\n"
            .write(toFile: bin + "/nvidia-smi", atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: bin + "/nvidia-smi")
        try s.write(memFraction: "0.9", args: [])
        let unread = try s.run(["plan", "manifests/app.yaml"], env: env)
        #expect(unread.status == 0)
        #expect(unread.out.contains("warning: local: its GPUs could not be read (nvidia-smi failed (exit 9): NVIDIA-SMI has failed "
                                    + "because it couldn't communicate with the NVIDIA driver.); GPU ids are handed out from 0, unchecked")
                && unread.out.contains("~ replace dspark/0"), "\(unread.out)")
    }
}
