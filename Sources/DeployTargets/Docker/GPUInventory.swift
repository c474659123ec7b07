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
        /// Processes on it (pids), from `--query-compute-apps`.
        var processes: [Int]
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
        var byUUID: [String: [Int]] = [:]
        for line in apps.split(whereSeparator: \.isNewline) {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count >= 2, let pid = Int(f[1]) else { continue }
            byUUID[f[0], default: []].append(pid)
        }
        var out: [GPU] = []
        for line in gpus.split(whereSeparator: \.isNewline) where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count >= 5, let index = Int(f[0]), f[1].hasPrefix("GPU-"), let total = Int(f[3]), let used = Int(f[4]) else {
                return nil
            }
            out.append(GPU(index: index, uuid: f[1], name: f[2], memoryTotalMiB: total, memoryUsedMiB: used,
                           processes: byUUID[f[1]] ?? []))
        }
        return out.isEmpty ? nil : GPUInventory(gpus: out.sorted { $0.index < $1.index })
    }

    /// GPU ids the placer may use: every GPU without processes, plus the ones dsdeploy's own
    /// replicas hold (`ours`: their processes are the engines it placed there).
    func free(ours: Set<Int>) -> [Int] {
        gpus.filter { $0.processes.isEmpty || ours.contains($0.index) }.map(\.index)
    }
}
