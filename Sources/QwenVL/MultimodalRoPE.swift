import Foundation
import QwenVLCore

/// Position triples for a run of tokens: temporal, height and width ids (spec §7.3–7.4).
///
/// Text tokens carry equal triples; image/video tokens carry (t, row, column) offsets of their merged grid cell.
public struct PositionIDs: Sendable, Equatable {
    public var t: [Int]
    public var h: [Int]
    public var w: [Int]

    public init(t: [Int], h: [Int], w: [Int]) { self.t = t; self.h = h; self.w = w }

    /// Sequential text positions `start..<start+count` on all three axes.
    public init(text start: Int, count: Int) {
        let range = Array(start..<(start + count))
        t = range; h = range; w = range
    }

    public var count: Int { t.count }
}

/// A vision block in the prompt: the grid (t, h, w) in patches of one image or video.
public struct VisionGrid: Sendable, Equatable, Hashable {
    public var t: Int
    public var h: Int
    public var w: Int
    public init(t: Int, h: Int, w: Int) { self.t = t; self.h = h; self.w = w }
    /// Patches: t·h·w.
    public var patchCount: Int { t * h * w }
}

/// Multimodal rotary position embedding (M-RoPE) of the Qwen2 decoder.
///
/// Frequency `i` of a head rotates with the temporal, height or width id according to `mrope_section`;
/// inverse frequencies and angles are float32 exactly as transformers computes them.
public struct MultimodalRoPE: Sendable {
    /// Inverse frequencies: [headDim / 2].
    public let inverseFrequencies: [Float]
    /// Axis (0 = t, 1 = h, 2 = w) each frequency reads: [headDim / 2].
    let axisOfFrequency: [Int]

    public init(headDim: Int, theta: Double, section: [Int]) {
        let half = headDim / 2
        if headDim == 128, theta == 1_000_000 {
            inverseFrequencies = MultimodalRoPE.referenceTable
        } else {
            // torch: 1 / (base ** (arange(0, dim, 2).float() / dim)), all float32.
            inverseFrequencies = (0..<half).map { i in 1 / powf(Float(theta), Float(2 * i) / Float(headDim)) }
        }
        var axes: [Int] = []
        for (axis, size) in section.enumerated() { axes += Array(repeating: axis, count: size) }
        axisOfFrequency = axes
    }

    /// cos and sin per token and frequency: each [n, headDim / 2] (the duplicated half is implied).
    public func cosSin(_ positions: PositionIDs) -> (cos: [Float], sin: [Float]) {
        let half = inverseFrequencies.count, n = positions.count
        var cosTable = [Float](repeating: 0, count: n * half)
        var sinTable = [Float](repeating: 0, count: n * half)
        for token in 0..<n {
            let p = [positions.t[token], positions.h[token], positions.w[token]]
            for i in 0..<half {
                let angle = Float(p[axisOfFrequency[i]]) * inverseFrequencies[i]
                cosTable[token * half + i] = cosf(angle)
                sinTable[token * half + i] = sinf(angle)
            }
        }
        return (cosTable, sinTable)
    }

    /// Rotates `x: [n, heads, headDim]` in place: `x·cos + rotate_half(x)·sin`.
    ///
    /// `cos`/`sin` are [n, headDim/2]; `rowStride` is the distance between tokens (default heads·headDim).
    public static func apply(_ x: UnsafeMutablePointer<Float>, count n: Int, heads: Int, headDim: Int,
                             cos: UnsafePointer<Float>, sin: UnsafePointer<Float>, rowStride: Int? = nil) {
        let half = headDim / 2
        let stride = rowStride ?? heads * headDim
        Parallel.forChunks(n, minChunk: 64) { tokens in
            for token in tokens {
                let c = cos + token * half, s = sin + token * half
                for head in 0..<heads {
                    let v = x + token * stride + head * headDim
                    for i in 0..<half {
                        let x1 = v[i], x2 = v[i + half]
                        v[i] = x1 * c[i] - x2 * s[i]
                        v[i + half] = x2 * c[i] + x1 * s[i]
                    }
                }
            }
        }
    }

