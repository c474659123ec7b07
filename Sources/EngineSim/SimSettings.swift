public import Engines
import Foundation

/// Simulator controls read from `DSDEPLOY_SIM_*` environment variables (so argv stays SGLang's).
public struct SimSettings: Hashable, Sendable {
    /// `DSDEPLOY_SIM_VERSION`: the SGLang catalog version whose flags are accepted (default 0.5.23).
    public var version: String
    /// `DSDEPLOY_SIM_START_DELAY`: seconds from start to "Application startup complete." (default 0).
    public var startDelay: Double
    /// `DSDEPLOY_SIM_CRASH_ON_START=1`: print an engine-like error and exit 1 after start-up logs.
    public var crashOnStart: Bool
    /// `DSDEPLOY_SIM_CRASH_AFTER`: seconds after start, then print an error and exit 1.
    public var crashAfter: Double?
    /// `DSDEPLOY_SIM_NEVER_READY=1`: the server starts (/health 200) but never becomes ready.
    public var neverReady: Bool
    /// `DSDEPLOY_SIM_ARG_OVERRIDE`: JSON object of /server_info fields to report instead.
    public var argOverride: [String: JSONValue]
    /// `DSDEPLOY_SIM_TTFT_BASE_MS`, `_TTFT_PER_1K_INPUT_MS`, `_DECODE_STEP_MS`, `_ACCEPT_LENGTH`.
    public var timing: TimingModel

    /// Default catalog version.
    public static let defaultVersion = "0.5.23"

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
        s.startDelay = try seconds(env, "DSDEPLOY_SIM_START_DELAY") ?? 0
        s.crashOnStart = try flag(env, "DSDEPLOY_SIM_CRASH_ON_START")
        s.crashAfter = try seconds(env, "DSDEPLOY_SIM_CRASH_AFTER")
        s.neverReady = try flag(env, "DSDEPLOY_SIM_NEVER_READY")
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
