#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Where the simulator's lines go: stderr (logs) and stdout (`--help`) for the process, a buffer in tests.
public struct SimLog: Sendable {
    private let sink: @Sendable (String) -> Void

    /// A log writing each line to `sink` (without a trailing newline).
    public init(sink: @escaping @Sendable (String) -> Void) { self.sink = sink }

    /// A log writing to the process's stderr, one `write` per line so lines never interleave.
    public static let stderr = SimLog { line in writeLine(line, to: 2) }

    /// The process's stdout (for `--help`, which the engines print there), one `write` per line.
    public static let stdout = SimLog { line in writeLine(line, to: 1) }

    private static func writeLine(_ line: String, to fd: Int32) {
        let bytes = Array((line + "\n").utf8)
        bytes.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = write(fd, raw.baseAddress.map { $0 + off }, raw.count - off)
                if n <= 0 { break }
                off += n
            }
        }
    }

    /// Discards everything.
    public static let silent = SimLog { _ in }

    /// A log that keeps lines in memory, with a way to read them back (for tests).
    public static func memory() -> (SimLog, @Sendable () -> [String]) {
        final class Lines: Sendable { let lines = Mutex<[String]>([]) }
        let box = Lines()
        return (SimLog { line in box.lines.withLock { $0.append(line) } },
                { box.lines.withLock { $0 } })
    }

    /// `[2026-01-02 03:04:05] message`, like SGLang's own logger.
    public func info(_ message: String) { sink("[\(SimLog.timestamp())] \(message)") }

    /// `[2026-01-02 03:04:05] INFO:     message`, like uvicorn's lines in SGLang's log.
    public func uvicorn(_ message: String) { sink("[\(SimLog.timestamp())] INFO:     \(message)") }

    /// A raw line (tracebacks, argparse output).
    public func raw(_ line: String) { sink(line) }

    /// Local wall-clock time as `YYYY-MM-DD HH:MM:SS`.
    static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        func pad(_ v: Int32, _ width: Int = 2) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1))-\(pad(parts.tm_mday)) "
            + "\(pad(parts.tm_hour)):\(pad(parts.tm_min)):\(pad(parts.tm_sec))"
    }
}

/// Lines a real SGLang prints, so log-watching code sees familiar text.
enum SGLangLines {
    static func serverArgs(_ fields: [(String, String)]) -> String {
        "server_args=ServerArgs(" + fields.map { "\($0.0)=\($0.1)" }.joined(separator: ", ") + ")"
    }

    static let loadBegin = "Load weight begin. avail mem=79.10 GB"
    static let loadEnd = "Load weight end. type=SimulatedForCausalLM, dtype=torch.bfloat16, avail mem=61.20 GB"
    static let kvCache = "KV Cache is allocated. #tokens: 500000, K size: 6.00 GB, V size: 6.00 GB"
    static let startupComplete = "Application startup complete."
    static let ready = "The server is fired up and ready to roll!"

    static func uvicornRunning(host: String, port: Int) -> String {
        let shown = host.contains(":") ? "[\(host)]" : host
        return "Uvicorn running on http://\(shown):\(port) (Press CTRL+C to quit)"
    }

    /// The tail of a Python traceback like an engine that died during start-up.
    static let startupCrash = [
        "Traceback (most recent call last):",
        "  File \"/sgl-workspace/sglang/python/sglang/srt/managers/scheduler.py\", line 2680, in run_scheduler_process",
        "    scheduler = Scheduler(server_args, port_args, gpu_id, tp_rank, moe_ep_rank, pp_rank, dp_rank)",
        "RuntimeError: CUDA error: out of memory (simulated by DSDEPLOY_SIM_CRASH_ON_START)",
    ]

    /// What a scheduler crash after start-up looks like.
    static let runtimeCrash = [
        "Scheduler hit an exception: Traceback (most recent call last):",
        "RuntimeError: NCCL error: unhandled system error (simulated by DSDEPLOY_SIM_CRASH_AFTER)",
        "Received sigquit from a child process. It usually means the child failed.",
    ]
}

/// Lines a real `vllm serve` prints.
enum VLLMLines {
    static func version(_ v: String) -> String { "INFO [api_server.py] vLLM API server version \(v)" }

    static func args(model: String, served: String, maxModelLen: String) -> String {
        "INFO [utils.py] non-default args: {'model': '\(model)', 'served_model_name': ['\(served)'], "
            + "'max_model_len': \(maxModelLen)}"
    }

    static let kvCache = "INFO [kv_cache_utils.py] GPU KV cache size: 500,000 tokens"
    static let devMode = "WARNING [api_server.py] SECURITY WARNING: Development endpoints are enabled! "
        + "This should NOT be used in production!"

    static func starting(host: String, port: Int) -> String {
        let shown = host.contains(":") ? "[\(host)]" : host
        return "INFO [api_server.py] Starting vLLM API server 0 on http://\(shown):\(port)"
    }

    /// The tail of an engine that died during start-up.
    static let startupCrash = [
        "ERROR [core.py] EngineCore failed to start.",
        "torch.OutOfMemoryError: CUDA out of memory. (simulated by DSDEPLOY_SIM_CRASH_ON_START)",
        "RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}",
    ]

    /// What an engine crash after start-up looks like.
    static let runtimeCrash = [
        "ERROR [core.py] EngineCore encountered a fatal error.",
        "RuntimeError: NCCL error: unhandled system error (simulated by DSDEPLOY_SIM_CRASH_AFTER)",
        "ERROR [async_llm.py] AsyncLLM output_handler failed. vllm.v1.engine.exceptions.EngineDeadError",
    ]
}
