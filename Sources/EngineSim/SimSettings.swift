public import Engines
import Foundation

/// Simulator controls read from `DSDEPLOY_SIM_*` environment variables (so argv stays the engine's).
public struct SimSettings: Hashable, Sendable {
    /// `DSDEPLOY_SIM_VERSION` (else `DSDEPLOY_ENGINE_VERSION`): the catalog version whose flags are
    /// accepted (default 0.5.23 for SGLang, the newest bundled vLLM catalog for vLLM).
    public var version: String
    /// True when `version` came from the environment (not the default).
    public var versionIsExplicit = false
    /// `DSDEPLOY_SIM_ENGINE` (`sglang` or `vllm`): the personality; nil decides from argv
    /// (`vllm serve ...` / `serve ...` is vLLM) and the version (a vLLM-only catalog version is vLLM).
    public var engine: EngineKind?
    /// `VLLM_SERVER_DEV_MODE=1` (vLLM personality): `/server_info` and `/is_sleeping` exist.
    public var vllmDevMode = false
    /// `DSDEPLOY_SIM_START_DELAY`: seconds from start to "Application startup complete." (default 0).
    public var startDelay: Double
    /// `DSDEPLOY_SIM_CRASH_ON_START=1`: print an engine-like error and exit 1 after start-up logs.
    public var crashOnStart: Bool
    /// `DSDEPLOY_SIM_CRASH_AFTER`: seconds after start, then print an error and exit 1.
    public var crashAfter: Double?
    /// `DSDEPLOY_SIM_NEVER_READY=1`: the server starts (/health 200) but never becomes ready.
    public var neverReady: Bool
    /// `DSDEPLOY_SIM_REFUSE_TOKEN_IDS=1`: `/v1/completions` answers 400 to a `prompt` of token ids,
    /// like an OpenAI-compatible server that takes text only (SGLang, vLLM and llama.cpp take ids).
    public var refuseTokenIDs = false
    /// `DSDEPLOY_SIM_REPLAY=1`: serve from one thread without SwiftNIO, each stream's response
    /// rendered when its request arrives and released chunk by chunk at the timing model's due
    /// times (`ReplayServer`): a load source for measuring benchmark clients at high token rates.
    public var replay = false
    /// `DSDEPLOY_SIM_REPLAY_BATCH=k` (replay mode; default 1): after a stream's first chunk, its chunks
    /// go out k to a `write`, each group when its last chunk is due (a stream's first and last chunks
    /// on time, so TTFT and mean ITL keep the timing model's; the chunks between arrive in bursts of k,
    /// as from a busy server's socket buffer). One write per k tokens lets the source offer more
    /// tokens per second than one write per token allows on one core; the client still reads, parses
    /// and timestamps every SSE event.
    public var replayBatch = 1
    /// A multi-node node of rank > 0: only SGLang's dummy health server (set by the simulator itself).
    public var dummyHealthOnly = false
    /// `DSDEPLOY_SIM_NEVER_JOIN=1`: a node of rank > 0 never joins its group's rendezvous (rank 0 then
    /// waits, as a real group hangs, until the readiness timeout).
    public var neverJoin = false
    /// `DSDEPLOY_SIM_BOOTSTRAP_TIMEOUT`: seconds a decode server (`--disaggregation-mode decode`) waits
    /// for its room's KV from the prefill's bootstrap server before the request fails with HTTP 500
    /// naming the bootstrap address (default 300, SGLang's `SGLANG_DISAGGREGATION_WAITING_TIMEOUT`).
    public var bootstrapTimeout: Double = 300
    /// `DSDEPLOY_SIM_ARG_OVERRIDE`: JSON object of /server_info fields to report instead.
    public var argOverride: [String: JSONValue]
    /// `DSDEPLOY_SIM_TTFT_BASE_MS`, `_TTFT_PER_1K_INPUT_MS`, `_DECODE_STEP_MS`, `_ACCEPT_LENGTH`,
    /// `_SHARED_STEPS` (see `TimingModel.sharedSteps`).
    public var timing: TimingModel

    /// Default catalog version (SGLang).
    public static let defaultVersion = "0.5.23"

    /// The default vLLM catalog version: the newest bundled one.
    public static var defaultVLLMVersion: String { CatalogStore.versions(of: .vllm).last ?? "0.33.0" }

    /// The personality for `argv`: `DSDEPLOY_SIM_ENGINE`, else vLLM when argv starts with
    /// `vllm serve` or `serve`, or when the version is a vLLM catalog version and no SGLang one;
    /// else SGLang. Returns the engine, argv without `vllm serve`, and the settings for that engine
    /// (the version defaulted per engine).
    public func personality(for argv: [String]) -> (engine: EngineKind, argv: [String], settings: SimSettings) {
        var rest = argv
        var serveForm = false
        if rest.first == "vllm", rest.dropFirst().first == "serve" {
            rest.removeFirst(2)
            serveForm = true
        } else if rest.first == "serve" {
            rest.removeFirst()
            serveForm = true
        }
        let vllmVersion = versionIsExplicit && CatalogStore.versions(of: .vllm).contains(version)
            && !CatalogStore.versions(of: .sglang).contains(version)
        let kind = engine ?? (serveForm || vllmVersion ? .vllm : .sglang)
        var s = self
        s.engine = kind
        if kind == .vllm, !versionIsExplicit { s.version = SimSettings.defaultVLLMVersion }
        return (kind, kind == .vllm ? rest : argv, s)
    }

