/// Where a running `vllm serve` reports each flag (shared/reference/vllm/readback.md): its path in
/// `/server_info?config_format=json` (dev mode) and its `vllm:cache_config_info` label, for each
/// surveyed version family. The readback checks against it; the simulator reports through it.
public struct VLLMReadbackMap: Sendable {
    /// The vLLM version the map was made from.
    public let version: String
    /// Canonical flags that have a path or a label, sorted.
    public let flags: [String]
    /// Canonical flag → object keys from the top of the `/server_info` document
    /// (`["vllm_config", "model_config", "max_model_len"]`).
    public let serverInfoPaths: [String: [String]]
    /// Canonical flag → `vllm:cache_config_info` label name.
    public let cacheLabels: [String: String]

    /// The maps of every surveyed family, oldest first (from `VLLMReadbackMap+Tables.swift`).
    public static let all: [VLLMReadbackMap] = tables.map { table in
        var flags: [String] = [], paths: [String: [String]] = [:], labels: [String: String] = [:]
        for line in table.rows.split(separator: "\n") {
            let parts = line.split(separator: " ").map(String.init)
            guard parts.count == 3 else { continue }
            flags.append(parts[0])
            if parts[1] != "-" { paths[parts[0]] = parts[1].split(separator: ".").map(String.init) }
            if parts[2] != "-" { labels[parts[0]] = parts[2] }
        }
        return VLLMReadbackMap(version: table.version, flags: flags, serverInfoPaths: paths, cacheLabels: labels)
    }

    /// The map of the family nearest to `version` (by release number; a tie takes the newer).
    public static func nearest(to version: String) -> VLLMReadbackMap {
        func position(_ v: String) -> Double {
            let c = EngineVersion(v).components + [0, 0, 0]
            return Double(c[0]) * 1_000_000 + Double(c[1]) * 1_000 + Double(min(c[2], 999))
        }
        let target = position(version)
        var best = all[0]
        for map in all.dropFirst() where abs(position(map.version) - target) <= abs(position(best.version) - target) {
            best = map
        }
        return best
    }
}
