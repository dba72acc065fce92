import Foundation
import QwenVLCore

/// One ViT block's weights (pre-norm): Qwen2-VL LayerNorm + QuickGELU MLP, Qwen2.5-VL RMSNorm + SwiGLU MLP.
struct VisionBlock: Sendable {
    let norm1Weight: [Float], norm1Bias: [Float]?  // [E]; nil bias = RMSNorm
    let norm2Weight: [Float], norm2Bias: [Float]?  // [E]
    let qkv: WeightMatrix, qkvBias: [Float]        // [3E, E], [3E]
    let proj: WeightMatrix, projBias: [Float]      // [E, E], [E]
    let mlp: VisionMLP
}

/// The MLP of a ViT block.
enum VisionMLP: Sendable {
    /// Qwen2-VL: fc2(quick_gelu(fc1(x))); fc1 [mlp, E], fc2 [E, mlp].
    case quickGELU(fc1: WeightMatrix, fc1Bias: [Float], fc2: WeightMatrix, fc2Bias: [Float])
    /// Qwen2.5-VL: gate/up/down with biases.
    case swiGLU(SwiGLUVisionMLP)

    var matrices: [WeightMatrix] {
        switch self {
        case .quickGELU(let fc1, _, let fc2, _): return [fc1, fc2]
        case .swiGLU(let m): return m.matrices
        }
    }

    /// x[N, E] += mlp(y) for y: [N, E].
    func apply(_ y: [Float], count n: Int, accumulatingInto x: inout [Float]) {
        switch self {
        case .quickGELU(let fc1, let fc1Bias, let fc2, let fc2Bias):
            var hidden = fc1.apply(y, count: n, bias: fc1Bias)           // [N, mlp]
            hidden.withUnsafeMutableBufferPointer { Activations.quickGELU($0.baseAddress!, count: $0.count) }
            fc2.apply(hidden, count: n, accumulatingInto: &x, bias: fc2Bias)
        case .swiGLU(let m):
            m.apply(y, count: n, accumulatingInto: &x)
        }
    }
}

