import Foundation
import QwenVLCore

/// Merging a LoRA adapter into the language model's weights: W' = W + scaling·(B·A), computed in float32.
///
/// The order of operations follows PEFT's `merge_and_unload` (delta = (B·A)·scaling, then W + delta), so an f32
/// checkpoint merges to the same values PEFT gives up to the summation order of the rank-r products. The merged
/// matrix then takes the requested in-memory format: the checkpoint's dtype for `.stored` (bf16 rounds once, from
/// the f32 sum), or f32 / q8 / q4 converted from the f32 merge.
public enum AdapterMerge {
    /// Checks that every pair of `adapter` names a decoder linear that exists in a model of `config`, with the
    /// same input and output features.
    public static func validate(_ adapter: LoRAAdapter, against config: TextConfiguration) throws {
        try adapter.validate()
        let h = config.hiddenSize, kvd = config.kvHeadCount * config.headDim, inter = config.intermediateSize
        for key in adapter.pairs.keys.sorted() {
            let pair = adapter.pairs[key]!
            let path = LoRAAdapter.ModulePath(key)!
            guard path.layer < config.layerCount else {
                throw QwenVLError("LoRA adapter: \(key) is in layer \(path.layer) but the model has \(config.layerCount) layers (layers 0–\(config.layerCount - 1)); is the adapter for another model?")
            }
            let (outFeatures, inFeatures): (Int, Int) = switch path.name {
            case "q_proj": (config.headCount * config.headDim, h)
            case "k_proj", "v_proj": (kvd, h)
            case "o_proj": (h, config.headCount * config.headDim)
            case "gate_proj", "up_proj": (inter, h)
            default: (h, inter)   // down_proj
            }
            guard pair.inFeatures == inFeatures, pair.outFeatures == outFeatures else {
                throw QwenVLError("LoRA adapter: \(key) has lora_A [\(adapter.rank), \(pair.inFeatures)] and lora_B [\(pair.outFeatures), \(adapter.rank)] but the model's weight is [\(outFeatures), \(inFeatures)]; is the adapter for another model?")
            }
        }
    }

    /// W + scaling·B·A in float32 for `pair` over a stored weight `[out, in]`: [out, in].
    public static func merged(_ weight: StoredTensor, _ pair: LoRAAdapter.Pair, rank: Int, scaling: Float) throws -> AlignedBuffer {
        try checkShape(weight, pair)
        let cols = pair.inFeatures
        let out = AlignedBuffer(count: pair.outFeatures * cols)                  // [out, in]
        nonisolated(unsafe) let target = out.pointer
        Parallel.forChunks(pair.outFeatures, minChunk: 16) { range in
            for o in range { mergedRow(o, weight, pair, rank: rank, scaling: scaling, into: target + o * cols) }
        }
        return out
    }

    static func checkShape(_ weight: StoredTensor, _ pair: LoRAAdapter.Pair) throws {
        let shape = weight.info.shape
        guard shape == [pair.outFeatures, pair.inFeatures] else {
            throw QwenVLError("LoRA adapter: tensor '\(weight.info.name)' has shape \(shape) but the adapter's pair is [\(pair.outFeatures), \(pair.inFeatures)]")
        }
    }

    /// Row `o` of W + scaling·(B·A) into `out` [in]: the row's delta Σ_r B[o, r]·A[r, :] is summed in f32, then
    /// scaled and added to the stored row widened to f32 (PEFT's order: delta = (B·A)·scaling; W + delta).
    @inline(__always)
    static func mergedRow(_ o: Int, _ weight: StoredTensor, _ pair: LoRAAdapter.Pair, rank: Int, scaling: Float,
                          into out: UnsafeMutablePointer<Float>) {
        let cols = pair.inFeatures
        let delta = UnsafeMutablePointer<Float>.allocate(capacity: cols)   // [in]
        defer { delta.deallocate() }
        delta.initialize(repeating: 0, count: cols)
        pair.a.withUnsafeBufferPointer { a in            // [rank, in]
            pair.b.withUnsafeBufferPointer { b in        // [out, rank]
                for r in 0..<rank {
                    let coefficient = b[o * rank + r]
                    let row = a.baseAddress! + r * cols
                    for i in 0..<cols { delta[i] += coefficient * row[i] }
                }
            }
        }
        convertToFloat(weight.info.dtype, weight.pointer + o * cols * weight.info.dtype.byteCount, out, count: cols)
        for i in 0..<cols { out[i] += delta[i] * scaling }
    }

    /// The weight matrix for module `key` (`model.layers.{l}.self_attn.q_proj`): the stored tensor with the
    /// adapter's update merged in `format`, or nil when the adapter has no pair for it.
    static func matrix(_ adapter: LoRAAdapter, key: String, weight: StoredTensor, format: WeightFormat) throws -> WeightMatrix? {
        guard let pair = adapter.pairs[key] else { return nil }
        try checkShape(weight, pair)
        let rows = pair.outFeatures, cols = pair.inFeatures
        let (rank, scaling) = (adapter.rank, adapter.scaling)
        let result: WeightMatrix
        switch format {
        case .stored:
            result = WeightMatrix(rows: rows, cols: cols, dtype: weight.info.dtype) { o, out in
                mergedRow(o, weight, pair, rank: rank, scaling: scaling, into: out)
            }
        case .f32:
            result = WeightMatrix(rows: rows, cols: cols, dtype: .f32) { o, out in
                mergedRow(o, weight, pair, rank: rank, scaling: scaling, into: out)
            }
        case .q8, .q4:
            result = WeightMatrix(try merged(weight, pair, rank: rank, scaling: scaling), rows: rows, cols: cols).converted(to: format)
        }
        // The process holds the merged copy only; the source stays in the page cache.
        WeightMatrix(weight).releaseMappedPages()
        return result
    }
}
