import Foundation
import Testing
import TestSupport

/// End-to-end: the built `dsdeploy` binary, its exit codes, stdout/stderr and JSON.
@Suite struct CLITests {
    static let root = repositoryRoot

    static let binary: String = {
        if let b = ProcessInfo.processInfo.environment["DSDEPLOY_BIN"] { return b }
        let candidates = [
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("dsdeploy").path,
            Bundle.main.bundleURL.appendingPathComponent("dsdeploy").path,
            root + "/.build/debug/dsdeploy",
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[2]
    }()

    struct Run {
        var status: ExitStatus
        var out: String
        var err: String
        init(status: Int32, out: String, err: String) {
            self.status = ExitStatus(code: status, out: out, err: err)
            self.out = out
            self.err = err
        }
    }

    /// A run's exit status that carries the run's output, so that a failed `#expect(try s.run(…).status == 0)`
    /// says why (Swift Testing shows each operand's `testDescription`). Equal when the codes are.
    struct ExitStatus: Equatable, ExpressibleByIntegerLiteral, CustomStringConvertible, CustomTestStringConvertible {
        let code: Int32
        let out: String
        let err: String
        init(code: Int32, out: String = "", err: String = "") { self.code = code; self.out = out; self.err = err }
        init(integerLiteral value: Int32) { self.init(code: value) }
        static func == (a: ExitStatus, b: ExitStatus) -> Bool { a.code == b.code }
        var description: String { String(code) }
        var testDescription: String {
            func tail(_ s: String) -> String { s.count > 4000 ? "…" + s.suffix(4000) : s }
            return out.isEmpty && err.isEmpty ? description : "\(code); stdout:\n\(tail(out))\nstderr:\n\(tail(err))"
        }
    }

    func run(_ args: [String], cwd: String = CLITests.root) throws -> Run {
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        return try CLITests.exec(args, cwd: cwd, env: env)
    }

    /// Runs the binary; stdout and stderr are read concurrently (`runProcess`), so a large stderr
    /// cannot deadlock it.
    static func exec(_ args: [String], cwd: String, env: [String: String]) throws -> Run {
        let r = try runProcess(CLITests.binary, args, environment: env, cwd: cwd)
        return Run(status: r.status, out: r.out, err: r.err)
    }

    func tempDir() throws -> String {
        let dir = NSTemporaryDirectory() + "dsdeploy-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// A large manifest is read in parts and checked on several threads: `DSDEPLOY_THREADS=1` (one
    /// pass) reports exactly the same, and the same bytes through a pipe (`/dev/stdin`) are read to
    /// their end and report the same, file name aside.
    @Test func aLargeManifestReportsTheSameOnOneThreadAndFromAPipe() throws {
        let seed = try String(contentsOfFile: CLITests.root + "/manifests/dspark.yaml", encoding: .utf8)
        let deployment = try #require(seed.components(separatedBy: "\n---\n").first { $0.contains("kind: Deployment") })
        var text = try String(contentsOfFile: CLITests.root + "/manifests/backends/sglang-dspark.yaml", encoding: .utf8)
        for i in 0..<300 {
            var doc = deployment.replacingOccurrences(of: "\n  name: dspark\n", with: "\n  name: dspark-\(i)\n")
            if i % 5 == 0 { doc = doc.replacingOccurrences(of: "--tp-size 8", with: "--tp-sise 8") }
            text += "\n---\n" + doc
        }
        #expect(text.utf8.count > 64 << 10, "large enough to be read in parts")
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try text.write(toFile: dir + "/big.yaml", atomically: true, encoding: .utf8)
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        env["DSDEPLOY_THREADS"] = "4"
        let parts = try CLITests.exec(["validate", "big.yaml"], cwd: dir, env: env)
        env["DSDEPLOY_THREADS"] = "1"
        let one = try CLITests.exec(["validate", "big.yaml"], cwd: dir, env: env)
        #expect(parts.status == 1 && parts.err.components(separatedBy: "[unknown-flag]").count - 1 == 60, "\(parts.err.suffix(400))")
        #expect(parts.status == one.status && parts.out == one.out && parts.err == one.err)
        let piped = try runProcess(CLITests.binary, ["validate", "/dev/stdin"], environment: env, cwd: dir, stdin: Data(text.utf8))
        #expect(piped.status == 1 && piped.err.replacingOccurrences(of: "/dev/stdin:", with: "big.yaml:") == parts.err)
    }

    /// libcurl is opened on the first request: a command that makes none runs without it, and one
    /// that makes one fails with an error saying so (`DSDEPLOY_LIBCURL` names the library file).
    @Test func libcurlIsOnlyNeededForRequests() throws {
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        env["DSDEPLOY_LIBCURL"] = "/nonexistent/libcurl.so.4"
        let validate = try CLITests.exec(["validate", "manifests/dspark.yaml"], cwd: CLITests.root, env: env)
        #expect(validate.status == 0, "\(validate.err)")
        let bench = try CLITests.exec(["bench", "--url", "http://127.0.0.1:9", "--backend", "openai", "--num-prompts", "1"],
                                      cwd: CLITests.root, env: env)
        #expect(bench.status == 1)
        #expect(bench.err.contains("cannot load libcurl (/nonexistent/libcurl.so.4)"), "\(bench.err)")
    }

    /// `DSDEPLOY_PHASES=1` (docs/commands.md): validate prints each phase's wall time, CPU time, page
    /// faults and peak RSS to stderr at exit, its output otherwise unchanged; unset, nothing of it.
    @Test func phaseTimesArePrintedOnlyWhenAsked() throws {
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        env["DSDEPLOY_PHASES"] = nil
        let plain = try CLITests.exec(["validate", "manifests/dspark.yaml"], cwd: CLITests.root, env: env)
        env["DSDEPLOY_PHASES"] = "1"
        let timed = try CLITests.exec(["validate", "manifests/dspark.yaml"], cwd: CLITests.root, env: env)
        #expect(plain.status == 0 && timed.status == 0 && timed.out == plain.out, "\(timed.err)")
        #expect(!plain.err.contains("phases ("))
        #expect(timed.err.contains("phases (wall ms, since start; CPU ms; page faults; peak RSS MB"), "\(timed.err)")
        let lines = timed.err.split(separator: "\n").map(String.init)
        for phase in ["arguments parsed", "parse+decode", "checks", "collect", "write"] {
            let row = try #require(lines.first { $0.hasPrefix("  " + phase) }, "no \(phase) row in \(timed.err)")
            // Milliseconds in the phase and since start, CPU milliseconds, page faults, peak RSS in MB.
            let numbers = row.dropFirst(30).split(separator: " ").compactMap { Double($0) }
            #expect(numbers.count == 5 && numbers[2] >= 0 && numbers[4] > 0, "\(row)")
        }
    }

    @Test func validateSeedManifests() throws {
        let r = try run(["validate", "manifests/dspark.yaml", "manifests/dsv4f.yaml"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("valid (2 deployments)"))
        let next = try run(["validate", "manifests/dspark-sglang-0.5.23.yaml"])
        #expect(next.status == 0, "\(next.err)")
        // The same deployment name in two files is an error when they are loaded together.
        let both = try run(["validate", "manifests/dspark.yaml", "manifests/dspark-sglang-0.5.23.yaml"])
        #expect(both.status == 1)
        #expect(both.err.contains("Deployment 'dspark' is defined twice [duplicate-key]"))
    }

    /// An emptied manifest fails validate, plan and apply ([no-documents], exit 1), as kubectl refuses
    /// "no objects passed to apply"; a file of Backends only is still valid.
    @Test func aManifestWithoutDocumentsIsAnError() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "".write(toFile: dir + "/empty.yaml", atomically: true, encoding: .utf8)
        try "# emptied by a commit\n---\n".write(toFile: dir + "/comments.yaml", atomically: true, encoding: .utf8)
        var env = ProcessInfo.processInfo.environment
        env["DSDEPLOY_HOME"] = dir + "/state"
        for (command, file) in [("validate", "empty.yaml"), ("plan", "comments.yaml"), ("apply", "empty.yaml")] {
            let r = try CLITests.exec([command, file] + (command == "apply" ? ["--auto-approve"] : []), cwd: dir, env: env)
            #expect(r.status == 1, "\(command): \(r.out)\(r.err)")
            #expect(r.err.contains("\(file):1:1: error: \(file) has no documents") && r.err.contains("[no-documents]"), "\(r.err)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/state/state.db"), "nothing was touched")
        #expect(try run(["validate", "manifests/backends/sglang-dspark.yaml"]).status == 0)
    }

    /// A directory stands for its YAML files (sorted; not its subdirectories), as `kubectl apply -f
    /// DIR` reads one: a GitOps repository with one deployment per file validates as a whole. One
    /// without YAML files is an error, not "no such file".
    @Test func aDirectoryStandsForItsYAMLFiles() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir + "/deploy/old", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: dir + "/empty", withIntermediateDirectories: true)
        for (file, name) in [("deploy/a.yaml", "qwen-a"), ("deploy/b.yml", "qwen-b"), ("deploy/old/c.yaml", "qwen-a")] {
            try """
                apiVersion: dsdeploy/v1
                kind: Deployment
                metadata: {name: \(name)}
                spec:
                  model: {source: huggingface, id: Qwen/Qwen3-8B}
                  backend: vllm
                  backendVersion: "0.33.0"
                  port: \(name == "qwen-a" ? 30000 : 30100)

                """.write(toFile: dir + "/" + file, atomically: true, encoding: .utf8)
        }
        try "not a manifest".write(toFile: dir + "/deploy/README.md", atomically: true, encoding: .utf8)
        let r = try run(["validate", "deploy"], cwd: dir)
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("deploy: valid (2 deployments)") || r.out.contains("valid (2 deployments)"), "\(r.out)")
        let render = try run(["render", "deploy/"], cwd: dir)
        #expect(render.status == 0 && render.out.contains("qwen-a/0") && render.out.contains("qwen-b/0"), "\(render.out)\(render.err)")
        let empty = try run(["validate", "empty"], cwd: dir)
        #expect(empty.status == 1)
        #expect(empty.err.contains("directory 'empty' holds no .yaml or .yml files"), "\(empty.err)")
    }

