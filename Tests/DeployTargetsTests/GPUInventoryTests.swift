@testable import DeployTargets
import Foundation
import Testing

/// GPU inventory from real `nvidia-smi` output, captured on an H100 host (Fixtures/nvidia-smi, copied
/// from the reference captures: one NVIDIA H100 80GB HBM3, driver 580.159.04; idle, and with a
/// PyTorch process, pid 438, holding 6 GB).
@Suite struct GPUInventoryTests {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/nvidia-smi").path

    func fixture(_ name: String) throws -> String {
        try String(contentsOfFile: Self.dir + "/" + name, encoding: .utf8)
    }

    @Test func anIdleGPUIsFree() throws {
        let inv = try #require(GPUInventory.parse(gpus: try fixture("query-gpu-idle.csv"), apps: try fixture("compute-apps-idle.csv")))
        #expect(inv.gpus.count == 1)
        #expect(inv.gpus[0].index == 0 && inv.gpus[0].name == "NVIDIA H100 80GB HBM3" && inv.gpus[0].memoryTotalMiB == 81559)
        #expect(inv.gpus[0].uuid == "GPU-9e7bc364-3fcd-7c80-c2db-d5ab8914e669" && inv.gpus[0].processes.isEmpty)
        #expect(inv.free(ours: []) == [0])
    }

    @Test func aGPUSomeoneElseUsesIsTakenUnlessItIsOurs() throws {
        let inv = try #require(GPUInventory.parse(gpus: try fixture("query-gpu-busy.csv"), apps: try fixture("compute-apps-busy.csv")))
        #expect(inv.gpus[0].processes == [438] && inv.gpus[0].memoryUsedMiB == 6251)
        #expect(inv.free(ours: []).isEmpty, "a process dsdeploy did not place holds it")
        #expect(inv.free(ours: [0]) == [0], "our own replica's engine holds it")
    }

    @Test func eightGPUsLineByLineAndNotNvidiaSmi() throws {
        // A multi-GPU host prints one line per GPU (the H100 line, renumbered, as nvidia-smi would).
        let line = try fixture("query-gpu-idle.csv").trimmingCharacters(in: .whitespacesAndNewlines)
        let eight = (0..<8).map { i in
            line.replacingOccurrences(of: "0, GPU-9e7bc364-3fcd-7c80-c2db-d5ab8914e669",
                                      with: "\(i), GPU-9e7bc364-3fcd-7c80-c2db-d5ab8914e66\(i)")
        }.joined(separator: "\n")
        let apps = "GPU-9e7bc364-3fcd-7c80-c2db-d5ab8914e663, 9001, python3, 1024\n"
        let inv = try #require(GPUInventory.parse(gpus: eight, apps: apps))
        #expect(inv.free(ours: []) == [0, 1, 2, 4, 5, 6, 7])
        #expect(GPUInventory.parse(gpus: "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.", apps: "") == nil)
        #expect(GPUInventory.parse(gpus: "", apps: "") == nil)
    }
}
