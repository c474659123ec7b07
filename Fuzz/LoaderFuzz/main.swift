// dsdeploy-fuzz-loader: libFuzzer target and corpus replayer for the YAML loader.
//
// Built with `-DFUZZING -sanitize=fuzzer,address -parse-as-library` (see scripts/fuzz.sh)
// this file defines `LLVMFuzzerTestOneInput` and the module's entry point, which hands over
// to libFuzzer's driver (SwiftPM links executables with `main` aliased to
// `dsdeploy_fuzz_loader_main`, so libFuzzer's own `main` is not used).
//
// Built normally it is a regression runner:
//   dsdeploy-fuzz-loader DIR_OR_FILE...          replay every file through the loader
//   dsdeploy-fuzz-loader --time N FILE           load FILE N times, print per-run ms (benchmarks)
// It exits non-zero if any input yields a diagnostic without a location, or a diagnostic or
// node located outside the input (YAMLLoader.fuzzEntry's checks).

import DeploySpec

#if FUZZING

/// libFuzzer entry point: one input; crashes when `fuzzEntry`'s location checks fail.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let buffer = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
    if YAMLLoader.fuzzEntry(buffer) < 0 {
        // Deliberate crash: this is the fuzzer's oracle for "every problem is located".
        preconditionFailure("missing or impossible location")
    }
    return 0
}

/// libFuzzer's driver: `int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*cb)(const uint8_t *, size_t))`.
@_silgen_name("LLVMFuzzerRunDriver")
private func llvmFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// The executable's entry point in fuzzing builds: runs libFuzzer with the command line.
@_cdecl("dsdeploy_fuzz_loader_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return llvmFuzzerRunDriver(&argc, &argv) { data, size in fuzzTestOneInput(data, size) }
}

#else

import Foundation

// A declaration, not a statement, so the file also parses under -parse-as-library; in a
// normal build main.swift runs it as top-level code.
private let exitStatus: Void = ReplayRunner.main(Array(CommandLine.arguments.dropFirst()))

/// The non-fuzzing modes of dsdeploy-fuzz-loader: corpus replay and load timing.
enum ReplayRunner {
    /// Dispatches the command line and exits the process with the mode's status.
    static func main(_ arguments: [String]) {
        if arguments.first == "--time" { exit(timing(Array(arguments.dropFirst()))) }
        if arguments.isEmpty || arguments.first == "--help" {
            print("usage: dsdeploy-fuzz-loader DIR_OR_FILE...  |  --time RUNS FILE")
            exit(arguments.isEmpty ? 2 : 0)
        }
        exit(replay(arguments))
    }

    /// Loads every regular file under each argument (files or directories, recursively).
    /// Returns 0 when every input was handled and every diagnostic was located, else 1.
    static func replay(_ paths: [String]) -> Int32 {
        var files = 0, failures = 0, bytes = 0
        let start = ContinuousClock.now
        for path in paths {
            for file in regularFiles(under: path) {
                guard let data = FileManager.default.contents(atPath: file) else {
                    print("cannot read \(file)")
                    failures += 1
                    continue
                }
                files += 1
                bytes += data.count
                let result = data.withUnsafeBytes { YAMLLoader.fuzzEntry($0) }
                if result < 0 {
                    print("FAIL \(file): missing or impossible location")
                    failures += 1
                }
            }
        }
        let elapsed = ContinuousClock.now - start
        print("replayed \(files) files (\(bytes) bytes) in \(milliseconds(elapsed)) ms, \(failures) failures")
        return failures == 0 && files > 0 ? 0 : 1
    }

    /// `--time RUNS FILE`: loads FILE RUNS times and prints each run and the median in ms
    /// (`parse_ms=` line for scripts). The file is read once, before timing.
    static func timing(_ args: [String]) -> Int32 {
        guard args.count == 2, let runs = Int(args[0]), runs > 0,
              let data = FileManager.default.contents(atPath: args[1]) else {
            print("usage: dsdeploy-fuzz-loader --time RUNS FILE")
            return 2
        }
        var loads: [Double] = [], frees: [Double] = []
        var checksum = 0
        for _ in 0..<runs {
            let r = data.withUnsafeBytes { YAMLLoader.benchmarkEntry($0) }
            checksum &+= r.count
            loads.append(milliseconds(r.load))
            frees.append(milliseconds(r.free))
        }
        loads.sort()
        frees.sort()
        print("runs=\(runs) min_ms=\(fmt(loads[0])) free_ms=\(fmt(frees[frees.count / 2])) results=\(checksum / runs)")
        print("parse_ms=\(fmt(loads[loads.count / 2]))")
        return 0
    }

    private static func regularFiles(under path: String) -> [String] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return [] }
        guard isDir.boolValue else { return [path] }
        var out: [String] = []
        if let walker = FileManager.default.enumerator(atPath: path) {
            for case let rel as String in walker {
                let full = (path as NSString).appendingPathComponent(rel)
                var sub: ObjCBool = false
                if FileManager.default.fileExists(atPath: full, isDirectory: &sub), !sub.boolValue {
                    out.append(full)
                }
            }
        }
        return out.sorted()
    }

    private static func milliseconds(_ d: Duration) -> Double {
        let c = d.components
        return Double(c.seconds) * 1000 + Double(c.attoseconds) / 1e15
    }

    private static func fmt(_ ms: Double) -> String {
        String(format: "%.2f", ms)
    }
}

#endif
