import DeploySpec
import Foundation

/// Manifest files in the working tree.
struct DiskFileSource: ManifestFileSource {
    /// Reads a file from disk.
    /// Reads straight into the array (`FileManager.contents` read into `Data`, then copied: two
    /// copies of a large manifest and twice its page faults). Pipes and `/dev/stdin` read to the end.
    func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) != S_IFDIR else { return nil }
        var bytes: [UInt8] = []
        // A regular file's size, plus one byte to see the end in the same loop; 64 KiB steps otherwise.
        var step = (info.st_mode & S_IFMT) == S_IFREG ? Int(info.st_size) + 1 : 1 << 16
        while true {
            var failed = false
            let chunk = [UInt8](unsafeUninitializedCapacity: step) { buffer, count in
                var n: Int
                repeat { n = Foundation.read(fd, buffer.baseAddress!, step) } while n < 0 && errno == EINTR
                failed = n < 0
                count = max(0, n)
            }
            if failed { return nil }
            if chunk.isEmpty { return bytes }
            if bytes.isEmpty { bytes = chunk } else { bytes += chunk }
            step = 1 << 16
        }
    }

    func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Lists `*.yaml`/`*.yml` in a directory, sorted.
    func yamlFiles(in directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
            .map { (directory as NSString).appendingPathComponent($0) }
    }
}
