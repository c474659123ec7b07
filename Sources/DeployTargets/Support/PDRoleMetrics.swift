import CurlHTTP
import Foundation

/// What the prefill and decode servers of a disaggregated deployment did during a benchmark, from
/// their own SGLang metrics (`GET /metrics`, served only with `--enable-metrics`): the counters
/// `sglang:num_requests_total`, `sglang:prompt_tokens_total` and `sglang:generation_tokens_total`,
/// summed over a role's servers, after minus before.
public enum PDRoleMetrics {
    /// The counters this reads.
    public static let counters = ["sglang:num_requests_total", "sglang:prompt_tokens_total", "sglang:generation_tokens_total"]

    /// The counters of every server in `urls` summed; nil when a server exposes none of them (no
    /// `--enable-metrics`) or cannot be read.
    public static func scrape(_ urls: [String]) -> [String: Double]? {
        let client = HTTPClient()
        var sum: [String: Double] = [:]
        for url in urls {
            guard let r = try? client.send(HTTPRequest(method: "GET", url: url + "/metrics", timeout: 5, connectTimeout: 2)),
                  r.status == 200 else { return nil }
            let values = parse(String(decoding: r.body, as: UTF8.self))
            guard !values.isEmpty else { return nil }
            for (k, v) in values { sum[k, default: 0] += v }
        }
        return sum
    }

    /// The counters in a Prometheus text exposition, summed over their label sets.
    public static func parse(_ text: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let name = counters.first(where: { line.hasPrefix($0 + "{") || line.hasPrefix($0 + " ") }),
                  let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            out[name, default: 0] += value
        }
        return out
    }
}
