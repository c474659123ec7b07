import Foundation
import Testing
@testable import DeployCore

@Test func suggestFindsTypos() {
    #expect(Suggest.closest(to: "--tp-szie", in: ["--tp-size", "--pp-size", "--ep-size"]) == "--tp-size")
    #expect(Suggest.closest(to: "--zzzzzz", in: ["--tp-size"]) == nil)
    #expect(Suggest.distance("abc", "acb") == 1)
}

@Test func secretNeverPrints() {
    let s = Secret("hunter2")
    #expect("\(s)" == "***")
    #expect(String(reflecting: s) == "Secret(***)")
    #expect(s.reveal() == "hunter2")
}

/// Locations hold an interned file id: the same path is one id, the name comes back, JSON keeps
/// `file`/`line`/`column`, and order is by path, then line and column.
@Test func sourceLocationsInternTheirFile() throws {
    let a = SourceLocation(file: "m/b.yaml", line: 3, column: 7)
    let b = SourceLocation(file: String(decoding: Array("m/b.yaml".utf8), as: UTF8.self), line: 3, column: 7)
    #expect(a.fileID == b.fileID && a == b && a.hashValue == b.hashValue)
    #expect(a.file == "m/b.yaml")
    var moved = a
    moved.file = "a.yaml"
    #expect(moved.file == "a.yaml" && moved.line == 3 && moved != a)
    #expect(moved < a)  // "a.yaml" sorts before "m/b.yaml" whichever was interned first
    #expect(a < a.advanced(by: 1))
    let json = try JSONEncoder().encode(a)
    #expect(String(decoding: json, as: UTF8.self).contains("\"file\":\"m\\/b.yaml\""))
    #expect(try JSONDecoder().decode(SourceLocation.self, from: json) == a)
}
