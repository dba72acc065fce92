import Foundation
import QwenVLCore

/// Prompt chunks of several sequences through the decoder in one pass (continuous batching: requests that join
/// together are prefilled together, every weight matrix read — and widened to float32 — once for all of them).
///
/// Each sequence contributes exactly the chunk a lone prefill runs (``LanguageModel/prefillChunk`` rows of its
/// prompt), its keys and values go to its own cache and its attention covers only its own tokens, with the call a
/// lone chunk makes. The matrix products decode each tile of weights once and run every chunk's own sgemm on it
/// (``WeightMatrix/applyGroups(_:counts:into:bias:accumulate:)``: sgemm's rows depend on how many rows it is
/// given, so one sgemm over all chunks would not do), and the norms, RoPE and activations are row by row; so each
/// sequence's cache, hidden states and logits have the bits of its lone prefill (asserted in
/// ContinuousBatchingTests).
extension LanguageModel {

    /// Runs chunk s (`counts[s]` rows of `embeddings`, in order: [Σ counts, H], with their M-RoPE `positions`)
    /// into `caches[s]` and returns each chunk's last row after the final norm: [S, H].
    public func forward(chunks embeddings: [Float], counts: [Int], positions: PositionIDs, caches: inout [KVCache]) -> [Float] {
        let h = config.hiddenSize, total = counts.reduce(0, +)
        precondition(counts.count == caches.count && positions.count == total && embeddings.count == total * h,
                     "forward(chunks:): counts, positions, caches and embeddings disagree")
        var offsets: [Int] = [], offset = 0
        for c in counts { offsets.append(offset); offset += c }
        var x = embeddings                                                        // [total, H]
        let (cos, sin) = rope.cosSin(positions)                                   // [total, hd/2] each
        for l in layers.indices { chunksLayer(l, &x, counts: counts, offsets: offsets, cos: cos, sin: sin, caches: &caches) }
        for s in caches.indices { caches[s].advance(by: counts[s]) }
        if total >= 64 { HeapTuning.releaseFreeMemory() }
        var last = [Float](repeating: 0, count: counts.count * h)                 // [S, H]
        for s in counts.indices {
            let row = (offsets[s] + counts[s] - 1) * h
            last.replaceSubrange((s * h)..<((s + 1) * h), with: x[row..<(row + h)])
        }
        last.withUnsafeMutableBufferPointer { p in
            norm.withUnsafeBufferPointer { Normalization.rmsNorm(p.baseAddress!, rows: counts.count, dim: h, weight: $0.baseAddress!, eps: config.rmsNormEps) }
        }
        return last
    }

    /// One decoder layer over `x: [total, H]` (chunk s at rows `offsets[s]..<offsets[s] + counts[s]`) in place, as
    /// the one-sequence layer computes each chunk.
    private func chunksLayer(_ index: Int, _ x: inout [Float], counts: [Int], offsets: [Int], cos: [Float], sin: [Float],
                             caches: inout [KVCache]) {
        let L = layers[index]
        let h = config.hiddenSize, heads = config.headCount, kvHeads = config.kvHeadCount, hd = config.headDim
        let inter = config.intermediateSize, eps = config.rmsNormEps, kvWidth = kvHeads * hd, qWidth = heads * hd
        let n = counts.reduce(0, +)
        var y = x                                                     // [total, H]
        y.withUnsafeMutableBufferPointer { p in
            Normalization.rmsNorm(p.baseAddress!, rows: n, dim: h, weight: L.inputNorm, eps: eps)
        }
        var q = L.q.applyGroups(y, counts: counts, bias: L.qBias)     // [total, heads, hd]
        var k = L.k.applyGroups(y, counts: counts, bias: L.kBias)     // [total, kvHeads, hd]
        let v = L.v.applyGroups(y, counts: counts, bias: L.vBias)     // [total, kvHeads, hd]
        cos.withUnsafeBufferPointer { c in
            sin.withUnsafeBufferPointer { s in
                MultimodalRoPE.apply(&q, count: n, heads: heads, headDim: hd, cos: c.baseAddress!, sin: s.baseAddress!)
                MultimodalRoPE.apply(&k, count: n, heads: kvHeads, headDim: hd, cos: c.baseAddress!, sin: s.baseAddress!)
            }
        }
        var attention = [Float](repeating: 0, count: n * qWidth)     // [total, heads, hd]
        q.withUnsafeBufferPointer { qp in
            k.withUnsafeBufferPointer { kp in
                v.withUnsafeBufferPointer { vp in
                    attention.withUnsafeMutableBufferPointer { out in
                        for s in counts.indices {
                            let start = caches[s].count, first = offsets[s]
                            caches[s].append(layer: index, keys: kp.baseAddress! + first * kvWidth, values: vp.baseAddress! + first * kvWidth,
                                             count: counts[s])
                            caches[s].keys[index].withUnsafeBufferPointer { keys in
                                caches[s].values[index].withUnsafeBufferPointer { values in
                                    Attention.causal(q: qp.baseAddress! + first * qWidth, count: counts[s], keys: keys.baseAddress!,
                                                     values: values.baseAddress!, start: start, heads: heads, kvHeads: kvHeads,
                                                     headDim: hd, out: out.baseAddress! + first * qWidth)
                                }
                            }
                        }
                    }
                }
            }
        }
        L.o.applyGroups(attention, counts: counts, accumulatingInto: &x)   // x[total, H] += o
        y = x
        y.withUnsafeMutableBufferPointer { p in
            Normalization.rmsNorm(p.baseAddress!, rows: n, dim: h, weight: L.postAttentionNorm, eps: eps)
        }
        var gate = L.gate.applyGroups(y, counts: counts)              // [total, I]
        let up = L.up.applyGroups(y, counts: counts)                  // [total, I]
        gate.withUnsafeMutableBufferPointer { g in Activations.swiGLU(gate: g.baseAddress!, up: up, count: n * inter) }
        L.down.applyGroups(gate, counts: counts, accumulatingInto: &x)     // x[total, H] += down
    }
}

