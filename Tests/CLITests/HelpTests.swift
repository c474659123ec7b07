import Foundation
import Testing

/// Every command's definition is valid: ArgumentParser checks option names (e.g. two options both
/// claiming `-f`) only when the command is parsed, so each one is asked for its help.
@Suite struct HelpTests {
    let cli = CLITests()

    /// Subcommand names listed under "SUBCOMMANDS:" in `help`'s output.
    func subcommands(of path: [String]) throws -> [String] {
        let r = try cli.run(path + ["--help"])
        #expect(r.status == 0, "\(path) --help: \(r.out)\(r.err)")
        guard let start = r.out.range(of: "SUBCOMMANDS:") else { return [] }
        // Entries are indented by two spaces; wrapped descriptions by more; the closing hint starts with "See".
        return r.out[start.upperBound...].split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("  "), let first = line.dropFirst(2).first, first.isLowercase else { return nil }
            return line.dropFirst(2).split(separator: " ").first.map(String.init)
        }.filter { $0 != "help" }
    }

    @Test func everyCommandParses() throws {
        let top = try subcommands(of: [])
        #expect(top.contains("apply") && top.contains("logs") && top.contains("bench"), "\(top)")
        var checked = 0
        for name in top {
            for sub in try subcommands(of: [name]) {
                let r = try cli.run([name, sub, "--help"])
                #expect(r.status == 0, "\(name) \(sub) --help: \(r.out)\(r.err)")
                #expect(!r.out.contains("Validation failed") && !r.err.contains("Validation failed"), "\(name) \(sub)")
                checked += 1
            }
            let r = try cli.run([name, "--help"])
            #expect(!r.out.contains("Validation failed") && !r.err.contains("Validation failed"), "\(name): \(r.out)\(r.err)")
            checked += 1
        }
        #expect(checked >= 12)
    }
}
