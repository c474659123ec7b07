import DeployCore
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct HugePageHeapTests {
    /// The `VmFlags` of the mapping of this process that holds `address` (`/proc/self/smaps`).
    static func vmFlags(containing address: UInt) throws -> [Substring] {
        // Read to the end: a /proc file reports size 0, which a whole-file read takes at its word.
        let data = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/self/smaps")).readToEnd() ?? Data()
        let smaps = String(decoding: data, as: UTF8.self)
        var inside = false
        for line in smaps.split(separator: "\n") {
            if let dash = line.firstIndex(of: "-"), let space = line.firstIndex(of: " "), dash < space,
               let lo = UInt(line[..<dash], radix: 16), let hi = UInt(line[line.index(after: dash)..<space], radix: 16) {
                inside = lo <= address && address < hi
            } else if inside, line.hasPrefix("VmFlags:") {
                return line.dropFirst("VmFlags:".count).split(separator: " ")
            }
        }
        throw Failure(description: "no mapping holds 0x\(String(address, radix: 16))")
    }

    struct Failure: Error, CustomStringConvertible { let description: String }

    /// The heap a large manifest is about to use is marked for huge pages (`hg`), and an allocation
    /// made afterwards on the same thread lands there.
    @Test func theHeapAheadIsMarkedForHugePages() throws {
        // A kernel built without transparent huge pages has no such file and refuses the advice.
        let offered = FileManager.default.fileExists(atPath: "/sys/kernel/mm/transparent_hugepage/enabled")
        HugePageHeap.expect(bytes: 64 << 20, threads: 1)
        let block = malloc(16 << 20)!
        defer { free(block) }
        let flags = try Self.vmFlags(containing: UInt(bitPattern: block) + (8 << 20))
        // The advice is recorded on the mapping (`hg`) whatever the system-wide mode; `madvise` and
        // `always` then fault it in 2 MiB pages.
        #expect(flags.contains("hg") == offered, "VmFlags \(flags)")
    }
}
