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

    /// The heap a large manifest is about to use is marked for huge pages (`hg`) and stays mapped
    /// once the block that reserved it is freed, so the allocations that follow are carved from it.
    /// (Which block a later `malloc` returns is glibc's choice, and other tests' threads share arenas:
    /// the marked range itself is checked.)
    @Test func theHeapAheadIsMarkedForHugePages() throws {
        // A kernel built without transparent huge pages has no such file and refuses the advice.
        let offered = FileManager.default.fileExists(atPath: "/sys/kernel/mm/transparent_hugepage/enabled")
        let marked = HugePageHeap.expect(bytes: 64 << 20, threads: 1)
        guard offered else {
            #expect(marked == nil)
            return
        }
        let range = try #require(marked)
        // 32 MiB on a thread other than the main one, of which the 2 MiB-aligned inside is marked.
        #expect(range.count >= 30 << 20, "\(range)")
        for address in [range.lowerBound, range.lowerBound + UInt(range.count / 2), range.upperBound - 1] {
            let flags = try Self.vmFlags(containing: address)
            #expect(flags.contains("hg"), "VmFlags at 0x\(String(address, radix: 16)): \(flags)")
        }
    }

    /// Small manifests are left alone: nothing is marked below 8 MiB of expected heap.
    @Test func smallManifestsAreLeftAlone() {
        #expect(HugePageHeap.expect(bytes: 4 << 20, threads: 1) == nil)
    }
}
