import DeploySpec
import Foundation

/// Reads manifest files as they were at a git revision (`git show REV:./path`), without a shell.
struct GitFileSource: ManifestFileSource {
    let revision: String

    func read(_ path: String) -> [UInt8]? {
        let rel = "./" + ManifestPath.normalize(path)
        let (status, out) = Git.run(["show", "\(revision):\(rel)"])
        return status == 0 ? out : nil
    }

    func isDirectory(_ path: String) -> Bool {
        let (status, out) = Git.run(["cat-file", "-t", "\(revision):./" + ManifestPath.normalize(path)])
        return status == 0 && String(decoding: out, as: UTF8.self).hasPrefix("tree")
    }

    func yamlFiles(in directory: String) -> [String] {
        let dir = ManifestPath.normalize(directory)
        let (status, out) = Git.run(["ls-tree", "--name-only", revision, "--", dir + "/"])
        guard status == 0 else { return [] }
        return String(decoding: out, as: UTF8.self).split(separator: "\n").map(String.init)
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
    }
}

/// Runs git with an argv array and captures stdout.
enum Git {
    static func run(_ args: [String]) -> (Int32, [UInt8]) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git"] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return (127, []) }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, [UInt8](data))
    }

    /// True when `rev` names a commit.
    static func verify(_ rev: String) -> Bool {
        run(["rev-parse", "--verify", "--quiet", rev + "^{commit}"]).0 == 0
    }
}
