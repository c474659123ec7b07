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
