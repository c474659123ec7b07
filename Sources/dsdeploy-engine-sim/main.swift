// dsdeploy-engine-sim: an SGLang- and vLLM-compatible engine simulator for testing dsdeploy without GPUs.
//
// argv is exactly SGLang's (`--model-path X --host 127.0.0.1 --port 30001 --tp-size 8 ...`), or
// `vllm serve MODEL --port 8000 ...` / `serve MODEL ...` for vLLM (or DSDEPLOY_SIM_ENGINE=vllm);
// simulator controls come from DSDEPLOY_SIM_* environment variables (see EngineSim.SimSettings).
import EngineSim
import Engines
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

var arguments = Array(CommandLine.arguments.dropFirst())
// Run as `sglang` (a link in an engine image, so a Backend's `entrypoint: [sglang, serve]` runs as
// written): `sglang serve ARGS` is SGLang's own command line, not vLLM's `serve`.
if CommandLine.arguments.first.map({ URL(fileURLWithPath: $0).lastPathComponent }) == "sglang", arguments.first == "serve" {
    arguments.removeFirst()
}
var environment: [String: String] = [:]
var envp = environ
while let entry = envp.pointee {
    let pair = String(cString: entry)
    if let eq = pair.firstIndex(of: "=") {
        environment[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
    }
    envp += 1
}
if let dir = environment["DSDEPLOY_ENGINE_CATALOGS"], !dir.isEmpty {
    CatalogStore.bundledOverride = URL(fileURLWithPath: dir)
}
let code = await SimProcess.run(arguments: arguments, environment: environment)
exit(code)
