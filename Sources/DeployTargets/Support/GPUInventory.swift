import DeployKit
import Foundation

/// A host's GPUs as `nvidia-smi` reports them: what the placer may hand out when the Target does
/// not declare `gpus`. A GPU that runs a process dsdeploy did not place counts as taken.
struct GPUInventory: Sendable, Hashable {
    /// One GPU.
    struct GPU: Sendable, Hashable {
        var index: Int
        var uuid: String
        var name: String
        var memoryTotalMiB: Int
        var memoryUsedMiB: Int
        /// Processes on it, from `--query-compute-apps`.
        var apps: [App] = []
        /// Their pids.
        var processes: [Int] { apps.map(\.pid) }
    }

    /// A process that holds a GPU: its pid and name (nvidia-smi prints the executable's path).
    struct App: Sendable, Hashable {
        var pid: Int
        var name: String

        /// `438 (python3)`.
        var text: String { "\(pid) (\(name.split(separator: "/").last.map(String.init) ?? name))" }
    }

    var gpus: [GPU]

    /// `nvidia-smi --query-gpu=…` (the fields the fixtures in the tests were captured with).
    static let queryGPUs = ["nvidia-smi", "--query-gpu=index,uuid,name,memory.total,memory.used,memory.free,utilization.gpu,"
                            + "pci.bus_id,driver_version,compute_cap", "--format=csv,noheader,nounits"]
    /// `nvidia-smi --query-compute-apps=…`: prints nothing at all when no process runs.
    static let queryApps = ["nvidia-smi", "--query-compute-apps=gpu_uuid,pid,process_name,used_memory",
                            "--format=csv,noheader,nounits"]

    /// Parses the two outputs (`, `-separated, MiB); nil when the GPU list is not nvidia-smi's.
    static func parse(gpus: String, apps: String) -> GPUInventory? {
        var byUUID: [String: [App]] = [:]
        for line in apps.split(whereSeparator: \.isNewline) {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count >= 2, let pid = Int(f[1]) else { continue }
            byUUID[f[0], default: []].append(App(pid: pid, name: f.count > 2 ? f[2] : "?"))
        }
        var out: [GPU] = []
        for line in gpus.split(whereSeparator: \.isNewline) where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count >= 5, let index = Int(f[0]), f[1].hasPrefix("GPU-"), let total = Int(f[3]), let used = Int(f[4]) else {
                return nil
            }
            out.append(GPU(index: index, uuid: f[1], name: f[2], memoryTotalMiB: total, memoryUsedMiB: used,
                           apps: byUUID[f[1]] ?? []))
        }
        return out.isEmpty ? nil : GPUInventory(gpus: out.sorted { $0.index < $1.index })
    }

    /// GPU ids the placer may use: every GPU without processes, plus the ones dsdeploy's own
    /// replicas hold (`ours`: their processes are the engines it placed there).
    func free(ours: Set<Int>) -> [Int] {
        gpus.filter { $0.processes.isEmpty || ours.contains($0.index) }.map(\.index)
    }

    /// The others, each with what holds it (`runs pid 438 (python3)`), for placement errors.
    func taken(ours: Set<Int>) -> [Int: String] {
        var out: [Int: String] = [:]
        for g in gpus where !g.processes.isEmpty && !ours.contains(g.index) {
            out[g.index] = "runs pid" + (g.apps.count == 1 ? " " : "s ") + g.apps.map(\.text).joined(separator: ", ")
        }
        return out
    }

    /// `host` with the GPUs this inventory leaves free (`ours`: ids dsdeploy's own running replicas
    /// hold) and the taken ones named.
    func filling(_ host: InventoryHost, ours: Set<Int>) -> InventoryHost {
        var h = host
        h.gpus = free(ours: ours)
        let taken = taken(ours: ours)
        h.taken = taken.isEmpty ? nil : taken
        return h
    }

    /// What reading a host's GPUs gave.
    enum Reading {
        /// Its GPUs.
        case gpus(GPUInventory)
        /// It has no `nvidia-smi` (a CPU host, a `tcp://` host): nothing to count.
        case none
        /// `nvidia-smi` is there but gave no GPU list: why (its first error line, or the timeout).
        case failed(String)

        /// `host` with what this reading says: its free GPUs, or why they are not counted.
        func filling(_ host: InventoryHost, ours: Set<Int>) -> InventoryHost {
            switch self {
            case .gpus(let inv): return inv.filling(host, ours: ours)
            case .none: return host
            case .failed(let why):
                var h = host
                h.unread = why
                return h
            }
        }
    }

    /// How long `nvidia-smi` may take before it counts as failed (it hangs on a GPU in a bad state).
    static let timeout = 15.0

    /// The reading of one run of both queries (`run` runs a query's argv, giving its exit status,
    /// output and error text); 127 from the first means there is no `nvidia-smi`.
    static func read(_ run: ([String]) -> (status: Int32, output: String, error: String)) -> Reading {
        let g = run(queryGPUs)
        if g.status == 127 { return .none }
        guard g.status == 0 else { return .failed(failure(g)) }
        let a = run(queryApps)
        guard a.status == 0 else { return .failed(failure(a)) }
        guard let inv = parse(gpus: g.output, apps: a.output) else {
            return .failed("nvidia-smi listed no GPU" + (g.output.isEmpty ? "" : ": " + firstLine(g.output)))
        }
        return .gpus(inv)
    }

    static func failure(_ r: (status: Int32, output: String, error: String)) -> String {
        let text = firstLine(r.error.isEmpty ? r.output : r.error)
        if r.status == 124 { return "nvidia-smi " + text }
        return "nvidia-smi failed (exit \(r.status))" + (text.isEmpty ? "" : ": " + text)
    }

    static func firstLine(_ s: String) -> String {
        String(s.split(whereSeparator: \.isNewline).first ?? "").trimmingCharacters(in: .whitespaces)
    }

    /// `nvidia-smi` run on this machine, found on `environment`'s `PATH` (posix_spawnp would search
    /// this process's own).
    static func readHere(environment: [String: String], timeout: Double = timeout) -> Reading {
        guard let smi = CommandRunner.find("nvidia-smi", path: environment["PATH"] ?? "") else { return .none }
        let dir = NSTemporaryDirectory() + "dsdeploy-nvidia-smi-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        return read { argv in
            CommandRunner.run([smi] + argv.dropFirst(), environment: environment, directory: dir, name: "nvidia-smi",
                              captureOutput: true, timeout: timeout)
        }
    }
}
