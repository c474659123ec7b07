import DeployKit
@testable import DeployTargets
import Engines
import Testing

/// `/props` as llama-server (b6000) answers it: per-slot context, slot count, model path and the
/// default sampling parameters (float32 values widened to double).
let sampleProps = #"""
{
  "default_generation_settings": {
    "id": 0, "id_task": -1, "n_ctx": 4096, "speculative": false, "is_processing": false,
    "params": {
      "n_predict": -1, "seed": 4294967295, "temperature": 0.699999988079071, "dynatemp_range": 0.0,
      "top_k": 40, "top_p": 0.949999988079071, "min_p": 0.05000000074505806, "typical_p": 1.0,
      "repeat_last_n": 64, "repeat_penalty": 1.0, "presence_penalty": 0.0, "frequency_penalty": 0.0,
      "mirostat": 0, "n_keep": 0, "ignore_eos": false, "stream": true
    },
    "prompt": "", "next_token": {"has_next_token": true}
  },
  "total_slots": 4,
  "model_alias": "qwen-small",
  "model_path": "/models/qwen2.5-0.5b-instruct-q4_k_m.gguf",
  "modalities": {"vision": false, "audio": false},
  "chat_template": "{{ bos_token }}",
  "bos_token": "<|endoftext|>",
  "eos_token": "<|im_end|>",
  "build_info": "b6000-deadbeef"
}
"""#

@Suite struct LlamaCppReadbackTests {
    let catalog: FlagCatalog
    let props: JSONValue

    init() throws {
        catalog = try CatalogStore.catalog(.llamaCpp, version: "b5904")
        props = try #require(ConfigReadback.parseJSON(Array(sampleProps.utf8)))
    }

    @Test func matchingFlagsHaveNoDrift() {
        let flags = FlagSet(["--ctx-size": .int(16_384), "--parallel": .int(4), "--alias": .string("qwen-small"),
                             "--model": .string("/models/qwen2.5-0.5b-instruct-q4_k_m.gguf"), "--temp": .float(0.7),
                             "--top-p": .float(0.95), "--top-k": .int(40), "--n-gpu-layers": .int(99)])
        #expect(ConfigReadback.compareLlamaCpp(flags: flags, catalog: catalog, props: props).isEmpty)
        #expect(ConfigReadback.compare(engine: .llamaCpp, version: "b6000", flags: flags, reported: props).isEmpty)
    }

    @Test func aUnifiedContextMatchesToo() {
        let flags = FlagSet(["--ctx-size": .int(4096), "--parallel": .int(4)])
        #expect(ConfigReadback.compareLlamaCpp(flags: flags, catalog: catalog, props: props).isEmpty)
    }

    @Test func differencesAreDrift() {
        // 2048 over the 4 slots the engine reports is 512 per slot; it reports 4096: drift.
        // (A smaller multiple of 256 than intended is accepted: the model's trained context caps it.)
        let flags = FlagSet(["--ctx-size": .int(2_048), "--parallel": .int(2), "--alias": .string("other"),
                             "--temp": .float(0.2)])
        let drift = ConfigReadback.compareLlamaCpp(flags: flags, catalog: catalog, props: props)
        #expect(drift.map(\.flag) == ["--alias", "--ctx-size", "--parallel", "--temp"])
        #expect(drift.first { $0.flag == "--parallel" }?.after == "4")
        #expect(drift.first { $0.flag == "--ctx-size" }?.before == "2048")
    }

    @Test func contextFromTheModelIsNotCompared() {
        let flags = FlagSet(["--ctx-size": .int(0)])
        #expect(ConfigReadback.compareLlamaCpp(flags: flags, catalog: catalog, props: props).isEmpty)
    }

    @Test func aliasSpellingsResolveToTheCanonicalFlag() {
        let flags = FlagSet(["-np": .int(8)])
        #expect(ConfigReadback.compareLlamaCpp(flags: flags, catalog: catalog, props: props).map(\.flag) == ["-np"])
    }

    @Test func olderBuildsWithoutAliasAreNotDrift() {
        var trimmed = props
        if case .object(var o) = props {
            o["model_alias"] = nil
            trimmed = .object(o)
        }
        let flags = FlagSet(["--alias": .string("anything")])
        #expect(ConfigReadback.compareLlamaCpp(flags: flags, catalog: catalog, props: trimmed).isEmpty)
    }
}
