import Foundation
import QwenVLCore

/// One Qwen2 decoder layer's weights (spec §7.2).
struct DecoderLayer: Sendable {
    let inputNorm: [Float]          // [H]
    let postAttentionNorm: [Float]  // [H]
    let q: WeightMatrix             // [heads·hd, H]
    let k: WeightMatrix             // [kvHeads·hd, H]
    let v: WeightMatrix             // [kvHeads·hd, H]
    let qBias: [Float], kBias: [Float], vBias: [Float]
    let o: WeightMatrix             // [H, heads·hd], no bias
    let gate: WeightMatrix          // [I, H]
    let up: WeightMatrix            // [I, H]
    let down: WeightMatrix          // [H, I]
}

/// The Qwen2 decoder with M-RoPE: embeddings, layers, final norm and the LM head over the full padded vocabulary.
public struct LanguageModel: Sendable {
    public let config: TextConfiguration
    let embedTokens: WeightMatrix   // [vocab, H]
    let layers: [DecoderLayer]
    let norm: [Float]               // [H]
    let lmHead: WeightMatrix        // [vocab, H]; the embedding when tied
    let rope: MultimodalRoPE

    /// Tokens per prefill pass; longer prompts run in chunks so scratch memory stays bounded.
    public static let prefillChunk = 512

    /// Binds the decoder's tensors; accepts both the legacy and the transformers-5 names.
    /// `progress(done, total)` follows the layers (total: layers + the LM head).
    /// `adapter`, when given, is merged into its target matrices as they are bound (``AdapterMerge``).
    init(config: TextConfiguration, weights: WeightStore, format: WeightFormat = .stored, adapter: LoRAAdapter? = nil,
         progress: ((Int, Int) -> Void)? = nil) throws {
        self.config = config
        let h = config.hiddenSize, kvd = config.kvHeadCount * config.headDim, inter = config.intermediateSize
        if let adapter { try AdapterMerge.validate(adapter, against: config) }
        func names(_ suffix: String) -> [String] { ["model." + suffix, "model.language_model." + suffix, "language_model.model." + suffix] }
        func matrix(_ suffix: String, _ shape: [Int]) throws -> WeightMatrix {
            let stored = try weights.tensor(names(suffix), shape: shape)
            if let adapter, let merged = try AdapterMerge.matrix(adapter, key: "model." + suffix.dropLast(".weight".count),
                                                                 weight: stored, format: format) {
                return merged
            }
            return WeightMatrix(stored).converted(to: format)
        }
        func vector(_ suffix: String, _ size: Int) throws -> [Float] { try weights.tensor(names(suffix), shape: [size]).floats() }
        // The embedding stays as stored: only single rows are read from it.
        embedTokens = WeightMatrix(try weights.tensor(names("embed_tokens.weight"), shape: [config.vocabSize, h]))
        var layers: [DecoderLayer] = []
        for l in 0..<config.layerCount {
            let p = "layers.\(l)."
            layers.append(DecoderLayer(
                inputNorm: try vector(p + "input_layernorm.weight", h),
                postAttentionNorm: try vector(p + "post_attention_layernorm.weight", h),
                q: try matrix(p + "self_attn.q_proj.weight", [h, h]),
                k: try matrix(p + "self_attn.k_proj.weight", [kvd, h]),
                v: try matrix(p + "self_attn.v_proj.weight", [kvd, h]),
                qBias: try vector(p + "self_attn.q_proj.bias", h),
                kBias: try vector(p + "self_attn.k_proj.bias", kvd),
                vBias: try vector(p + "self_attn.v_proj.bias", kvd),
                o: try matrix(p + "self_attn.o_proj.weight", [h, h]),
                gate: try matrix(p + "mlp.gate_proj.weight", [inter, h]),
                up: try matrix(p + "mlp.up_proj.weight", [inter, h]),
                down: try matrix(p + "mlp.down_proj.weight", [h, inter])))
            progress?(l + 1, config.layerCount + 1)
        }
        self.layers = layers
        norm = try vector("norm.weight", h)
        let headNames = ["lm_head.weight", "language_model.lm_head.weight"]
        if weights.contains(headNames) {
            lmHead = WeightMatrix(try weights.tensor(headNames, shape: [config.vocabSize, h])).converted(to: format)
        } else {
            // Tied (2B): the head is the embedding (spec P10).
            lmHead = embedTokens.converted(to: format)
        }
        progress?(config.layerCount + 1, config.layerCount + 1)
        rope = MultimodalRoPE(headDim: config.headDim, theta: config.ropeTheta, section: config.mropeSection)
    }

    /// Bytes of weights one decode step reads.
    public var weightBytesPerToken: Int {
        layers.reduce(0) { $0 + $1.q.byteCount + $1.k.byteCount + $1.v.byteCount + $1.o.byteCount + $1.gate.byteCount + $1.up.byteCount + $1.down.byteCount } + lmHead.byteCount
    }

