/// The `dsdeploy/v1` manifest schema: one table used for validation, `dsdeploy schema` and docs.
enum ManifestSchema {
    static let apiVersion = "dsdeploy/v1"
    static let kinds = ["Backend", "Deployment", "Target", "Include", "Overlay"]
    static let namePattern = "^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$"
    static let envNamePattern = "^[A-Za-z_][A-Za-z0-9_]*$"

    static let metadata = ObjectSchema("Metadata", [
        FieldSchema("name", .string(pattern: namePattern), required: true,
                    "Name of the object: lowercase letters, digits, '.', '_' and '-', at most 63 characters."),
        FieldSchema("labels", .map(.scalar), "Free-form labels, kept with the deployment's state."),
        FieldSchema("annotations", .map(.scalar), "Free-form notes for people; never affect a deployment."),
    ])

    static let extensionFlag = ObjectSchema("PrivateFlag", [
        FieldSchema("name", .string(pattern: "^--?[A-Za-z0-9][A-Za-z0-9_-]*$"), required: true,
                    "The flag, e.g. `--dspark-draft-window`."),
        FieldSchema("type", .enumeration(["string", "int", "float", "bool", "json"]), required: true,
                    "Value type; `bool` is a presence flag that takes no value."),
        FieldSchema("choices", .list(.string()), "Accepted values, if restricted."),
        FieldSchema("help", .string(), "What the flag does (shown in diagnostics)."),
    ])

    static let catalogExtension = ObjectSchema("CatalogExtension", [
        FieldSchema("values", .map(.list(.string())),
                    "Extra accepted values per existing flag, e.g. `--speculative-algorithm: [DSPARK2]`."),
        FieldSchema("flags", .list(.object(extensionFlag)), "Private flags this image adds."),
    ])

    static let readiness = ObjectSchema("Readiness", [
        FieldSchema("path", .string(pattern: "^/"), "HTTP path that answers 200 when ready (engine default otherwise)."),
        FieldSchema("logLine", .string(), "A log line that marks readiness (e.g. `Application startup complete`)."),
        FieldSchema("timeoutSeconds", .integer(min: 1), "How long to wait for readiness before the rollout fails (default 600)."),
    ])

    static let backendVersion = ObjectSchema("BackendVersion", [
        FieldSchema("engineVersion", .string(),
                    "Engine version the image carries; selects the flag catalog (e.g. `0.5.23`). "
                    + "When left out it is read from the image tag (`lmsysorg/sglang:v0.5.23-cu129`)."),
        FieldSchema("image", .string(), required: true, "Container image (or, on the local target, a label mapped to a command)."),
        FieldSchema("framework", .enumeration(["cuda", "rocm", "cpu", "npu", "musa"]), "Accelerator framework of the image."),
        FieldSchema("entrypoint", .stringOrList, "Program and leading arguments (`[sglang, serve]`); a string is split like argv, without a shell."),
        FieldSchema("command", .string(), "Run-command template with `{{placeholders}}`, appended after the entrypoint."),
        FieldSchema("args", .list(.string()), "Default engine flags for every deployment of this version (one flag per entry)."),
        FieldSchema("env", .map(.envValue), "Default environment for every deployment of this version."),
        FieldSchema("extends", .object(catalogExtension), "Visible catalog extensions of a custom image."),
        FieldSchema("readiness", .object(readiness), "Readiness override for this version."),
    ])