extension QwenVLModel {
    /// The rows of the next prompt chunk of each run (0 for runs not prefilling): what ``prefill(_:tokenLimit:progress:)``
    /// would run next.
    public func nextPrefillChunk(_ run: SequenceRun) -> Int {
        min(LanguageModel.prefillChunk, run.remainingPrefillTokens)
    }

    /// Which runs prefill together in the next step, given each run's next chunk (``nextPrefillChunk(_:)``, 0 when
    /// not prefilling), oldest first: the oldest prefilling run, then every later one whose chunk fits in the rows
    /// left of one ``LanguageModel/prefillChunk``.
    public static func prefillGroup(_ chunks: [Int], rowLimit: Int = LanguageModel.prefillChunk) -> [Int] {
        guard let first = chunks.firstIndex(where: { $0 > 0 }) else { return [] }
        var members = [first], rows = chunks[first]
        for i in chunks.indices where i > first && chunks[i] > 0 && rows + chunks[i] <= rowLimit {
            members.append(i)
            rows += chunks[i]
        }
        return members
    }

    /// Runs the next prompt chunk of each of `members` (indices into `runs`, every one prefilling) through the
    /// decoder in one pass (``LanguageModel/forward(chunks:counts:positions:caches:)``); runs whose prompt is done
    /// get their logits (the LM head read once for all of them). Every run ends as
    /// ``prefill(_:tokenLimit:progress:)`` with a limit of one chunk leaves it.
    public func prefill(_ runs: inout [SequenceRun], members: [Int]) {
        let lm = languageModel, h = lm.config.hiddenSize
        let members = members.filter { runs[$0].isPrefilling }
        guard members.count > 1 else {
            if let i = members.first { prefill(&runs[i], tokenLimit: LanguageModel.prefillChunk) }
            return
        }
        var rows: [Float] = [], counts: [Int] = [], caches: [KVCache] = []
        var t: [Int] = [], hs: [Int] = [], ws: [Int] = []
        let empty = KVCache(layers: 0, width: 0)
        let now = Date()
        for i in members {
            guard case .prefill(let embeddings, let positions, let done) = runs[i].phase else { continue }
            let count = min(LanguageModel.prefillChunk, positions.count - done)
            rows.append(contentsOf: embeddings[(done * h)..<((done + count) * h)])
            t.append(contentsOf: positions.t[done..<(done + count)])
            hs.append(contentsOf: positions.h[done..<(done + count)])
            ws.append(contentsOf: positions.w[done..<(done + count)])
            counts.append(count)
            caches.append(runs[i].state.cache)
            runs[i].state.cache = empty                                   // the pass holds the only reference
            if runs[i].prefillStart == nil { runs[i].prefillStart = now }
        }
        let hidden = lm.forward(chunks: rows, counts: counts, positions: PositionIDs(t: t, h: hs, w: ws), caches: &caches)  // [S, H]
        var finished: [Int] = []                                          // positions in `members`
        for (k, i) in members.enumerated() {
            runs[i].state.cache = caches[k]
            caches[k] = empty
            guard case .prefill(let embeddings, let positions, let done) = runs[i].phase else { continue }
            if done + counts[k] < positions.count {
                runs[i].phase = .prefill(embeddings: embeddings, positions: positions, done: done + counts[k])
            } else {
                finished.append(k)
            }
        }
        guard !finished.isEmpty else { return }
        var last: [Float] = []                                            // [F, H]
        for k in finished { last.append(contentsOf: hidden[(k * h)..<((k + 1) * h)]) }
        let logits = lm.logitsRows(last, count: finished.count)          // [F, vocab]
        let vocab = lm.config.vocabSize
        for (f, k) in finished.enumerated() {
            let i = members[k]
            let own = Array(logits[(f * vocab)..<((f + 1) * vocab)])
            runs[i].promptLogits = own
            runs[i].state.tokens = runs[i].promptTokenIDs
            runs[i].timings.prefillSeconds = Date().timeIntervalSince(runs[i].prefillStart!)
            runs[i].phase = runs[i].maxTokens > 0 ? .sample(logits: own) : .finished
        }
    }
}
