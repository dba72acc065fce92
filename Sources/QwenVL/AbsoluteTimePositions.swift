import Foundation

/// Qwen2.5-VL's temporal M-RoPE ids for video on absolute time (transformers 4.57.6 `get_rope_index`).
///
/// The processor sets `second_per_grid_t = temporal_patch_size / fps` (fps: qwen-vl-utils' sampled rate) in a
/// float32 tensor; `get_rope_index` converts it to the int64 dtype of its `arange` (truncation toward zero) before
/// multiplying by `tokens_per_second`. So the temporal grid k gets id `k · trunc(2 / fps) · tokens_per_second`:
/// 1 fps → step 2·tps, 2 fps → tps, and any rate above 2 fps → 0 (every frame pair shares its temporal id).
public enum AbsoluteTimePositions {
    /// Temporal id step between consecutive temporal grids of one video.
    public static func temporalStep(sampleFPS: Double, temporalPatchSize: Int, tokensPerSecond: Int) -> Int {
        guard sampleFPS > 0, sampleFPS.isFinite else { return 0 }
        let seconds = Float(Double(temporalPatchSize) / sampleFPS)   // float32 tensor of the processor
        guard seconds.isFinite, seconds < Float(Int32.max) else { return 0 }
        return Int(seconds.rounded(.towardZero)) * tokensPerSecond
    }
}