    static let otherVersions = ObjectSchema("OtherVersions", [
        FieldSchema("image", .string(pattern: #"\{\{version\}\}"#), required: true,
                    "Container image with `{{version}}` where the release goes (`vllm/vllm-openai:v{{version}}`)."),
    ] + backendVersion.fields.filter { $0.name != "engineVersion" && $0.name != "image" })

    static let backendSpec = ObjectSchema("BackendSpec", [
        FieldSchema("engine", .enumeration(["sglang", "vllm", "llama.cpp"]), required: true,
                    "Engine family: selects flag catalogs, readiness and config readback."),
        FieldSchema("versions", .map(.object(backendVersion)), required: true, "Named versions of this backend."),
        FieldSchema("otherVersions", .object(otherVersions),
                    "How any other release of the engine runs: a `backendVersion` not under `versions` that is a release "
                    + "number (`0.20.1`, `0.5.21.post1`, llama.cpp `b6341`) runs this image with `{{version}}` replaced by "
                    + "it, and is checked against that release's flag catalog (or the nearest, with a warning)."),
    ])

    static let model = ObjectSchema("Model", exclusive: [["id", "path"]], [
        FieldSchema("source", .enumeration(["huggingface", "modelscope", "local"]), required: true,
                    "Where the weights come from."),
        FieldSchema("id", .string(), "Repository id (`deepseek-ai/DeepSeek-V4-Flash-DSpark`) for hub sources."),
        FieldSchema("path", .string(), "Local path of the weights (source `local`); relative paths are relative to the manifest."),
        FieldSchema("revision", .string(), "Hub revision (branch, tag or commit)."),
    ])

    static let rollout = ObjectSchema("Rollout", [
        FieldSchema("maxUnavailable", .integer(min: 0), "Replicas that may be down at once during a replace (default 0)."),
        FieldSchema("maxSurge", .integer(min: 0), "Extra replicas that may run during a replace (default 1)."),
    ])

    static let benchScenario = ObjectSchema("BenchmarkScenario", [
        FieldSchema("name", .string(pattern: namePattern), required: true,
                    "Scenario name, unique in the deployment; results are kept and compared under it."),
        FieldSchema("inputLen", .integer(min: 1), required: true, "Prompt tokens per request (bench_serving `--random-input-len`)."),
        FieldSchema("outputLen", .integer(min: 1), required: true, "Output tokens per request (`--random-output-len`)."),
        FieldSchema("numPrompts", .integer(min: 1), "Timed requests (`--num-prompts`, default 10)."),
        FieldSchema("maxConcurrency", .integer(min: 1), "Requests in flight at most (`--max-concurrency`, default 1)."),
        FieldSchema("requestRate", .scalar, "Requests per second, Poisson (`--request-rate`), or `inf` (default: all at once)."),
        FieldSchema("rangeRatio", .number(min: 0, max: 1), "Length range ratio (`--random-range-ratio`, default 1.0: exact lengths)."),
        FieldSchema("api", .enumeration(["sglang", "openai", "openai-chat"]),
                    "API to call: `sglang` (/generate), `openai` (/v1/completions), `openai-chat` (default: sglang for SGLang, else openai)."),
        FieldSchema("warmup", .integer(min: 0), "Warm-up requests, not counted (default 1)."),
        FieldSchema("seed", .integer(min: 0), "Workload seed (default 1)."),
        FieldSchema("maxFailedRequests", .integer(min: 0), "Failed requests tolerated before the scenario fails (default 0)."),
        FieldSchema("requestTimeoutSeconds", .integer(min: 1), "Per-request timeout (default 600)."),
        FieldSchema("gates", .list(.string()),
                    "Gates: `METRIC OP NUMBER` or `METRIC OP [F *] previous`, e.g. `output_throughput >= 0.95 * previous`."),
    ])

    static let benchmarks = ObjectSchema("Benchmarks", [
        FieldSchema("scenarios", .list(.object(benchScenario)), required: true, "Scenarios, run in order against each replica."),
    ])

    static let deploymentSpec = ObjectSchema("DeploymentSpec", exclusive: [["nodesPerReplica", "nodes"]], [
        FieldSchema("model", .object(model), required: true, "The model to serve."),
        FieldSchema("backend", .string(), required: true, "Name of a Backend (in the manifests or `templates/`)."),
        FieldSchema("backendVersion", .string(), required: true,
                    "Name of a version of that backend; the stock backends take any release number (`\"0.20.1\"`, `b6341`)."),
        FieldSchema("target", .string(), "Name of a Target document; `local` (this machine) when omitted."),
        FieldSchema("replicas", .integer(min: 0, max: 1024), "Number of engine replicas (default 1)."),
        FieldSchema("gpusPerReplica", .integer(min: 0, max: 1024), "GPUs per replica per node (default 0: CPU)."),
        FieldSchema("strictFlags", .boolean,
                    "Engine flags must be spelled in full: an abbreviation the engine accepts (`--tp` for `--tp-size`) is an error, not a warning."),
        FieldSchema("nodesPerReplica", .integer(min: 1, max: 1024),
                    "Nodes one replica spans (default 1): one engine instance over several hosts, `gpusPerReplica` on each; dsdeploy sets the engine's multi-node flags per node."),
        FieldSchema("nodes", .integer(min: 1, max: 1024), "The older name of `nodesPerReplica`."),
        FieldSchema("port", .integer(min: 1, max: 65535), "First port; replica i listens on port + i (default 30000)."),
        FieldSchema("servedModelName", .string(), "Name clients use (`{{model_name}}`); defaults to metadata.name."),
        FieldSchema("args", .list(.string()), "Engine flags, one per entry: `--flag value`, `--flag=value` or `--flag`."),
        FieldSchema("env", .map(.envValue), "Environment of every replica; values may come from the environment or a file."),
        FieldSchema("readiness", .object(readiness), "Readiness override for this deployment."),
        FieldSchema("rollout", .object(rollout), "How replicas are replaced."),
        FieldSchema("container", .object(container),
                    "How a container target (docker) runs the replicas: shmSize, ipc, ulimits, volumes. Other targets ignore it (a warning)."),
        FieldSchema("benchmarks", .object(benchmarks),
                    "Benchmark scenarios and gates that `apply --gate` runs after a rollout (never restarts anything)."),
        FieldSchema("disaggregation", .object(disaggregation),
                    "Prefill/decode disaggregation: prefill and decode servers with `sglang-router` in front, whose endpoint is the deployment's "
                    + "(replicas and GPUs are set per role)."),
    ])

    static let pdRole = ObjectSchema("DisaggregationRole", [
        FieldSchema("replicas", .integer(min: 1, max: 1024), "Servers of this role (default 1)."),
        FieldSchema("gpusPerReplica", .integer(min: 0, max: 1024), "GPUs per server per node (default 0)."),
        FieldSchema("nodesPerReplica", .integer(min: 1, max: 1024), "Nodes one server spans (default 1)."),
        FieldSchema("port", .integer(min: 1, max: 65535),
                    "First port of this role; server i listens on port + i (default: the deployment's port + 10 for prefill, + 20 for decode)."),
        FieldSchema("args", .list(.string()), "Engine flags this role adds to the deployment's `args`."),
        FieldSchema("env", .map(.envValue), "Environment this role adds to (or overrides in) the deployment's `env`."),
    ])

    static let pdRouter = ObjectSchema("DisaggregationRouter", [
        FieldSchema("image", .string(), "Image that runs the router (default: the backend version's image, which ships sglang-router)."),
        FieldSchema("version", .string(), "The sglang-router release the image carries; selects the flag catalog (default: the newest catalogued)."),
        FieldSchema("entrypoint", .list(.string()), "Program and leading argv (default `python3 -m sglang_router.launch_router`)."),
        FieldSchema("args", .list(.string()), "Router flags (`--prefill-policy cache_aware`), checked against its catalog."),
    ])

    static let disaggregation = ObjectSchema("Disaggregation", [
        FieldSchema("prefill", .object(pdRole), required: true, "The prefill servers (`--disaggregation-mode prefill`)."),
        FieldSchema("decode", .object(pdRole), required: true, "The decode servers (`--disaggregation-mode decode`)."),
        FieldSchema("transferBackend", .string(),
                    "KV transfer backend (`--disaggregation-transfer-backend`: mooncake, nixl, …), checked against the engine version; default: the engine's."),
        FieldSchema("router", .object(pdRouter), "The router (sglang-router) in front of prefill and decode."),
    ])

    static let container = ObjectSchema("ContainerSettings", [
        FieldSchema("shmSize", .string(pattern: "^[0-9]+[bkmgBKMG]?$"), "Size of /dev/shm (`16g`) when `ipc` is not `host` (with `host` the host's /dev/shm is used); default 16g."),
        FieldSchema("ipc", .enumeration(["host", "private", "shareable"]), "IPC namespace; default `host`, as SGLang's and vLLM's docker instructions use."),
        FieldSchema("ulimits", .map(.integer(min: -1)),
                    "Limits by name, soft = hard, -1 unlimited; default {memlock: -1, stack: 67108864}; `{}` for none."),
        FieldSchema("volumes", .list(.string(pattern: "^/[^:]*:/[^:]*(:(ro|rw))?$")),
                    "Bind mounts `/host/path:/container/path[:ro|rw]` (a model cache)."),
    ])

    static let includeSpec = ObjectSchema("IncludeSpec", [
        FieldSchema("files", .list(.string()), required: true, "Manifest files to load, relative to this file."),
    ])

    static let deploymentPatch = ObjectSchema("DeploymentPatch", [
        FieldSchema("set", .map(.any),
                    "Values to set, by path relative to the deployment: `replicas`, `target`, `model.revision`, `labels.env`, "
                    + "`env.NAME`, or an engine flag by name (`--context-length`, also `args.--context-length`), matched through "
                    + "the flag catalog. Typed like the field it sets; `true`/`false` add or remove a presence flag."),
        FieldSchema("remove", .list(.string()),
                    "Paths to remove: a field (`readiness`), a label (`labels.team`), an env var (`env.NAME`), an engine flag "
                    + "(`--disable-overlap-schedule`, matched through the catalog), or `args` (every flag)."),
    ])

    static let overlaySpec = ObjectSchema("OverlaySpec", [
        FieldSchema("base", .string(), required: true,
                    "The manifest this overlay changes, relative to this file; it may itself be an overlay (a chain)."),
        FieldSchema("deployments", .map(.object(deploymentPatch)),
                    "Changes per deployment of the base, by deployment name: `set` then `remove`."),
    ])

    static func spec(forKind kind: String) -> ObjectSchema? {
        switch kind {
        case "Backend": return backendSpec
        case "Deployment": return deploymentSpec
        case "Include": return includeSpec
        case "Overlay": return overlaySpec
        default: return nil
        }
    }

    static let documentKeys = ["apiVersion", "kind", "metadata", "spec"]
}
