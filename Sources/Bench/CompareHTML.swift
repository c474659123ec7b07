import Foundation

extension BenchComparison {
    /// Column colours, one per input (cycled).
    static let palette = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1", "#edc948", "#9c755f"]

    /// One self-contained HTML report: inline CSS and SVG, no scripts and no external assets.
    /// Per scenario: output-throughput bars and TTFT/ITL box plots from the per-request arrays
    /// (`--out` files; "no per-request data" otherwise); then the comparison table.
    public func html(title: String = "dsdeploy bench compare") -> String {
        var h = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <title>\(Self.esc(title))</title>
        <style>
        body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
        h1{font-size:22px;margin:0 0 8px}h2{font-size:18px;margin:28px 0 6px;border-bottom:1px solid #ddd;padding-bottom:4px}
        h3{font-size:14px;margin:12px 0 2px;color:#444}
        .legend span{display:inline-block;margin-right:18px;font-size:14px}
        .sw{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;vertical-align:-1px}
        .none{color:#888;font-style:italic;font-size:13px;margin:4px 0 4px 8px}
        .note{color:#666;font-size:12px}
        table{border-collapse:collapse;font-size:13px;margin-top:8px}
        th,td{border:1px solid #ddd;padding:4px 10px}th{background:#f4f4f4;text-align:left}
        td.n{text-align:right;font-variant-numeric:tabular-nums}
        tr.first td{border-top:2px solid #bbb}
        svg text{font-family:inherit;font-size:12px;fill:#333}
        </style></head><body>
        <h1>\(Self.esc(title))</h1>
        <div class="legend">
        """
        for (i, l) in labels.enumerated() {
            h += "<span><i class=\"sw\" style=\"background:\(color(i))\"></i>\(Self.esc(l))</span>"
        }
        h += "</div>\n"
        if !warnings.isEmpty {
            h += "<p class=\"note\">" + warnings.map(Self.esc).joined(separator: "<br>") + "</p>\n"
        }
        for s in scenarios {
            h += "<h2>\(Self.esc(s.label))</h2>\n"
            let runs = inputs.map { $0.run(s) }
            h += "<h3>Output throughput (tokens/s)</h3>\n"
            h += bars(runs.map { $0?.fields["output_throughput"] })
            h += "<h3>Request throughput (req/s)</h3>\n"
            h += bars(runs.map { $0?.fields["request_throughput"] })
            h += "<h3>TTFT per request (ms)</h3>\n"
            h += boxes(runs.map { $0?.ttfts }, missing: runs.map { $0 == nil })
            h += "<h3>ITL (ms)</h3>\n"
            h += boxes(runs.map { $0?.itls }, missing: runs.map { $0 == nil })
        }
        h += "<h2>Comparison</h2>\n<table><tr>"
        let (header, body) = cells()
        for c in header { h += "<th>\(Self.esc(c))</th>" }
        h += "</tr>\n"
        var last: String?
        for (row, r) in zip(body, rows) {
            h += r.scenario != last ? "<tr class=\"first\">" : "<tr>"
            for (i, c) in row.enumerated() { h += i < 2 ? "<td>\(Self.esc(c))</td>" : "<td class=\"n\">\(Self.esc(c))</td>" }
            h += "</tr>\n"
            last = r.scenario
        }
        h += "</table>\n<p class=\"note\">Ratio: last ÷ first (two inputs only). Box plots: box = p25–p75, line = median, "
        h += "whiskers = p1–p99, dot = mean.</p>\n</body></html>\n"
        return h
    }

    func color(_ i: Int) -> String { Self.palette[i % Self.palette.count] }

    static let labelWidth = 170.0, plotWidth = 640.0, rowHeight = 26.0

    /// Horizontal bars, one per input.
    func bars(_ values: [Double?]) -> String {
        let top = values.compactMap { $0 }.max() ?? 0
        let scale = top > 0 ? Self.plotWidth / top : 0
        let height = Self.rowHeight * Double(values.count) + 8
        var s = "<svg width=\"\(Int(Self.labelWidth + Self.plotWidth + 120))\" height=\"\(Int(height))\" role=\"img\">"
        for (i, v) in values.enumerated() {
            let y = 4 + Self.rowHeight * Double(i)
            s += text(x: Self.labelWidth - 8, y: y + 17, labels[i], anchor: "end")
            if let v {
                let w = max(v * scale, 1)
                s += "<rect x=\"\(Self.labelWidth)\" y=\"\(Self.f(y + 3))\" width=\"\(Self.f(w))\" height=\"\(Self.f(Self.rowHeight - 8))\" fill=\"\(color(i))\" rx=\"2\"/>"
                s += text(x: Self.labelWidth + w + 6, y: y + 17, Self.number(v))
            } else {
                s += text(x: Self.labelWidth + 6, y: y + 17, "no result", cls: "#888")
            }
        }
        return s + "</svg>\n"
    }

    /// Horizontal box plots (values in seconds, drawn in ms) with an axis; "no per-request data" rows.
    func boxes(_ samples: [[Double]?], missing: [Bool]) -> String {
        let sorted = samples.map { $0.map { $0.map { $0 * 1000 }.sorted() } }
        let withData = sorted.compactMap { $0 }.filter { !$0.isEmpty }
        if withData.isEmpty { return "<p class=\"none\">no per-request data (compare files written with <code>--out</code>)</p>\n" }
        let top = withData.map { Statistics.percentile(sorted: $0, 99) }.max() ?? 0
        let step = Self.niceStep(top / 5)
        let axisMax = max(step * (top / step).rounded(.up), step)
        let scale = Self.plotWidth / axisMax
        let height = Self.rowHeight * Double(samples.count) + 30
        var s = "<svg width=\"\(Int(Self.labelWidth + Self.plotWidth + 260))\" height=\"\(Int(height))\" role=\"img\">"
        let axisY = Self.rowHeight * Double(samples.count) + 6
        var t = 0.0
        while t <= axisMax + step / 2 {
            let x = Self.labelWidth + t * scale
            s += "<line x1=\"\(Self.f(x))\" y1=\"2\" x2=\"\(Self.f(x))\" y2=\"\(Self.f(axisY))\" stroke=\"#eee\"/>"
            s += text(x: x, y: axisY + 15, Self.tick(t), anchor: "middle", cls: "#666")
            t += step
        }
        s += "<line x1=\"\(Self.labelWidth)\" y1=\"\(Self.f(axisY))\" x2=\"\(Self.f(Self.labelWidth + Self.plotWidth))\" y2=\"\(Self.f(axisY))\" stroke=\"#999\"/>"
        for (i, xs) in sorted.enumerated() {
            let y = 4 + Self.rowHeight * Double(i), mid = y + Self.rowHeight / 2 - 2
            s += text(x: Self.labelWidth - 8, y: y + 15, labels[i], anchor: "end")
            guard let xs, !xs.isEmpty else {
                s += text(x: Self.labelWidth + 6, y: y + 15, missing[i] ? "no result" : "no per-request data", cls: "#888")
                continue
            }
            func px(_ v: Double) -> Double { Self.labelWidth + min(v, axisMax) * scale }
            let p1 = Statistics.percentile(sorted: xs, 1), p25 = Statistics.percentile(sorted: xs, 25)
            let p50 = Statistics.percentile(sorted: xs, 50), p75 = Statistics.percentile(sorted: xs, 75)
            let p99 = Statistics.percentile(sorted: xs, 99), mean = Statistics.mean(xs)
            let c = color(i), bh = Self.rowHeight - 10
            s += "<line x1=\"\(Self.f(px(p1)))\" y1=\"\(Self.f(mid))\" x2=\"\(Self.f(px(p99)))\" y2=\"\(Self.f(mid))\" stroke=\"\(c)\" stroke-width=\"1.5\"/>"
            for w in [p1, p99] {
                s += "<line x1=\"\(Self.f(px(w)))\" y1=\"\(Self.f(mid - 5))\" x2=\"\(Self.f(px(w)))\" y2=\"\(Self.f(mid + 5))\" stroke=\"\(c)\" stroke-width=\"1.5\"/>"
            }
            s += "<rect x=\"\(Self.f(px(p25)))\" y=\"\(Self.f(mid - bh / 2))\" width=\"\(Self.f(max(px(p75) - px(p25), 1)))\" height=\"\(Self.f(bh))\" fill=\"\(c)\" fill-opacity=\"0.35\" stroke=\"\(c)\"/>"
            s += "<line x1=\"\(Self.f(px(p50)))\" y1=\"\(Self.f(mid - bh / 2))\" x2=\"\(Self.f(px(p50)))\" y2=\"\(Self.f(mid + bh / 2))\" stroke=\"\(c)\" stroke-width=\"2.5\"/>"
            s += "<circle cx=\"\(Self.f(px(mean)))\" cy=\"\(Self.f(mid))\" r=\"3\" fill=\"#222\"/>"
            s += text(x: Self.labelWidth + Self.plotWidth + 12, y: y + 15,
                      "median \(Self.number(p50)) · p99 \(Self.number(p99)) · n=\(xs.count)")
        }
        return s + "</svg>\n"
    }

    func text(x: Double, y: Double, _ s: String, anchor: String = "start", cls: String? = nil) -> String {
        "<text x=\"\(Self.f(x))\" y=\"\(Self.f(y))\" text-anchor=\"\(anchor)\"" + (cls.map { " style=\"fill:\($0)\"" } ?? "")
            + ">\(Self.esc(s))</text>"
    }

    /// 1, 2 or 5 × 10^k, at least `raw`.
    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let p = pow(10, (log10(raw)).rounded(.down))
        for m in [1.0, 2, 5, 10] where m * p >= raw { return m * p }
        return 10 * p
    }

    static func tick(_ v: Double) -> String { v == v.rounded() ? String(Int(v)) : String(format: "%g", v) }
    static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    /// HTML-escapes text.
    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
