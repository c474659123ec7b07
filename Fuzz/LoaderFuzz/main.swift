// dsdeploy-fuzz-loader: libFuzzer target and corpus replayer for the YAML loader.
//
// Built with `-DFUZZING -sanitize=fuzzer,address -parse-as-library` (see scripts/fuzz.sh)
// this file only defines `LLVMFuzzerTestOneInput`; libFuzzer supplies `main`.
//
// Built normally it is a regression runner:
//   dsdeploy-fuzz-loader DIR_OR_FILE...          replay every file through the loader
//   dsdeploy-fuzz-loader --time N FILE           load FILE N times, print per-run ms (benchmarks)
// It exits non-zero if any input yields a diagnostic without a location.

import DeploySpec

#if FUZZING

/// libFuzzer entry point: one input, no result, crash on an unlocated diagnostic.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let buffer = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
    if YAMLLoader.fuzzEntry(buffer) < 0 {
        // Deliberate crash: this is the fuzzer's oracle for "every problem is located".
        preconditionFailure("diagnostic without a location")
    }
    return 0
}

#else

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "--time" {
    exit(ReplayRunner.timing(Array(arguments.dropFirst())))
}
if arguments.isEmpty || arguments.first == "--help" {
    print("usage: dsdeploy-fuzz-loader DIR_OR_FILE...  |  --time RUNS FILE")
    exit(arguments.isEmpty ? 2 : 0)
}
exit(ReplayRunner.replay(arguments))

#endif
