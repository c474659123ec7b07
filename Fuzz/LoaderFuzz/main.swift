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

// A declaration, not a statement, so the file also parses under -parse-as-library; in a
// normal build main.swift runs it as top-level code.
private let exitStatus: Void = ReplayRunner.main(Array(CommandLine.arguments.dropFirst()))

#endif
