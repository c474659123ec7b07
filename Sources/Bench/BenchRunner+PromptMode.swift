import CurlHTTP
import Foundation

extension BenchRunner {
    /// How `requests` go to the server, and the requests to send (token ids fitted into the server's
    /// vocabulary when it reports one).
    ///
    /// Text unless the API takes token ids (`sglang`, `openai`) and the workload has them (random).
    /// Then: the vocabulary size from `/v1/models` (llama.cpp's `meta.n_vocab`) folds the ids into it
    /// (`RandomDataset.fit`), and one probe request (the first prompt, 1 output token, not counted)
    /// goes as ids. Token ids unless the server answered that probe with an error and takes the same
    /// prompt as text: then text, with the ids probe's error as the reason. A probe that gets no
    /// answer (endpoint down) keeps token ids, so the warm-up or the run reports the real problem.
    func promptMode(for requests: [BenchRequest]) async -> (PromptMode, [BenchRequest]) {
        guard config.backend.takesTokenIDs, let first = requests.first, !first.tokenIDs.isEmpty else {
            return (.text(refused: nil), requests)
        }
        var fitted = requests
        if let size = fetchVocabularySize() { fitted = requests.map { RandomDataset.fit($0, vocabularySize: size) } }
        var probe = fitted[0]
        probe.outputLength = 1
        let byIDs = await send(probe, tokenIDs: true, workload: false)
        guard !byIDs.success, byIDs.status != 0 else { return (.tokenIDs, fitted) }
        let byText = await send(probe, tokenIDs: false, workload: false)
        guard byText.success else { return (.tokenIDs, fitted) }
        return (.text(refused: byIDs.error), fitted)
    }

    /// The smallest `data[].meta.n_vocab` of `/v1/models` (llama.cpp's server reports it; SGLang and
    /// vLLM do not), or nil.
    func fetchVocabularySize() -> Int? {
        guard let r = try? HTTPClient().get(config.baseURL + "/v1/models", timeout: 10), r.status == 200,
              let obj = (try? JSONSerialization.jsonObject(with: Data(r.body))) as? [String: Any],
              let models = obj["data"] as? [[String: Any]] else { return nil }
        let sizes = models.compactMap { (($0["meta"] as? [String: Any])?["n_vocab"] as? NSNumber)?.intValue }
        return sizes.filter { $0 > 0 }.min()
    }
}
