import Foundation
import QwenVLCore

/// One decode step for several independent sequences at once (continuous batching, spec §7.2 per sequence).
///
/// Each of the B sequences feeds one token at its own position and attends only to its own KV cache; the weight
/// matrices are read once per step for all of them (``WeightMatrix/applyRows(_:count:into:bias:)``). Every row is
/// computed with the arithmetic of a lone one-token step, so a sequence's logits — and its greedy tokens — do not
/// depend on what else is in the batch.
extension LanguageModel {
    /// Feeds `tokens[b]` at M-RoPE text position `positions[b]` into `caches[b]` and returns the final-norm hidden
    /// states: [B, H].
    public func forwardStep(tokens: [Int32], positions: [Int], caches: inout [KVCache]) -> [Float] {
        let b = tokens.count, h = config.hiddenSize
        precondition(positions.count == b && caches.count == b, "forwardStep: tokens, positions and caches differ in count")
        var x = embed(tokens)                                                     // [B, H]
        let (cos, sin) = rope.cosSin(PositionIDs(t: positions, h: positions, w: positions))   // [B, hd/2] each
        for l in layers.indices { stepLayer(l, &x, count: b, cos: cos, sin: sin, caches: &caches) }
        for s in 0..<b { caches[s].advance(by: 1) }
        x.withUnsafeMutableBufferPointer { p in
            norm.withUnsafeBufferPointer { Normalization.rmsNorm(p.baseAddress!, rows: b, dim: h, weight: $0.baseAddress!, eps: config.rmsNormEps) }
        }
        return x
    }

    /// Logits for B final hidden states: [B, vocab], the LM head read once.
    public func logitsRows(_ hidden: [Float], count b: Int) -> [Float] {
        lmHead.applyRows(hidden, count: b)
    }

    /// One decoder layer over `x: [B, H]` (one token per sequence) in place.
    private func stepLayer(_ index: Int, _ x: inout [Float], count n: Int, cos: [Float], sin: [Float], caches: inout [KVCache]) {
        let L = layers[index]
        let h = config.hiddenSize, heads = config.headCount, kvHeads = config.kvHeadCount, hd = config.headDim
        let inter = config.intermediateSize, eps = config.rmsNormEps, kvWidth = kvHeads * hd, qWidth = heads * hd
        var y = x                                                     // [B, H]
        y.withUnsafeMutableBufferPointer { p in
            Normalization.rmsNorm(p.baseAddress!, rows: n, dim: h, weight: L.inputNorm, eps: eps)
        }
        var q = L.q.applyRows(y, count: n, bias: L.qBias)             // [B, heads, hd]
        var k = L.k.applyRows(y, count: n, bias: L.kBias)             // [B, kvHeads, hd]
        let v = L.v.applyRows(y, count: n, bias: L.vBias)             // [B, kvHeads, hd]
        cos.withUnsafeBufferPointer { c in
            sin.withUnsafeBufferPointer { s in
                MultimodalRoPE.apply(&q, count: n, heads: heads, headDim: hd, cos: c.baseAddress!, sin: s.baseAddress!)
                MultimodalRoPE.apply(&k, count: n, heads: kvHeads, headDim: hd, cos: c.baseAddress!, sin: s.baseAddress!)
            }
        }
        var attention = [Float](repeating: 0, count: n * qWidth)     // [B, heads, hd]
        q.withUnsafeBufferPointer { qp in
            k.withUnsafeBufferPointer { kp in
                v.withUnsafeBufferPointer { vp in
                    attention.withUnsafeMutableBufferPointer { out in
                        for s in 0..<n {
                            let start = caches[s].count
                            caches[s].append(layer: index, keys: kp.baseAddress! + s * kvWidth, values: vp.baseAddress! + s * kvWidth, count: 1)
                            caches[s].keys[index].withUnsafeBufferPointer { keys in
                                caches[s].values[index].withUnsafeBufferPointer { values in
                                    Attention.causal(q: qp.baseAddress! + s * qWidth, count: 1, keys: keys.baseAddress!,
                                                     values: values.baseAddress!, start: start, heads: heads, kvHeads: kvHeads,
                                                     headDim: hd, out: out.baseAddress! + s * qWidth)
                                }
                            }
                        }
                    }
                }
            }
        }
        L.o.applyRows(attention, count: n, accumulatingInto: &x)      // x[B, H] += o
        y = x
        y.withUnsafeMutableBufferPointer { p in
            Normalization.rmsNorm(p.baseAddress!, rows: n, dim: h, weight: L.postAttentionNorm, eps: eps)
        }
        var gate = L.gate.applyRows(y, count: n)                      // [B, I]
        let up = L.up.applyRows(y, count: n)                          // [B, I]
        gate.withUnsafeMutableBufferPointer { g in Activations.swiGLU(gate: g.baseAddress!, up: up, count: n * inter) }
        L.down.applyRows(gate, count: n, accumulatingInto: &x)        // x[B, H] += down
    }
}
