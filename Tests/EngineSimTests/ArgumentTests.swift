import Engines
import Testing
@testable import EngineSim

@Suite struct ArgumentTests {
    func parse(_ argv: [String]) throws -> SimArgumentOutcome {
        SimArguments.parse(argv, catalog: try SimTest.catalog())
    }

    func usageError(_ argv: [String]) throws -> String? {
        if case .usageError(let m) = try parse(argv) { return m }
        return nil
    }

    @Test func unknownFlagsAreRejectedLikeArgparse() throws {
        #expect(try usageError(["--model-path", "m", "--foo"]) == "unrecognized arguments: --foo")
        #expect(try usageError(["--model-path", "m", "--foo", "1", "--bar=2"]) == "unrecognized arguments: --foo 1 --bar=2")
        #expect(try usageError(["stray", "--model-path", "m"]) == "unrecognized arguments: stray")
        #expect(try usageError(["--model-path", "m", "--trust-remote-code", "yes"]) == "unrecognized arguments: yes")
    }

    @Test func valueErrors() throws {
        #expect(try usageError(["--model-path", "m", "--tp-size", "x"]) == "argument --tp-size: invalid int value: 'x'")
        #expect(try usageError(["--model-path", "m", "--tp-size"]) == "argument --tp-size: expected one argument")
        #expect(try usageError(["--model-path", "m", "--attention-backend", "nope"])?
            .hasPrefix("argument --attention-backend: invalid choice: 'nope' (choose from ") == true)
        #expect(try usageError(["--tp-size", "2"]) == "the following arguments are required: --model-path/--model")
        #expect(try usageError(["--model-path", "m", "--port", "70000"])?.contains("--port") == true)
    }

    @Test func helpAndAliases() throws {
        guard case .help(let text) = try parse(["--help"]) else {
            Issue.record("expected help")
            return
        }
        #expect(text.contains("--tp-size"))
        guard case .launch(let l, _) = try parse(["--model", "m", "--tensor-parallel-size", "4", "--tp-size", "8"]) else {
            Issue.record("expected a launch")
            return
        }
        #expect(l.modelPath == "m")
        #expect(l.serverArgs["tp_size"] == .number(8))  // repeated flag: last wins, like argparse
    }

    @Test func serverArgsAreDefaultsOverlaidWithFlags() throws {
        let catalog = try SimTest.catalog()
        guard case .launch(let l, _) = try parse(["--model-path", "org/m", "--tp-size", "8", "--port", "30001",
                                                  "--trust-remote-code", "--mem-fraction-static", "0.85"]) else {
            Issue.record("expected a launch")
            return
        }
        #expect(l.port == 30001 && l.host == "127.0.0.1")
        #expect(l.serverArgs["tp_size"] == .number(8))
        #expect(l.serverArgs["trust_remote_code"] == .bool(true))
        #expect(l.serverArgs["mem_fraction_static"] == .number(0.85))
        #expect(l.serverArgs["served_model_name"] == .string("org/m"))
        #expect(l.serverArgs["tokenizer_path"] == .string("org/m"))
        // Every catalog field is present; untouched ones carry the catalog default.
        for spec in catalog.flags {
            #expect(l.serverArgs[spec.field] != nil, "missing \(spec.field)")
        }
        if let spec = catalog.flags.first(where: { $0.name == "--asr-max-concurrent-sessions" }) {
            #expect(l.serverArgs[spec.field] == spec.defaultValue)
        }
    }
}
