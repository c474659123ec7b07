@testable import DeployTargets
import DeployKit
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

/// The local target reads this machine's GPUs through the `nvidia-smi` on the target's `PATH`
/// (a stand-in script here that prints the real captures) when its Target declares no `gpus`.
@Suite struct LocalGPUInventoryTests {
    func inventory(smi script: String?, declared: [Int]? = nil, timeout: Double? = nil) throws -> InventoryHost? {
        let dir = makeStateDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/bin", withIntermediateDirectories: true)
        if let script { _ = writeScript(dir + "/bin", "nvidia-smi", script) }
        let driver = try LocalDriver(stateDirectory: dir + "/state", environment: ["PATH": dir + "/bin"])
        if let timeout { driver.nvidiaSmiTimeout = timeout }
        return driver.inventory([InventoryHost(name: "local", address: "127.0.0.1", gpus: declared)], observed: []).first
    }

    func printing(_ gpus: String, _ apps: String) -> String {
        """
        #!/bin/sh
        case "$1" in
          --query-gpu=*) /bin/cat '\(GPUInventoryTests.dir)/\(gpus)' ;;
          --query-compute-apps=*) /bin/cat '\(GPUInventoryTests.dir)/\(apps)' ;;
          *) exit 2 ;;
        esac
        """
    }

    @Test func gpusComeFromNvidiaSmiUnlessDeclared() throws {
        let idle = try #require(try inventory(smi: printing("query-gpu-idle.csv", "compute-apps-idle.csv")))
        #expect(idle.gpus == [0] && idle.taken == nil)
        let busy = try #require(try inventory(smi: printing("query-gpu-busy.csv", "compute-apps-busy.csv")))
        #expect(busy.gpus == [] && busy.taken == [0: "runs pid 438 (python3)"], "\(busy)")
        let declared = try #require(try inventory(smi: printing("query-gpu-busy.csv", "compute-apps-busy.csv"), declared: [0, 1]))
        #expect(declared.gpus == [0, 1] && declared.taken == nil, "a declared list is authoritative")
    }

    @Test func withoutAWorkingNvidiaSmiNothingIsCounted() throws {
        let none = try #require(try inventory(smi: nil))
        #expect(none.gpus == nil && none.unread == nil, "no nvidia-smi on PATH: a machine without GPUs")
        let noDriver = """
            #!/bin/sh
            echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running." >&2
            exit 9
            """
        let failed = try #require(try inventory(smi: noDriver))
        #expect(failed.gpus == nil && failed.unread == "nvidia-smi failed (exit 9): NVIDIA-SMI has failed because it couldn't "
                + "communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.", "\(failed)")
        // A GPU in a bad state can hang nvidia-smi: it is killed, and the GPUs count as unread.
        let hung = try #require(try inventory(smi: "#!/bin/sh\nexec /bin/sleep 60\n", timeout: 0.3))
        #expect(hung.gpus == nil && hung.unread == "nvidia-smi timed out after 0.3 s", "\(hung)")
        let empty = try #require(try inventory(smi: "#!/bin/sh\n[ \"$1\" = --format=csv,noheader,nounits ] || true\n"))
        #expect(empty.gpus == nil && empty.unread == "nvidia-smi listed no GPU", "\(empty)")
    }
}
