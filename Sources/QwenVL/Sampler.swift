import Foundation

/// A small seeded random generator (xoshiro256**), kept in per-request state.
public struct SamplerRNG: Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    /// Seeds the four words with SplitMix64.
    public init(seed: UInt64) {
        var x = seed
        func next() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (next(), next(), next(), next())
    }

    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = (s.3 << 45) | (s.3 >> 19)
        return result
    }

    /// Uniform in [0, 1).
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}

/// Chooses the next token from logits with transformers' logits-processor semantics (spec §8).
public enum Sampler {
    /// Repetition penalty: every distinct id in `history` has its logit divided (positive) or multiplied
    /// (negative) by `penalty`.
    public static func applyRepetitionPenalty(_ logits: inout [Float], history: [Int32], penalty: Float) {
        guard penalty != 1 else { return }
        var seen = Set<Int32>()
        for id in history where seen.insert(id).inserted && Int(id) < logits.count && id >= 0 {
            let l = logits[Int(id)]
            logits[Int(id)] = l < 0 ? l * penalty : l / penalty
        }
    }

    /// Index of the first maximum (torch.argmax's tie rule).
    public static func argmax(_ logits: [Float]) -> Int32 {
        var best = 0
        var value = -Float.infinity
        for (i, l) in logits.enumerated() where l > value { value = l; best = i }
        return Int32(best)
    }

    /// The next token: greedy, or a draw from ``distribution(_:history:parameters:)``.
    public static func next(_ logits: [Float], history: [Int32], parameters p: GenerationParameters, rng: inout SamplerRNG) -> Int32 {
        if p.isGreedy {
            var penalized = logits
            applyRepetitionPenalty(&penalized, history: history, penalty: p.repetitionPenalty)
            return argmax(penalized)
        }
        let candidates = distribution(logits, history: history, parameters: p)
        let u = Float(rng.nextUnit())
        var cumulative: Float = 0
        for (id, prob) in candidates {
            cumulative += prob
            if u < cumulative { return id }
        }
        return candidates.last!.id
    }

    /// The sampling distribution after repetition penalty → temperature → top-k → top-p → min-p (the order of
    /// transformers' logits processors): the surviving ids, ascending by logit, with their probabilities.
    public static func distribution(_ rawLogits: [Float], history: [Int32], parameters p: GenerationParameters) -> [(id: Int32, prob: Float)] {
        var logits = rawLogits
        applyRepetitionPenalty(&logits, history: history, penalty: p.repetitionPenalty)
        // HF divides by the float32 temperature (multiplying by 1/T would round differently).
        let temperature = p.temperature > 0 ? p.temperature : 1
        var candidates: [(id: Int32, logit: Float)]
        if p.topK > 0 && p.topK < logits.count {
            // Keep every logit ≥ the k-th largest (HF removes only `scores < topk[-1]`, so ties survive).
            let kth = kthLargest(logits, p.topK)
            candidates = []
            for (i, l) in logits.enumerated() where l >= kth { candidates.append((Int32(i), l / temperature)) }
        } else {
            candidates = logits.enumerated().map { (Int32($0.offset), $0.element / temperature) }
        }
        candidates.removeAll { $0.logit == -.infinity }
        candidates.sort { $0.logit < $1.logit }                                // ascending, as HF sorts
        if p.topP < 1 {
            // Remove the low tail whose cumulative probability is ≤ 1 − top_p; the top token always stays.
            let probs = softmax(candidates.map(\.logit))
            var cumulative: Float = 0
            var firstKept = candidates.count - 1
            for (i, prob) in probs.enumerated() {
                cumulative += prob
                if cumulative > 1 - p.topP { firstKept = min(i, candidates.count - 1); break }
            }
            candidates.removeFirst(firstKept)
        }
        if p.minP > 0 {
            let probs = softmax(candidates.map(\.logit))
            let threshold = (probs.max() ?? 0) * p.minP
            let kept = zip(candidates, probs).filter { $0.1 >= threshold }.map(\.0)
            if !kept.isEmpty { candidates = kept }
        }
        let probs = softmax(candidates.map(\.logit))
        return zip(candidates, probs).map { ($0.id, $1) }
    }

    static func softmax(_ x: [Float]) -> [Float] {
        let m = x.max() ?? 0
        let e = x.map { expf($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    /// The k-th largest value (k ≥ 1) in one pass with a small sorted buffer.
    static func kthLargest(_ x: [Float], _ k: Int) -> Float {
        if k > 256 { return x.sorted(by: >)[k - 1] }
        var top: [Float] = []
        top.reserveCapacity(k + 1)
        for v in x {
            if top.count < k {
                let i = top.firstIndex { $0 < v } ?? top.count
                top.insert(v, at: i)
            } else if v > top[k - 1] {
                let i = top.firstIndex { $0 < v } ?? top.count
                top.insert(v, at: i)
                top.removeLast()
            }
        }
        return top[k - 1]
    }
}
