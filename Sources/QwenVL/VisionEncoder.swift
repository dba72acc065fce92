import Foundation
import QwenVLCore

/// One ViT block's weights (pre-norm, QuickGELU MLP).
struct VisionBlock: Sendable {
    let norm1Weight: [Float], norm1Bias: [Float]   // [E]
    let norm2Weight: [Float], norm2Bias: [Float]   // [E]
    let qkv: WeightMatrix, qkvBias: [Float]        // [3E, E], [3E]
    let proj: WeightMatrix, projBias: [Float]      // [E, E], [E]
    let fc1: WeightMatrix, fc1Bias: [Float]        // [mlp, E], [mlp]
    let fc2: WeightMatrix, fc2Bias: [Float]        // [E, mlp], [E]
}

/// The Qwen2-VL vision tower (spec §5): patch embedding, 2-D RoPE blocks with attention confined to each frame
/// pair, and the 2×2 patch merger.
public struct VisionEncoder: Sendable {
    public let config: VisionConfiguration
    let patchEmbed: WeightMatrix                   // [E, C·T·P·P]
    let blocks: [VisionBlock]
    let merger: PatchMerger
    let rotary: VisionRotaryEmbedding

    init(config: VisionConfiguration, weights: WeightStore) throws {
        self.config = config
        let e = config.embedDim, mlp = config.mlpHidden, merged = e * config.spatialMergeSize * config.spatialMergeSize
        func names(_ suffix: String) -> [String] { ["visual." + suffix, "model.visual." + suffix] }
        func matrix(_ suffix: String, _ shape: [Int]) throws -> WeightMatrix { WeightMatrix(try weights.tensor(names(suffix), shape: shape)) }
        func vector(_ suffix: String, _ size: Int) throws -> [Float] { try weights.tensor(names(suffix), shape: [size]).floats() }
        patchEmbed = try matrix("patch_embed.proj.weight", [e, config.inChannels, config.temporalPatchSize, config.patchSize, config.patchSize])
        blocks = try (0..<config.depth).map { i in
            let p = "blocks.\(i)."
            return VisionBlock(
                norm1Weight: try vector(p + "norm1.weight", e), norm1Bias: try vector(p + "norm1.bias", e),
                norm2Weight: try vector(p + "norm2.weight", e), norm2Bias: try vector(p + "norm2.bias", e),
                qkv: try matrix(p + "attn.qkv.weight", [3 * e, e]), qkvBias: try vector(p + "attn.qkv.bias", 3 * e),
                proj: try matrix(p + "attn.proj.weight", [e, e]), projBias: try vector(p + "attn.proj.bias", e),
                fc1: try matrix(p + "mlp.fc1.weight", [mlp, e]), fc1Bias: try vector(p + "mlp.fc1.bias", mlp),
                fc2: try matrix(p + "mlp.fc2.weight", [e, mlp]), fc2Bias: try vector(p + "mlp.fc2.bias", e))
        }
        merger = PatchMerger(
            normWeight: try vector("merger.ln_q.weight", e), normBias: try vector("merger.ln_q.bias", e),
            fc1: try matrix("merger.mlp.0.weight", [merged, merged]), fc1Bias: try vector("merger.mlp.0.bias", merged),
            fc2: try matrix("merger.mlp.2.weight", [config.outHiddenSize, merged]), fc2Bias: try vector("merger.mlp.2.bias", config.outHiddenSize),
            embedDim: e, windowSize: config.spatialMergeSize * config.spatialMergeSize)
        rotary = VisionRotaryEmbedding(headDim: e / config.headCount)
    }

    /// Unmaps the tower's memory-mapped weights from this process (see ``WeightMatrix/releaseMappedPages()``).
    func releaseMappedWeights() {
        patchEmbed.releaseMappedPages()
        for block in blocks { for m in [block.qkv, block.proj, block.fc1, block.fc2] { m.releaseMappedPages() } }
        merger.fc1.releaseMappedPages()
        merger.fc2.releaseMappedPages()
    }