    /// Input embeddings of `tokens`: [n, H].
    public func embed(_ tokens: [Int32]) -> [Float] {
        let h = config.hiddenSize
        var out = [Float](repeating: 0, count: tokens.count * h)
        out.withUnsafeMutableBufferPointer { p in
            for (i, token) in tokens.enumerated() { embedTokens.row(Int(token), into: p.baseAddress! + i * h) }
        }
        // Unless the embedding is also the head in use, its looked-up rows are not weights in use: unmap them.
        if !embedTokens.sharesStorage(with: lmHead) {
            for token in Set(tokens) { embedTokens.releaseMappedRow(Int(token)) }
        }
        return out
    }

    /// An empty cache sized for this model.
    public func makeCache() -> KVCache { KVCache(layers: config.layerCount, width: config.kvHeadCount * config.headDim) }

    /// Runs the decoder over new tokens and returns the final-norm hidden state of the last one: [H].
    ///
    /// - Parameters:
    ///   - embeddings: input rows `[n, H]` (text embeddings with vision features scattered in).
    ///   - positions: their M-RoPE triples.
    ///   - cache: extended by the n tokens.
    ///   - progress: called with tokens done after each chunk.
    public func forward(embeddings: [Float], positions: PositionIDs, cache: inout KVCache,
                        progress: ((Int) -> Void)? = nil) -> [Float] {
        let h = config.hiddenSize, n = positions.count
        precondition(embeddings.count == n * h, "forward: embeddings do not match positions")
        var last = [Float](repeating: 0, count: h)
        var start = 0
        while start < n {
            let count = min(Self.prefillChunk, n - start)
            var x = Array(embeddings[(start * h)..<((start + count) * h)])   // [count, H]
            let chunkPositions = PositionIDs(t: Array(positions.t[start..<(start + count)]),
                                             h: Array(positions.h[start..<(start + count)]),
                                             w: Array(positions.w[start..<(start + count)]))
            let (cos, sin) = rope.cosSin(chunkPositions)
            for l in layers.indices { layer(l, &x, count: count, cos: cos, sin: sin, cache: &cache) }
            cache.advance(by: count)
            start += count
            if start == n { last = Array(x[((count - 1) * h)...]) }
            progress?(start)
        }
        // A prefill's activations are free now; hand them back (decode steps reuse small blocks and skip this).
        if n >= 64 { HeapTuning.releaseFreeMemory() }
        last.withUnsafeMutableBufferPointer { p in
            norm.withUnsafeBufferPointer { Normalization.rmsNorm(p.baseAddress!, rows: 1, dim: h, weight: $0.baseAddress!, eps: config.rmsNormEps) }
        }
        return last
    }

    /// Logits over the whole (padded) vocabulary for a final hidden state: [vocab].
    public func logits(_ hidden: [Float]) -> [Float] {
        lmHead.apply(hidden, count: 1)
    }

    /// One decoder layer over `x: [n, H]` in place.
    private func layer(_ index: Int, _ x: inout [Float], count n: Int, cos: [Float], sin: [Float], cache: inout KVCache) {
        let L = layers[index]
        let h = config.hiddenSize, heads = config.headCount, kvHeads = config.kvHeadCount, hd = config.headDim
        let inter = config.intermediateSize, eps = config.rmsNormEps
        var y = x                                                     // [n, H]
        y.withUnsafeMutableBufferPointer { p in
            Normalization.rmsNorm(p.baseAddress!, rows: n, dim: h, weight: L.inputNorm, eps: eps)
        }
        var q = L.q.apply(y, count: n, bias: L.qBias)                 // [n, heads, hd]
        var k = L.k.apply(y, count: n, bias: L.kBias)                 // [n, kvHeads, hd]
        let v = L.v.apply(y, count: n, bias: L.vBias)                 // [n, kvHeads, hd]
        cos.withUnsafeBufferPointer { c in
            sin.withUnsafeBufferPointer { s in
                MultimodalRoPE.apply(&q, count: n, heads: heads, headDim: hd, cos: c.baseAddress!, sin: s.baseAddress!)
                MultimodalRoPE.apply(&k, count: n, heads: kvHeads, headDim: hd, cos: c.baseAddress!, sin: s.baseAddress!)
            }
        }
        let start = cache.count
        cache.append(layer: index, keys: k, values: v, count: n)
        var attention = [Float](repeating: 0, count: n * heads * hd)  // [n, heads, hd]
        cache.keys[index].withUnsafeBufferPointer { keys in
            cache.values[index].withUnsafeBufferPointer { values in
                Attention.causal(q: q, count: n, keys: keys.baseAddress!, values: values.baseAddress!, start: start,
                                 heads: heads, kvHeads: kvHeads, headDim: hd, out: &attention)
            }
        }
        L.o.apply(attention, count: n, accumulatingInto: &x)            // x[n, H] += o
        y = x
        y.withUnsafeMutableBufferPointer { p in
            Normalization.rmsNorm(p.baseAddress!, rows: n, dim: h, weight: L.postAttentionNorm, eps: eps)
        }
        var gate = L.gate.apply(y, count: n)                          // [n, I]
        let up = L.up.apply(y, count: n)                              // [n, I]
        gate.withUnsafeMutableBufferPointer { g in Activations.swiGLU(gate: g.baseAddress!, up: up, count: n * inter) }
        L.down.apply(gate, count: n, accumulatingInto: &x)              // x[n, H] += down
    }
}
