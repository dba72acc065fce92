import Foundation
import QwenVL
import QwenVLCore

extension BenchCommand {
    /// Aggregate decode rate of `sequences` sequences advanced together by ``LanguageModel/forwardStep(tokens:positions:caches:)``
    /// (one weight pass per step for all), each continuing the same prefilled prompt, against one alone.
    func benchBatch(_ lm: LanguageModel, prompt: [Int32], sequences n: Int, singleRate: Double, into result: inout [String: Any]) {
        var cache = lm.makeCache()
        let hidden = lm.forward(embeddings: lm.embed(prompt), positions: PositionIDs(text: 0, count: prompt.count), cache: &cache)
        let first = Sampler.argmax(lm.logits(hidden))
        var times: [Double] = []
        var stepTimes: [Double] = []
        for _ in 0..<repeats {
            var caches = [KVCache](repeating: cache, count: n)
            // Different first tokens, so the sequences diverge as real requests do.
            var tokens = (0..<n).map { Int32((Int(first) + 977 * $0) % 150_000) }
            let t0 = Date()
            for step in 0..<genTokens {
                let s0 = Date()
                let h = lm.forwardStep(tokens: tokens, positions: Array(repeating: prompt.count + step, count: n), caches: &caches)
                let logits = lm.logitsRows(h, count: n)
                let vocab = lm.config.vocabSize
                tokens = (0..<n).map { Sampler.argmax(Array(logits[($0 * vocab)..<(($0 + 1) * vocab)])) }
                stepTimes.append(Date().timeIntervalSince(s0))
            }
            times.append(Date().timeIntervalSince(t0))
        }
        let seconds = median(times)
        let rate = Double(n * genTokens) / seconds
        let sorted = stepTimes.sorted()
        let p50 = sorted[sorted.count / 2], p99 = sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))]
        result["batch_sequences"] = n
        result["batch_decode_tokens_per_s"] = rate
        result["batch_speedup"] = rate / singleRate
        result["batch_step_p50_ms"] = p50 * 1e3
        result["batch_step_p99_ms"] = p99 * 1e3
        if !json {
            say(String(format: "decode %d sequences × %d tokens together: %.2f tok/s aggregate (%.2f× one sequence), step p50 %.1f ms, p99 %.1f ms",
                       n, genTokens, rate, rate / singleRate, p50 * 1e3, p99 * 1e3))
        }
    }
}
