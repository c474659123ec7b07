import Engines
import Testing

/// Version resolution (docs/engines.md, "Version resolution"), as a pure function of the surveyed list,
/// and reading the engine version from image tags.
@Suite struct VersionResolutionTests {
    static let sglang = ["0.5.5.post3", "0.5.6.post2", "0.5.7", "0.5.10.post1", "0.5.19", "0.5.21", "0.5.23"]
    static let vllm = ["0.11.0", "0.12.0", "0.18.1", "0.19.1", "0.20.2", "0.34.0"]
    static let llama = ["b5002", "b6303", "b6341", "b7000"]

    func r(_ v: String, _ e: EngineKind, _ known: [String]) -> (String, VersionResolution.Match)? {
        VersionResolution.resolve(v, engine: e, known: known).map { ($0.catalogVersion, $0.match) }
    }

    @Test func exactAndNumericallyEqual() {
        #expect(r("0.5.21", .sglang, Self.sglang)! == ("0.5.21", .exact))
        #expect(r("v0.5.21", .sglang, Self.sglang)! == ("0.5.21", .exact))
        #expect(r("0.34", .vllm, Self.vllm)! == ("0.34.0", .exact))
        #expect(r("b6341", .llamaCpp, Self.llama)! == ("b6341", .exact))
    }

    @Test func sameReleaseIsANote() {
        // the examples: post suffix, a missing post suffix, and a vLLM patch release
        #expect(r("0.5.21.post1", .sglang, Self.sglang)! == ("0.5.21", .sameRelease))
        #expect(r("0.5.6", .sglang, Self.sglang)! == ("0.5.6.post2", .sameRelease))
        #expect(r("0.5.10", .sglang, Self.sglang)! == ("0.5.10.post1", .sameRelease))
        #expect(r("0.19.0", .vllm, Self.vllm)! == ("0.19.1", .sameRelease))
        #expect(r("0.19.2", .vllm, Self.vllm)! == ("0.19.1", .olderSurveyed), "a later patch may add flags")
        #expect(r("0.11.2", .vllm, Self.vllm)! == ("0.11.0", .olderSurveyed), "0.11.2 has ~19 flags 0.11.0 lacks")
        #expect(r("0.5.22.dev3", .sglang, ["0.5.21", "0.5.22"])! == ("0.5.22", .sameRelease))
        #expect(r("0.34.0+cu129", .vllm, Self.vllm)! == ("0.34.0", .exact))
        #expect(VersionResolution.resolve("0.5.21.post1", engine: .sglang, known: Self.sglang)?.isApproximate == false)
    }

    @Test func betweenNewerOlderAreWarnings() {
        #expect(r("0.5.20", .sglang, Self.sglang)! == ("0.5.19", .olderSurveyed))
        #expect(r("0.5.8", .sglang, Self.sglang)! == ("0.5.7", .olderSurveyed))
        #expect(r("0.15.1", .vllm, Self.vllm)! == ("0.12.0", .olderSurveyed))
        #expect(r("b6340", .llamaCpp, Self.llama)! == ("b6303", .olderSurveyed))
        #expect(r("0.5.30", .sglang, Self.sglang)! == ("0.5.23", .newest))
        #expect(r("0.40.0", .vllm, Self.vllm)! == ("0.34.0", .newest))
        #expect(r("b10587", .llamaCpp, Self.llama)! == ("b7000", .newest))
        #expect(r("0.4.2.post4", .sglang, Self.sglang)! == ("0.5.5.post3", .oldest))
        #expect(r("0.6.3.post1", .vllm, Self.vllm)! == ("0.11.0", .oldest))
        #expect(r("b3097", .llamaCpp, Self.llama)! == ("b5002", .oldest))
        #expect(VersionResolution.resolve("0.5.20", engine: .sglang, known: Self.sglang)?.isApproximate == true)
        #expect(VersionResolution.resolve("0.5.20", engine: .sglang, known: Self.sglang)?.explanation?
            .contains("nearest older one, 0.5.19") == true)
    }

    @Test func notAVersion() {
        for bad in ["latest", "0.5.2x", "", "server", "v", "0..5", "0.5.post1.3"] {
            #expect(r(bad, .sglang, Self.sglang) == nil, "\(bad)")
        }
        #expect(VersionResolution.isWellFormed("0.6.0rc1"))
        #expect(VersionResolution.isWellFormed("0.5.10.post1"))
        #expect(VersionResolution.isWellFormed("b6341"))
    }

    @Test func versionOrder() {
        let ordered = ["0.5.9", "0.5.10", "0.5.10.post1", "0.6.0rc1", "0.6.0", "0.6.0.post1"].map(EngineVersion.init)
        for (a, b) in zip(ordered, ordered.dropFirst()) { #expect(a < b, "\(a) < \(b)") }
        #expect(EngineVersion("b5999") < EngineVersion("b6000"))
        #expect(EngineVersion("v0.19.0") == EngineVersion("0.19.0"))
    }

    @Test func imageTags() {
        let cases: [(String, EngineKind, String?)] = [
            ("lmsysorg/sglang:v0.5.21.post1-cu129", .sglang, "0.5.21.post1"),
            ("lmsysorg/sglang:v0.5.0rc1-cu126", .sglang, "0.5.0rc1"),
            ("lmsysorg/sglang:latest", .sglang, nil),
            ("lmsysorg/sglang", .sglang, nil),
            ("vllm/vllm-openai:v0.19.0", .vllm, "0.19.0"),
            ("registry.local:5000/vllm/vllm-openai:v0.19.0@sha256:abcd", .vllm, "0.19.0"),
            ("registry.local:5000/vllm/vllm-openai", .vllm, nil),
            ("vllm/vllm-openai:nightly", .vllm, nil),
            ("ghcr.io/ggml-org/llama.cpp:server-b6341", .llamaCpp, "b6341"),
            ("ghcr.io/ggml-org/llama.cpp:server-cuda-b6341", .llamaCpp, "b6341"),
            ("ghcr.io/ggml-org/llama.cpp:full-b5002", .llamaCpp, "b5002"),
            ("ghcr.io/ggml-org/llama.cpp:server", .llamaCpp, nil),
            ("ghcr.io/ggml-org/llama.cpp:server-cuda", .llamaCpp, nil),
        ]
        for (image, engine, want) in cases {
            #expect(ImageTag.engineVersion(image: image, engine: engine) == want, "\(image)")
        }
    }
}