    @Test func validateReportsLocatedErrorsAndJSON() throws {
        let dir = try tempDir()
        let text = try String(contentsOfFile: CLITests.root + "/manifests/backends/sglang-dspark.yaml", encoding: .utf8)
            .replacingOccurrences(of: "\"0.5.19\"", with: "\"0.5.23\"")
        try text.write(toFile: dir + "/backend.yaml", atomically: true, encoding: .utf8)
        let dep = try String(contentsOfFile: CLITests.root + "/manifests/dspark.yaml", encoding: .utf8)
            .replacingOccurrences(of: "backends/sglang-dspark.yaml", with: "backend.yaml")
            .replacingOccurrences(of: "--tp-size 8", with: "--tp-szie 8")
        try dep.write(toFile: dir + "/dspark.yaml", atomically: true, encoding: .utf8)
        let r = try run(["validate", "dspark.yaml"], cwd: dir)
        #expect(r.status == 1)
        #expect(r.err.contains("dspark.yaml:"))
        #expect(r.err.contains("error: unknown flag '--tp-szie'"))
        #expect(r.err.contains("[removed-flag]"))
        #expect(r.err.contains("^~~~"))
        let j = try run(["validate", "dspark.yaml", "--output", "json"], cwd: dir)
        #expect(j.status == 1)
        let obj = try JSONSerialization.jsonObject(with: Data(j.out.utf8)) as? [String: Any]
        let diags = obj?["diagnostics"] as? [[String: Any]] ?? []
        #expect(diags.contains { $0["id"] as? String == "unknown-flag" && $0["line"] as? Int != nil && $0["column"] as? Int == 7 })
        #expect(obj?["valid"] as? Bool == false)
    }