    /// Bytes of vision weights.
    public var weightBytes: Int {
        blocks.reduce(patchEmbed.byteCount + merger.fc1.byteCount + merger.fc2.byteCount) {
            $0 + $1.qkv.byteCount + $1.proj.byteCount + $1.fc1.byteCount + $1.fc2.byteCount
        }
    }

    /// Encodes patch rows of one or more items: `pixels: [N, C·T·P·P]` with their grids → features `[N/4, H]`,
    /// one row per `<|image_pad|>`/`<|video_pad|>` token, in order.
    public func encode(pixels: [Float], grids: [VisionGrid], progress: ((Int, Int) -> Void)? = nil) -> [Float] {
        let e = config.embedDim, heads = config.headCount, hd = e / heads
        let n = grids.reduce(0) { $0 + $1.patchCount }
        precondition(pixels.count == n * config.patchValues, "VisionEncoder: pixel rows do not match the grids")
        var x = patchEmbed.apply(pixels, count: n)                           // [N, E]
        let (cos, sin) = rotary.cosSin(grids: grids, mergeSize: config.spatialMergeSize)
        // Attention blocks: each temporal slice (frame pair) of each item attends only within itself.
        var cuSeqlens = [0]
        for grid in grids { for _ in 0..<grid.t { cuSeqlens.append(cuSeqlens.last! + grid.h * grid.w) } }
        var y = [Float](repeating: 0, count: n * e)                          // [N, E]
        var attention = [Float](repeating: 0, count: n * e)                  // [N, heads, hd]
        for (index, block) in blocks.enumerated() {
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    Normalization.layerNorm(xp.baseAddress!, rows: n, dim: e, weight: block.norm1Weight, bias: block.norm1Bias, eps: 1e-6, into: yp.baseAddress!)
                }
            }
            var qkv = block.qkv.apply(y, count: n, bias: block.qkvBias)     // [N, 3, heads, hd]
            qkv.withUnsafeMutableBufferPointer { p in
                cos.withUnsafeBufferPointer { c in
                    sin.withUnsafeBufferPointer { s in
                        let base = p.baseAddress!
                        MultimodalRoPE.apply(base, count: n, heads: heads, headDim: hd, cos: c.baseAddress!, sin: s.baseAddress!, rowStride: 3 * e)
                        MultimodalRoPE.apply(base + e, count: n, heads: heads, headDim: hd, cos: c.baseAddress!, sin: s.baseAddress!, rowStride: 3 * e)
                    }
                }
            }
            Attention.blockDiagonal(qkv: qkv, cuSeqlens: cuSeqlens, heads: heads, headDim: hd, out: &attention)
            block.proj.apply(attention, count: n, accumulatingInto: &x, bias: block.projBias)   // x[N, E] += proj
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    Normalization.layerNorm(xp.baseAddress!, rows: n, dim: e, weight: block.norm2Weight, bias: block.norm2Bias, eps: 1e-6, into: yp.baseAddress!)
                }
            }
            var hidden = block.fc1.apply(y, count: n, bias: block.fc1Bias)  // [N, mlp]
            hidden.withUnsafeMutableBufferPointer { Activations.quickGELU($0.baseAddress!, count: $0.count) }
            block.fc2.apply(hidden, count: n, accumulatingInto: &x, bias: block.fc2Bias)      // x[N, E] += fc2
            progress?(index + 1, blocks.count)
        }
        let merged = merger(x, count: n)                                     // [N/4, H]
        // The blocks' activations are free now; hand them back before the language model's prefill allocates,
        // and unmap the tower's weights so the prefill's peak does not stack on them (they stay in the page cache:
        // the next encode refaults them without disk reads).
        HeapTuning.releaseFreeMemory()
        releaseMappedWeights()
        return merged
    }
}