/// The vision tower (spec §5): patch embedding, 2-D RoPE blocks with attention confined to each frame pair (Qwen2.5-VL:
/// to each window except in the full-attention blocks, see ``VisionWindows``), and the 2×2 patch merger.
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
        let rms = config.windowSize != nil   // Qwen2.5-VL
        blocks = try (0..<config.depth).map { i in
            let p = "blocks.\(i)."
            let mlpWeights: VisionMLP
            if rms {
                mlpWeights = .swiGLU(SwiGLUVisionMLP(
                    gate: try matrix(p + "mlp.gate_proj.weight", [mlp, e]), gateBias: try vector(p + "mlp.gate_proj.bias", mlp),
                    up: try matrix(p + "mlp.up_proj.weight", [mlp, e]), upBias: try vector(p + "mlp.up_proj.bias", mlp),
                    down: try matrix(p + "mlp.down_proj.weight", [e, mlp]), downBias: try vector(p + "mlp.down_proj.bias", e)))
            } else {
                mlpWeights = .quickGELU(fc1: try matrix(p + "mlp.fc1.weight", [mlp, e]), fc1Bias: try vector(p + "mlp.fc1.bias", mlp),
                                        fc2: try matrix(p + "mlp.fc2.weight", [e, mlp]), fc2Bias: try vector(p + "mlp.fc2.bias", e))
            }
            return VisionBlock(
                norm1Weight: try vector(p + "norm1.weight", e), norm1Bias: rms ? nil : try vector(p + "norm1.bias", e),
                norm2Weight: try vector(p + "norm2.weight", e), norm2Bias: rms ? nil : try vector(p + "norm2.bias", e),
                qkv: try matrix(p + "attn.qkv.weight", [3 * e, e]), qkvBias: try vector(p + "attn.qkv.bias", 3 * e),
                proj: try matrix(p + "attn.proj.weight", [e, e]), projBias: try vector(p + "attn.proj.bias", e),
                mlp: mlpWeights)
        }
        merger = PatchMerger(
            normWeight: try vector("merger.ln_q.weight", e), normBias: rms ? nil : try vector("merger.ln_q.bias", e),
            fc1: try matrix("merger.mlp.0.weight", [merged, merged]), fc1Bias: try vector("merger.mlp.0.bias", merged),
            fc2: try matrix("merger.mlp.2.weight", [config.outHiddenSize, merged]), fc2Bias: try vector("merger.mlp.2.bias", config.outHiddenSize),
            embedDim: e, windowSize: config.spatialMergeSize * config.spatialMergeSize)
        rotary = VisionRotaryEmbedding(headDim: e / config.headCount)
    }

    /// Unmaps the tower's memory-mapped weights from this process (see ``WeightMatrix/releaseMappedPages()``).
    func releaseMappedWeights() {
        patchEmbed.releaseMappedPages()
        for block in blocks { for m in [block.qkv, block.proj] + block.mlp.matrices { m.releaseMappedPages() } }
        merger.fc1.releaseMappedPages()
        merger.fc2.releaseMappedPages()
    }

    /// Bytes of vision weights.
    public var weightBytes: Int {
        blocks.reduce(patchEmbed.byteCount + merger.fc1.byteCount + merger.fc2.byteCount) {
            $0 + $1.qkv.byteCount + $1.proj.byteCount + $1.mlp.matrices.reduce(0) { $0 + $1.byteCount }
        }
    }

    /// Encodes patch rows of one or more items: `pixels: [N, C·T·P·P]` with their grids → features `[N/4, H]`,
    /// one row per `<|image_pad|>`/`<|video_pad|>` token, in order.
    public func encode(pixels: [Float], grids: [VisionGrid], progress: ((Int, Int) -> Void)? = nil) -> [Float] {
        let e = config.embedDim, heads = config.headCount, hd = e / heads
        let n = grids.reduce(0) { $0 + $1.patchCount }
        precondition(pixels.count == n * config.patchValues, "VisionEncoder: pixel rows do not match the grids")
        let unit = config.spatialMergeSize * config.spatialMergeSize
        var x = patchEmbed.apply(pixels, count: n)                           // [N, E]
        var (cos, sin) = rotary.cosSin(grids: grids, mergeSize: config.spatialMergeSize)   // [N, hd/2] each
        // Attention blocks: each temporal slice (frame pair) of each item attends only within itself.
        var cuSeqlens = [0]
        for grid in grids { for _ in 0..<grid.t { cuSeqlens.append(cuSeqlens.last! + grid.h * grid.w) } }
        // Qwen2.5-VL: rows (and their rotary angles) permuted into window order; windowed blocks attend per window.
        let windows = config.cellsPerWindow.map { VisionWindows(grids: grids, mergeSize: config.spatialMergeSize, cellsPerWindow: $0) }
        if let windows {
            x = windows.permute(x, width: e, unit: unit)
            cos = windows.permute(cos, width: hd / 2, unit: unit)
            sin = windows.permute(sin, width: hd / 2, unit: unit)
        }
        var y = [Float](repeating: 0, count: n * e)                          // [N, E]
        var attention = [Float](repeating: 0, count: n * e)                  // [N, heads, hd]
        for (index, block) in blocks.enumerated() {
            Self.normalize(x, rows: n, dim: e, weight: block.norm1Weight, bias: block.norm1Bias, into: &y)
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
            let bounds = windows.map { config.fullAttentionBlocks.contains(index) ? cuSeqlens : $0.windowBoundaries } ?? cuSeqlens
            Attention.blockDiagonal(qkv: qkv, cuSeqlens: bounds, heads: heads, headDim: hd, out: &attention)
            block.proj.apply(attention, count: n, accumulatingInto: &x, bias: block.projBias)   // x[N, E] += proj
            Self.normalize(x, rows: n, dim: e, weight: block.norm2Weight, bias: block.norm2Bias, into: &y)
            block.mlp.apply(y, count: n, accumulatingInto: &x)                // x[N, E] += mlp
            progress?(index + 1, blocks.count)
        }
        var merged = merger(x, count: n)                                     // [N/4, H]
        if let windows { merged = windows.permute(merged, width: config.outHiddenSize, unit: 1, inverse: true) }
        // The blocks' activations are free now; hand them back before the language model's prefill allocates,
        // and unmap the tower's weights so the prefill's peak does not stack on them (they stay in the page cache:
        // the next encode refaults them without disk reads).
        HeapTuning.releaseFreeMemory()
        releaseMappedWeights()
        return merged
    }

    /// LayerNorm (with a bias) or RMSNorm (without) of `x: [rows, dim]` into `out`, eps 1e-6 as both towers use.
    static func normalize(_ x: [Float], rows n: Int, dim e: Int, weight: [Float], bias: [Float]?, into out: inout [Float]) {
        if let bias {
            x.withUnsafeBufferPointer { xp in
                out.withUnsafeMutableBufferPointer { yp in
                    Normalization.layerNorm(xp.baseAddress!, rows: n, dim: e, weight: weight, bias: bias, eps: 1e-6, into: yp.baseAddress!)
                }
            }
        } else {
            out.withUnsafeMutableBufferPointer { yp in
                yp.baseAddress!.update(from: x, count: n * e)
                Normalization.rmsNorm(yp.baseAddress!, rows: n, dim: e, weight: weight, eps: 1e-6)
            }
        }
    }
}