    /// transformers' float32 inverse frequencies for head_dim 128, theta 1e6 (spec Appendix B), as bit patterns.
    static let referenceTable: [Float] = [
        0x3f80_0000, 0x3f4e_4bad, 0x3f26_3de0, 0x3f05_f6ef, 0x3ed7_e89b, 0x3ead_fcff, 0x3e8c_3504, 0x3e61_f835,
        0x3e36_1887, 0x3e12_bd91, 0x3dec_7fd6, 0x3dbe_94c6, 0x3d99_940d, 0x3d77_8513, 0x3d47_763f, 0x3d20_bc1d,
        0x3d01_86e3, 0x3cd0_c1a8, 0x3ca8_398b, 0x3c87_9008, 0x3c5a_7bf2, 0x3c30_1052, 0x3c0d_e12d, 0x3be4_aa46,
        0x3bb8_449c, 0x3b94_7dae, 0x3b6f_520e, 0x3b40_dac5, 0x3b1b_690d, 0x3afa_78f0, 0x3ac9_d75c, 0x3aa2_a6f7,
        0x3a83_126f, 0x3a53_3f28, 0x3a2a_3b44, 0x3a09_2e02, 0x39dd_1725, 0x39b2_29fb, 0x398f_9272, 0x3967_6492,
        0x393a_7753, 0x3916_4324, 0x38f2_2ce2, 0x38c3_27b5, 0x389d_43a4, 0x387d_75d4, 0x384c_3fbe, 0x3824_97ab,
        0x3804_a2b2, 0x37d5_c441, 0x37ac_431d, 0x378a_d0ed, 0x375f_ba4f, 0x3734_4a0e, 0x3711_48e3, 0x36ea_2732,
        0x36bc_b0c1, 0x3698_0e02, 0x3675_1070, 0x3645_7bab, 0x361f_23e4, 0x3600_3dec, 0x35ce_af79, 0x35a6_8e4c,
    ].map { Float(bitPattern: UInt32($0)) }
}

/// `get_rope_index` of transformers 4.x (spec §7.4): the position triples of a prompt and its rope delta.
public enum RopeIndex {
    /// Positions for `tokens`, consuming `imageGrids` / `videoGrids` in textual order.
    ///
    /// Each run of image (video) pad tokens is one block whose k-th grid gives (T, H/m, W/m) merged cells:
    /// cell (a, b, c) gets (cur+a, cur+b, cur+c); the next text resumes at cur + max(T, H/m, W/m).
    /// Returns the positions and `delta = max position + 1 − token count`.
    ///
    /// `videoTemporalSteps[k]` is the temporal id step of video k (Qwen2.5-VL absolute time, see
    /// ``AbsoluteTimePositions``); empty means 1 per temporal grid (Qwen2-VL). The next text then resumes at
    /// 1 + the block's largest id on any axis.
    public static func compute(tokens: [Int32], imageTokenID: Int32, videoTokenID: Int32,
                               imageGrids: [VisionGrid], videoGrids: [VisionGrid], mergeSize: Int,
                               videoTemporalSteps: [Int] = []) throws -> (PositionIDs, Int) {
        var t: [Int] = [], h: [Int] = [], w: [Int] = []
        t.reserveCapacity(tokens.count); h.reserveCapacity(tokens.count); w.reserveCapacity(tokens.count)
        var cur = 0, imageIndex = 0, videoIndex = 0, i = 0
        while i < tokens.count {
            let token = tokens[i]
            guard token == imageTokenID || token == videoTokenID else {
                t.append(cur); h.append(cur); w.append(cur)
                cur += 1; i += 1
                continue
            }
            let isImage = token == imageTokenID
            let grids = isImage ? imageGrids : videoGrids
            let index = isImage ? imageIndex : videoIndex
            guard index < grids.count else {
                throw QwenVLError("prompt has more \(isImage ? "image" : "video") blocks than \(isImage ? "images" : "videos") given (\(grids.count))")
            }
            let grid = grids[index]
            let tt = grid.t, hh = grid.h / mergeSize, ww = grid.w / mergeSize
            let length = tt * hh * ww
            guard i + length <= tokens.count, tokens[i..<(i + length)].allSatisfy({ $0 == token }) else {
                throw QwenVLError("\(isImage ? "image" : "video") \(index + 1): expected \(length) placeholder tokens for grid \(grid.t)×\(grid.h)×\(grid.w)")
            }
            let step = isImage || videoTemporalSteps.isEmpty ? 1 : videoTemporalSteps[min(index, videoTemporalSteps.count - 1)]
            for a in 0..<tt { for b in 0..<hh { for c in 0..<ww { t.append(cur + a * step); h.append(cur + b); w.append(cur + c) } } }
            cur += max((tt - 1) * step, hh - 1, ww - 1) + 1
            if isImage { imageIndex += 1 } else { videoIndex += 1 }
            i += length
        }
        let delta = cur - tokens.count
        return (PositionIDs(t: t, h: h, w: w), delta)
    }
}
