public import Testing
import Foundation

/// Compares `text` with the golden file `directory/name` beside the calling test file.
///
/// - With `RECORD_SNAPSHOTS=1` in the environment it writes the file and records an issue
///   ("recorded new baseline"), so a recording run never passes: review the diff, then run again.
/// - A missing golden file fails, saying how to record it.
public func expectSnapshot(_ text: String, named name: String, directory: String = "Golden",
                           filePath: String = #filePath, sourceLocation: SourceLocation = #_sourceLocation) {
    let dir = URL(fileURLWithPath: filePath).deletingLastPathComponent().appendingPathComponent(directory)
    let path = dir.appendingPathComponent(name).path
    if ProcessInfo.processInfo.environment["RECORD_SNAPSHOTS"] == "1" {
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            Issue.record("recorded new baseline \(directory)/\(name); review the diff and run again without RECORD_SNAPSHOTS",
                         sourceLocation: sourceLocation)
        } catch {
            Issue.record("cannot record \(path): \(error)", sourceLocation: sourceLocation)
        }
        return
    }
    guard let golden = try? String(contentsOfFile: path, encoding: .utf8) else {
        Issue.record("missing golden file \(directory)/\(name); record it with RECORD_SNAPSHOTS=1 swift test --filter ...",
                     sourceLocation: sourceLocation)
        return
    }
    #expect(text == golden, "output differs from \(directory)/\(name) (RECORD_SNAPSHOTS=1 re-records)",
            sourceLocation: sourceLocation)
}