    @Test func diffExitCodes() throws {
        let same = try run(["diff", "manifests/dspark.yaml", "manifests/dspark.yaml"])
        #expect(same.status == 0, "\(same.err)")
        let changed = try run(["diff", "manifests/dsv4f.yaml", "manifests/dspark.yaml", "--output", "json"])
        #expect(changed.status == 2, "\(changed.err)")
        let obj = try JSONSerialization.jsonObject(with: Data(changed.out.utf8)) as? [String: Any]
        #expect(obj?["format_version"] as? Int == 1)
        let bad = try run(["diff", "manifests/dspark.yaml", "does-not-exist.yaml"])
        #expect(bad.status == 1)
        let usage = try run(["diff", "manifests/dspark.yaml"])
        #expect(usage.status == 64)
    }

    @Test func diffAgainstGitRevision() throws {
        let dir = try tempDir()
        func git(_ args: String...) throws {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"] + args
            p.currentDirectoryURL = URL(fileURLWithPath: dir)
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
        }
        try FileManager.default.createDirectory(atPath: dir + "/manifests/backends", withIntermediateDirectories: true)
        for f in ["manifests/dspark.yaml", "manifests/backends/sglang-dspark.yaml"] {
            try FileManager.default.copyItem(atPath: CLITests.root + "/" + f, toPath: dir + "/" + f)
        }
        try git("init", "-q")
        try git("add", "-A")
        try git("commit", "-q", "-m", "seed")
        let clean = try run(["diff", "--git", "HEAD"], cwd: dir)
        #expect(clean.status == 0, "\(clean.out)\(clean.err)")
        // Respell without changing anything, then change one value for real.
        var text = try String(contentsOfFile: dir + "/manifests/dspark.yaml", encoding: .utf8)
        text = text.replacingOccurrences(of: "--tp-size 8", with: "--tensor-parallel-size=8")
            .replacingOccurrences(of: "--mem-fraction-static 0.85", with: "--mem-fraction-static .850")
        try text.write(toFile: dir + "/manifests/dspark.yaml", atomically: true, encoding: .utf8)
        let respelled = try run(["diff", "--git", "HEAD"], cwd: dir)
        #expect(respelled.status == 0, "\(respelled.out)\(respelled.err)")
        text = text.replacingOccurrences(of: "--max-running-requests 32", with: "--max-running-requests 64")
        try text.write(toFile: dir + "/manifests/dspark.yaml", atomically: true, encoding: .utf8)
        let changed = try run(["diff", "--git", "HEAD", "manifests/dspark.yaml"], cwd: dir)
        #expect(changed.status == 2)
        #expect(changed.out.contains("~ --max-running-requests: 32 → 64"))
        let badRev = try run(["diff", "--git", "nope"], cwd: dir)
        #expect(badRev.status == 1)
        // A path with nothing on either side is an error, not "no changes" (a pipeline would pass).
        let missing = try run(["diff", "--git", "HEAD", "deploy"], cwd: dir)
        #expect(missing.status == 1, "\(missing.out)")
        #expect(missing.err.contains("dsdeploy: error: no manifests at 'deploy', in the working tree or at HEAD"), "\(missing.err)")
        // A manifest deleted since the revision: its deployment is a deletion (each side lists the
        // directory itself; listed from the working tree only, the diff said "No changes").
        try FileManager.default.removeItem(atPath: dir + "/manifests/dspark.yaml")
        let deleted = try run(["diff", "--git", "HEAD"], cwd: dir)
        #expect(deleted.status == 2, "\(deleted.out)\(deleted.err)")
        #expect(deleted.out.contains("- deployment dspark (delete)"), "\(deleted.out)")
    }

