import Foundation
import QwenVLCore

/// What one decoder layer's backward pass reads, saved by its training forward (spec §7.2).
struct LayerActivations {
    let input: TrainingTensor       // x [n, H]
    let normed1: TrainingTensor     // rmsNorm(x) [n, H]
    let q: TrainingTensor           // rotated queries [n, heads·hd]
    let k: TrainingTensor           // rotated keys [n, kvHeads·hd]
    let v: TrainingTensor           // values [n, kvHeads·hd]
    let attention: TrainingTensor   // attention output [n, heads·hd]
    let mid: TrainingTensor         // x + o_proj(attention) [n, H]
    let normed2: TrainingTensor     // rmsNorm(mid) [n, H]
    let gate: TrainingTensor        // gate_proj before SiLU [n, I]
    let up: TrainingTensor          // up_proj [n, I]
    let activated: TrainingTensor   // silu(gate)·up [n, I]
    /// Per target slot (7): z = dropout(input)·Aᵀ [n, r] and the dropped input, for adapted targets.
    let lora: [(z: TrainingTensor, dropped: TrainingTensor?)?]
}

/// The Qwen2 decoder's training forward and backward over frozen weights with LoRA on its linear layers.
///
/// `y = x·Wᵀ + bias + scaling·(dropout(x)·Aᵀ)·Bᵀ` for each adapted projection. Backward runs through the final
/// RMSNorm, SwiGLU MLP, RMSNorms (weights frozen), segmented causal GQA attention, M-RoPE (rotation by −θ), the
/// frozen biases and the residuals; only the LoRA factors get gradients (frozen weights are read for
/// `dX = dY·W`, never differentiated).
struct DecoderBackward {
    let lm: LanguageModel
    let weights: LoRAWeights
    let n: Int
    let segments: [Range<Int>]
    let cos: [Float], sin: [Float], negatedSin: [Float]   // [n, hd/2] each
    /// Seed of this example's dropout masks.
    let dropoutSeed: UInt64

    init(lm: LanguageModel, weights: LoRAWeights, positions: PositionIDs, segments: [Range<Int>], dropoutSeed: UInt64) {
        self.lm = lm
        self.weights = weights
        n = positions.count
        self.segments = segments
        (cos, sin) = lm.rope.cosSin(positions)
        negatedSin = sin.map { -$0 }
        self.dropoutSeed = dropoutSeed
    }

    func mask(layer: Int, target: LoRATarget) -> DropoutMask? {
        weights.dropout > 0 ? DropoutMask(probability: weights.dropout, seed: dropoutSeed, stream: UInt64(layer * 7 + target.index)) : nil
    }

    /// `y[n, out] = x·Wᵀ + bias` plus the LoRA term of `target` when adapted.
    private func linear(_ w: WeightMatrix, bias: [Float]?, _ x: TrainingTensor, layer: Int, target: LoRATarget,
                        lora: inout [(z: TrainingTensor, dropped: TrainingTensor?)?]) -> TrainingTensor {
        let y = TrainingTensor(n * w.rows)
        if let bias {
            bias.withUnsafeBufferPointer { w.apply(x.pointer, count: n, into: y.pointer, bias: $0.baseAddress!) }
        } else {
            w.apply(x.pointer, count: n, into: y.pointer)
        }
        if let f = weights[layer, target] {
            lora[target.index] = LoRALinear.forward(f, rank: weights.rank, scaling: weights.scaling, x: x.pointer, count: n,
                                                    y: y.pointer, mask: mask(layer: layer, target: target))
        }
        return y
    }

    /// Adds `dy·W` and the LoRA input gradient of `target` to `dx`, accumulating the factors' gradients.
    private func linearBackward(_ w: WeightMatrix, _ x: TrainingTensor, dy: TrainingTensor, layer: Int, target: LoRATarget,
                                saved: LayerActivations, gradients: inout LoRAWeights, dx: TrainingTensor) {
        w.applyTransposed(dy.pointer, count: n, accumulatingInto: dx.pointer)
        if let f = weights[layer, target], let s = saved.lora[target.index] {
            LoRALinear.backward(f, rank: weights.rank, scaling: weights.scaling, x: x.pointer, z: s.z, dropped: s.dropped,
                                mask: mask(layer: layer, target: target), dy: dy.pointer, count: n,
                                gradient: &gradients[layer, target]!, dx: dx.pointer)
        }
    }

    private func rmsNorm(_ x: TrainingTensor, _ weight: [Float]) -> TrainingTensor {
        let y = TrainingTensor(copying: x.pointer, count: x.count)
        weight.withUnsafeBufferPointer {
            Normalization.rmsNorm(y.pointer, rows: n, dim: lm.config.hiddenSize, weight: $0.baseAddress!, eps: lm.config.rmsNormEps)
        }
        return y
    }

