import DeployCore
import DeployKit
@testable import DeployTargets
import Engines
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A fresh state directory under /tmp, removed by `cleanup`.
func makeStateDirectory(_ name: String = #function) -> String {
    let safe = String(name.filter { $0.isLetter || $0.isNumber }.prefix(24))
    let dir = NSTemporaryDirectory() + "dsdeploy-targets-\(safe)-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// A launch spec decoded from a minimal JSON document, then adjusted by the caller.
func makeSpec(deployment: String = "web", replica: Int = 0, argv: [String], engine: String = "vllm",
              version: String = "0.11.0", port: Int = 18_000, readinessPath: String? = "/",
              entrypointCount: Int = 0, image: String = "local/test:1", revision: String = "rev1") throws -> LaunchSpec {
    let json = """
        {"deployment":"\(deployment)","replica":\(replica),"image":"\(image)","engine":"\(engine)",
         "engineVersion":"\(version)","argv":[],"env":[],"host":"127.0.0.1","port":\(port),"gpuIds":[],
         "flags":[],"flagSet":{"values":{}},"entrypointCount":\(entrypointCount),"labels":{},
         "startTimeout":30,"maxUnavailable":1,"maxSurge":0,"revision":"\(revision)","target":"local",
         "portTokens":[],"templateValues":{}}
        """
    var spec = try JSONDecoder().decode(LaunchSpec.self, from: Data(json.utf8))
    spec.argv = argv
    spec.readinessPath = readinessPath
    return spec
}

/// A free loopback port from a range unlikely to collide with other tests.
func freeTestPort() -> Int {
    // TestSupport's reservations: below the ephemeral range (32768+, where the outgoing connections
    // of parallel tests land: a port picked up to 40000 was taken between the check and the bind),
    // never handed out twice in one process.
    freePort()
}

/// Polls `probe` every 100 ms (like the executor) until it is no longer `.starting`, at most `timeout` s;
/// the last result.
func waitForProbe(_ target: LocalDriver, _ inst: ObservedReplica, timeout: Double = 20) -> ProbeResult {
    let settled = eventually(timeout: timeout, interval: 0.1) { () -> ProbeResult? in
        let r = target.probe(inst)
        if case .starting = r { return nil }
        return r
    }
    return settled ?? target.probe(inst)
}

/// Stops every instance the target knows (tests end with no process left behind).
func stopAll(_ target: LocalDriver) {
    for o in (try? target.observe()) ?? [] { try? target.stop(o, grace: .seconds(2)) }
}

/// A target over a fresh state directory, finding the supervisor next to the test bundle.
func makeTarget(_ dir: String, imageCommands: [String: [String]] = [:], project: String = "test",
                environment: [String: String] = ProcessInfo.processInfo.environment) throws -> LocalDriver {
    let t = try LocalDriver(stateDirectory: dir, host: "127.0.0.1", imageCommands: imageCommands, projectID: project,
                            environment: environment)
    t.supervisorPath = builtExecutable("dsdeploy-supervisor")
    return t
}

/// An executable built next to the test bundle (`.build*/debug/NAME`).
func builtExecutable(_ name: String) -> String? {
    let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    var dir = me.deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    return nil
}

/// Writes an executable script file (tests may use scripts; product code never runs a shell).
func writeScript(_ dir: String, _ name: String, _ text: String) -> String {
    let path = dir + "/" + name
    _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o755])
    return path
}

/// The python3 to use as a stand-in engine.
let python3: String = {
    for p in ["/usr/bin/python3", "/usr/local/bin/python3"] where FileManager.default.isExecutableFile(atPath: p) {
        return p
    }
    return "python3"
}()

/// A stand-in engine (test-only Python): serves `GET /`, `/health`, `/ready` (after `--ready-after` s)
/// and `/server_info` (from `--server-info FILE`) on `--host`/`--port`; `--grandchild` forks a
/// `/bin/sleep` first and prints its pid; prints whether `--env-name` is set (never its value).
let fakeEngineSource = #"""
import argparse, json, os, subprocess, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--host", default="127.0.0.1")
ap.add_argument("--server-info")
ap.add_argument("--grandchild", action="store_true")
ap.add_argument("--ready-after", type=float, default=0)
ap.add_argument("--env-name")
ap.add_argument("--tp-size", type=int)
args = ap.parse_args()
if args.grandchild:
    child = subprocess.Popen(["/bin/sleep", "300"])
    print("grandchild %d" % child.pid, flush=True)
if args.env_name:
    print("%s is %s" % (args.env_name, "set" if os.environ.get(args.env_name) else "unset"), flush=True)
started = time.time()
class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_GET(self):
        ready = time.time() - started >= args.ready_after
        if self.path in ("/", "/health"):
            self.send_response(200); self.end_headers(); return
        if self.path == "/ready":
            self.send_response(200 if ready else 503); self.end_headers(); return
        if self.path == "/server_info" and args.server_info:
            body = open(args.server_info, "rb").read()
            self.send_response(200); self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body); return
        self.send_response(404); self.end_headers()
print("serving on %s:%d" % (args.host, args.port), flush=True)
ThreadingHTTPServer((args.host, args.port), H).serve_forever()
"""#

/// Writes the stand-in engine into `dir` and returns its path.
func fakeEngine(_ dir: String) -> String {
    writeScript(dir, "fake_engine.py", fakeEngineSource)
}

/// A spec that runs the stand-in engine on `port`.
func fakeEngineSpec(_ dir: String, port: Int, extra: [String] = [], engine: String = "vllm", version: String = "0.11.0",
                    readinessPath: String? = "/", replica: Int = 0, revision: String = "rev1") throws -> LaunchSpec {
    try makeSpec(replica: replica, argv: [python3, fakeEngine(dir), "--port", String(port)] + extra, engine: engine,
                 version: version, port: port, readinessPath: readinessPath, revision: revision)
}

/// A `RenderedEnv` (its memberwise initializer is internal to DeployKit; it decodes from JSON).
func renderedEnv(_ name: String, value: String?, secret: Bool, from: String?) throws -> RenderedEnv {
    struct Mirror: Encodable { var name: String; var value: String?; var secret: Bool; var from: String? }
    let data = try JSONEncoder().encode(Mirror(name: name, value: value, secret: secret, from: from))
    return try JSONDecoder().decode(RenderedEnv.self, from: data)
}

/// A `RenderedFlag`, decoded like `renderedEnv`.
func renderedFlag(_ name: String, tokens: [String], source: String) throws -> RenderedFlag {
    struct Mirror: Encodable { var name: String; var tokens: [String]; var source: String }
    let data = try JSONEncoder().encode(Mirror(name: name, tokens: tokens, source: source))
    return try JSONDecoder().decode(RenderedFlag.self, from: data)
}
