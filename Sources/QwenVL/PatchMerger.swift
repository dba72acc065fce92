import Foundation
import QwenVLCore

/// The merger after the ViT: LayerNorm (Qwen2.5-VL: RMSNorm, `ln_q` without bias), then each 2×2 window of patches (4 consecutive rows) concatenated and
/// sent through Linear → exact GELU → Linear into the language model's width (spec §5.4).
struct PatchMerger: Sendable {
    let normWeight: [Float], normBias: [Float]?    // [E]; nil bias = RMSNorm (Qwen2.5-VL)
    let fc1: WeightMatrix, fc1Bias: [Float]        // [4E, 4E], [4E]
    let fc2: WeightMatrix, fc2Bias: [Float]        // [H, 4E], [H]
    let embedDim: Int
    let windowSize: Int                            // merge² = 4

    /// x: [N, E] → [N/4, H].
    func callAsFunction(_ x: [Float], count n: Int) -> [Float] {
        var z = [Float](repeating: 0, count: x.count)              // [N, E] = [N/4, 4E]
        VisionEncoder.normalize(x, rows: n, dim: embedDim, weight: normWeight, bias: normBias, into: &z)
        let groups = n / windowSize
        var hidden = fc1.apply(z, count: groups, bias: fc1Bias)  // [N/4, 4E]
        hidden.withUnsafeMutableBufferPointer { Activations.gelu($0.baseAddress!, count: $0.count) }
        return fc2.apply(hidden, count: groups, bias: fc2Bias)   // [N/4, H]
    }
}