    /// Layer `index` over `x: [n, H]`: returns its output and what its backward needs.
    func forward(layer index: Int, _ x: TrainingTensor) -> (TrainingTensor, LayerActivations) {
        let L = lm.layers[index], c = lm.config
        let heads = c.headCount, kvHeads = c.kvHeadCount, hd = c.headDim, inter = c.intermediateSize
        var lora = [(z: TrainingTensor, dropped: TrainingTensor?)?](repeating: nil, count: 7)
        let normed1 = rmsNorm(x, L.inputNorm)
        let q = linear(L.q, bias: L.qBias, normed1, layer: index, target: .q, lora: &lora)     // [n, heads·hd]
        let k = linear(L.k, bias: L.kBias, normed1, layer: index, target: .k, lora: &lora)     // [n, kvHeads·hd]
        let v = linear(L.v, bias: L.vBias, normed1, layer: index, target: .v, lora: &lora)     // [n, kvHeads·hd]
        cos.withUnsafeBufferPointer { cp in
            sin.withUnsafeBufferPointer { sp in
                MultimodalRoPE.apply(q.pointer, count: n, heads: heads, headDim: hd, cos: cp.baseAddress!, sin: sp.baseAddress!)
                MultimodalRoPE.apply(k.pointer, count: n, heads: kvHeads, headDim: hd, cos: cp.baseAddress!, sin: sp.baseAddress!)
            }
        }
        let attention = TrainingTensor(n * heads * hd)                                         // [n, heads·hd]
        SegmentedAttention.forward(q: q.pointer, k: k.pointer, v: v.pointer, segments: segments, heads: heads, kvHeads: kvHeads,
                                   headDim: hd, out: attention.pointer)
        let mid = linear(L.o, bias: nil, attention, layer: index, target: .o, lora: &lora)     // [n, H]
        TrainingTensor.add(mid.pointer, x.pointer, count: mid.count)
        let normed2 = rmsNorm(mid, L.postAttentionNorm)
        let gate = linear(L.gate, bias: nil, normed2, layer: index, target: .gate, lora: &lora) // [n, I]
        let up = linear(L.up, bias: nil, normed2, layer: index, target: .up, lora: &lora)       // [n, I]
        let activated = TrainingTensor(copying: gate.pointer, count: gate.count)               // [n, I]
        Activations.swiGLU(gate: activated.pointer, up: up.pointer, count: n * inter)
        let out = linear(L.down, bias: nil, activated, layer: index, target: .down, lora: &lora) // [n, H]
        TrainingTensor.add(out.pointer, mid.pointer, count: out.count)
        let saved = LayerActivations(input: x, normed1: normed1, q: q, k: k, v: v, attention: attention, mid: mid, normed2: normed2,
                                     gate: gate, up: up, activated: activated, lora: lora)
        return (out, saved)
    }

    /// Backward of layer `index` for `dOut: [n, H]` (gradient of its output): returns the gradient of its input.
    func backward(layer index: Int, _ saved: LayerActivations, dOut: TrainingTensor, gradients: inout LoRAWeights) -> TrainingTensor {
        let L = lm.layers[index], c = lm.config
        let h = c.hiddenSize, heads = c.headCount, kvHeads = c.kvHeadCount, hd = c.headDim, inter = c.intermediateSize
        let eps = c.rmsNormEps
        // MLP: out = mid + down(silu(gate)·up)
        let dActivated = TrainingTensor(n * inter)                                             // [n, I]
        linearBackward(L.down, saved.activated, dy: dOut, layer: index, target: .down, saved: saved, gradients: &gradients, dx: dActivated)
        let dGate = TrainingTensor(n * inter), dUp = TrainingTensor(n * inter)                 // [n, I] each
        SwiGLUBackward.gradients(gate: saved.gate.pointer, up: saved.up.pointer, da: dActivated.pointer, count: n * inter,
                                 dGate: dGate.pointer, dUp: dUp.pointer)
        let dNormed2 = TrainingTensor(n * h)                                                   // [n, H]
        linearBackward(L.gate, saved.normed2, dy: dGate, layer: index, target: .gate, saved: saved, gradients: &gradients, dx: dNormed2)
        linearBackward(L.up, saved.normed2, dy: dUp, layer: index, target: .up, saved: saved, gradients: &gradients, dx: dNormed2)
        let dMid = TrainingTensor(copying: dOut.pointer, count: n * h)                         // [n, H]
        RMSNormBackward.accumulate(x: saved.mid.pointer, weight: L.postAttentionNorm, dy: dNormed2.pointer, rows: n, dim: h, eps: eps,
                                   into: dMid.pointer)
        // Attention: mid = x + o(attention(rope(q), rope(k), v))
        let dAttention = TrainingTensor(n * heads * hd)                                        // [n, heads·hd]
        linearBackward(L.o, saved.attention, dy: dMid, layer: index, target: .o, saved: saved, gradients: &gradients, dx: dAttention)
        let dq = TrainingTensor(n * heads * hd), dk = TrainingTensor(n * kvHeads * hd), dv = TrainingTensor(n * kvHeads * hd)
        SegmentedAttention.backward(q: saved.q.pointer, k: saved.k.pointer, v: saved.v.pointer, dout: dAttention.pointer,
                                    segments: segments, heads: heads, kvHeads: kvHeads, headDim: hd,
                                    dq: dq.pointer, dk: dk.pointer, dv: dv.pointer)
        // The rotation is orthogonal: its backward rotates by −θ.
        cos.withUnsafeBufferPointer { cp in
            negatedSin.withUnsafeBufferPointer { sp in
                MultimodalRoPE.apply(dq.pointer, count: n, heads: heads, headDim: hd, cos: cp.baseAddress!, sin: sp.baseAddress!)
                MultimodalRoPE.apply(dk.pointer, count: n, heads: kvHeads, headDim: hd, cos: cp.baseAddress!, sin: sp.baseAddress!)
            }
        }
        let dNormed1 = TrainingTensor(n * h)                                                   // [n, H]
        linearBackward(L.q, saved.normed1, dy: dq, layer: index, target: .q, saved: saved, gradients: &gradients, dx: dNormed1)
        linearBackward(L.k, saved.normed1, dy: dk, layer: index, target: .k, saved: saved, gradients: &gradients, dx: dNormed1)
        linearBackward(L.v, saved.normed1, dy: dv, layer: index, target: .v, saved: saved, gradients: &gradients, dx: dNormed1)
        let dInput = dMid                                                                      // residual
        RMSNormBackward.accumulate(x: saved.input.pointer, weight: L.inputNorm, dy: dNormed1.pointer, rows: n, dim: h, eps: eps,
                                   into: dInput.pointer)
        return dInput
    }
}