    @Test func renderAndSchema() throws {
        let r = try run(["render", "manifests/dspark.yaml", "--output", "json"])
        #expect(r.status == 0, "\(r.err)")
        let obj = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]
        let replicas = obj?["replicas"] as? [[String: Any]] ?? []
        #expect((replicas.first?["argv"] as? [String])?.first == "sglang")
        let s = try run(["schema"])
        #expect(s.status == 0)
        let schema = try JSONSerialization.jsonObject(with: Data(s.out.utf8)) as? [String: Any]
        #expect(schema?["$defs"] != nil)
        let missing = try run(["render", "manifests/dspark.yaml", "--deployment", "dsprak"])
        #expect(missing.status == 1)
        #expect(missing.err.contains("did you mean 'dspark'"))
    }

    @Test func badInputNeverCrashes() throws {
        let dir = try tempDir()
        let cases: [String: [UInt8]] = [
            "empty.yaml": [],
            "junk.yaml": (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7919) },
            "bom.yaml": [0xEF, 0xBB, 0xBF] + Array("apiVersion: dsdeploy/v1\n".utf8),
            "deep.yaml": Array(String(repeating: "[", count: 20000).utf8),
            "bomb.yaml": Array(("a: &a [x,x,x,x,x,x,x,x,x]\n" + (1...12).map { "a\($0): &a\($0) [" + String(repeating: "*a\($0 == 1 ? "" : String($0 - 1)),", count: 9) + "]\n" }.joined()).utf8),
            "tabs.yaml": Array("kind: Deployment\n\tspec: {}\n".utf8),
        ]
        for (name, bytes) in cases {
            _ = FileManager.default.createFile(atPath: dir + "/" + name, contents: Data(bytes))
            let r = try run(["validate", name], cwd: dir)
            #expect(r.status == 0 || r.status == 1, "\(name): exit \(r.status) \(r.err)")
            if name != "empty.yaml" { #expect(r.status == 1, "\(name) should be invalid") }
        }
    }
}