    /// Creates settings.
    public init(version: String = SimSettings.defaultVersion, startDelay: Double = 0, crashOnStart: Bool = false,
                crashAfter: Double? = nil, neverReady: Bool = false, argOverride: [String: JSONValue] = [:],
                timing: TimingModel = .defaults) {
        self.version = version
        self.startDelay = startDelay
        self.crashOnStart = crashOnStart
        self.crashAfter = crashAfter
        self.neverReady = neverReady
        self.argOverride = argOverride
        self.timing = timing
    }

    /// Reads the settings from an environment; unset variables take defaults.
    /// - Throws: `SimSetupError` naming the variable whose value is unusable.
    public static func fromEnvironment(_ env: [String: String]) throws(SimSetupError) -> SimSettings {
        var s = SimSettings()
        if let v = env["DSDEPLOY_SIM_VERSION"], !v.isEmpty { s.version = v }
        else if let v = env["DSDEPLOY_ENGINE_VERSION"], !v.isEmpty { s.version = v }
        s.versionIsExplicit = env["DSDEPLOY_SIM_VERSION"]?.isEmpty == false || env["DSDEPLOY_ENGINE_VERSION"]?.isEmpty == false
        switch env["DSDEPLOY_SIM_ENGINE"]?.trimmingCharacters(in: .whitespaces).lowercased() {
        case nil, "": s.engine = nil
        case "sglang": s.engine = .sglang
        case "vllm": s.engine = .vllm
        case let other?: throw SimSetupError("DSDEPLOY_SIM_ENGINE must be sglang or vllm, got '\(other)'")
        }
        // vLLM reads it as bool(int(value)).
        switch env["VLLM_SERVER_DEV_MODE"]?.trimmingCharacters(in: .whitespaces).lowercased() {
        case nil, "", "0", "false": s.vllmDevMode = false
        case let v?: s.vllmDevMode = v == "true" || (Int(v).map { $0 != 0 } ?? false)
        }
        s.startDelay = try seconds(env, "DSDEPLOY_SIM_START_DELAY") ?? 0
        s.crashOnStart = try flag(env, "DSDEPLOY_SIM_CRASH_ON_START")
        s.crashAfter = try seconds(env, "DSDEPLOY_SIM_CRASH_AFTER")
        s.neverReady = try flag(env, "DSDEPLOY_SIM_NEVER_READY")
        s.refuseTokenIDs = try flag(env, "DSDEPLOY_SIM_REFUSE_TOKEN_IDS")
        s.neverJoin = try flag(env, "DSDEPLOY_SIM_NEVER_JOIN")
        s.bootstrapTimeout = try seconds(env, "DSDEPLOY_SIM_BOOTSTRAP_TIMEOUT") ?? 300
        s.replay = try flag(env, "DSDEPLOY_SIM_REPLAY")
        if let k = try number(env, "DSDEPLOY_SIM_REPLAY_BATCH") {
            guard k >= 1, k <= 64, k == k.rounded() else {
                throw SimSetupError("DSDEPLOY_SIM_REPLAY_BATCH must be a whole number from 1 to 64, got \(k)")
            }
            s.replayBatch = Int(k)
        }
        if let raw = env["DSDEPLOY_SIM_ARG_OVERRIDE"], !raw.trimmingCharacters(in: .whitespaces).isEmpty {
            guard let value = JSONValue.parse(Array(raw.utf8)), case .object(let object) = value else {
                throw SimSetupError("DSDEPLOY_SIM_ARG_OVERRIDE must be a JSON object, got: \(raw.prefix(80))")
            }
            s.argOverride = object
        }
        let d = TimingModel.defaults
        s.timing = TimingModel(
            ttftBaseMs: try number(env, "DSDEPLOY_SIM_TTFT_BASE_MS") ?? d.ttftBaseMs,
            ttftPer1kInputMs: try number(env, "DSDEPLOY_SIM_TTFT_PER_1K_INPUT_MS") ?? d.ttftPer1kInputMs,
            decodeStepMs: try number(env, "DSDEPLOY_SIM_DECODE_STEP_MS") ?? d.decodeStepMs,
            acceptLength: try number(env, "DSDEPLOY_SIM_ACCEPT_LENGTH") ?? d.acceptLength)
        s.timing.sharedSteps = try flag(env, "DSDEPLOY_SIM_SHARED_STEPS")
        guard s.timing.acceptLength >= 1, s.timing.acceptLength <= 64 else {
            throw SimSetupError("DSDEPLOY_SIM_ACCEPT_LENGTH must be between 1 and 64, got \(s.timing.acceptLength)")
        }
        return s
    }

    private static func number(_ env: [String: String], _ name: String) throws(SimSetupError) -> Double? {
        guard let raw = env[name]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return nil }
        guard let v = Double(raw), v.isFinite, v >= 0 else {
            throw SimSetupError("\(name) must be a non-negative number, got '\(raw)'")
        }
        return v
    }

    private static func seconds(_ env: [String: String], _ name: String) throws(SimSetupError) -> Double? {
        guard let v = try number(env, name) else { return nil }
        guard v <= 86_400 else { throw SimSetupError("\(name) must be at most 86400 seconds, got \(v)") }
        return v
    }

    private static func flag(_ env: [String: String], _ name: String) throws(SimSetupError) -> Bool {
        switch env[name]?.trimmingCharacters(in: .whitespaces).lowercased() {
        case nil, "", "0", "false", "no": return false
        case "1", "true", "yes": return true
        case let other?: throw SimSetupError("\(name) must be 1 or 0, got '\(other)'")
        }
    }
}

/// A simulator set-up problem (bad environment variable, unknown catalog version).
public struct SimSetupError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What is wrong, naming the variable or flag.
    public var message: String

    /// Creates an error.
    public init(_ message: String) { self.message = message }

    /// The message.
    public var description: String { message }
}
