import DeployKit
import Foundation

/// Turns apply events into terminal output: a live line per replica on a terminal, plain lines otherwise.
final class ProgressView: @unchecked Sendable {
    let interactive: Bool
    let write: (String) -> Void
    private var lines: [String: String] = [:]
    private var order: [String] = []
    private var drawn = 0
    private var spin = 0
    private let lock = NSLock()
    private var lastWaitingPrint: [String: Double] = [:]

    /// Creates a view; `interactive` redraws in place (a terminal), otherwise prints one line per event.
    init(interactive: Bool, write: @escaping (String) -> Void) {
        self.interactive = interactive
        self.write = write
    }

    /// Handles one event.
    func handle(_ e: ApplyEvent) {
        lock.lock()
        defer { lock.unlock() }
        switch e {
        case .started(let id, let inst, let port, let rev):
            set(id, "starting \(inst) on port \(port) (revision \(rev.prefix(8)))")
        case .waiting(let id, let elapsed, let line):
            let seconds = elapsed.inSeconds
            let text = "waiting \(String(format: "%.1f", seconds))s" + (line.map { "  │ \(String($0.prefix(70)))" } ?? "")
            if interactive { set(id, text) } else if seconds - (lastWaitingPrint[id] ?? -10) >= 10 {
                lastWaitingPrint[id] = seconds
                set(id, text)
            }
        case .ready(let id, let elapsed): set(id, "ready and verified in \(String(format: "%.1f", elapsed.inSeconds))s")
        case .failed(let id, let reason, _): set(id, "FAILED: \(reason.split(separator: "\n").first ?? "")")
        case .stopped(let id, let inst): set(id, "stopped \(inst)")
        case .updated(let id): set(id, "labels updated")
        case .reverting(let dep, let reason): set(dep, "reverting to the last good revision (\(reason))")
        case .reverted(let dep): set(dep, "reverted")
        case .hostUnreachable(let host, let reason): set("host " + host, "FAILED: unreachable: \(reason); nothing more is done there in this apply")
        case .progress(let id, let message): set(id, message)
        case .done(let id, let message): set(id, "done" + (message.isEmpty ? "" : ": \(message)"))
        }
    }

    func set(_ id: String, _ text: String) {
        if !interactive {
            write("\(id): \(text)\n")
            return
        }
        if lines[id] == nil { order.append(id) }
        lines[id] = text
        spin += 1
        var out = drawn > 0 ? "\u{1B}[\(drawn)A" : ""
        let frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]
        for k in order {
            let t = lines[k] ?? ""
            let mark = t.hasPrefix("ready") || t.hasPrefix("done") || t.hasPrefix("stopped") || t.hasPrefix("reverted") || t.hasPrefix("labels")
                ? "✔" : (t.hasPrefix("FAILED") ? "✘" : frames[spin % frames.count])
            out += "\u{1B}[2K  \(mark) \(k)  \(t)\n"
        }
        drawn = order.count
        write(out)
    }
}
