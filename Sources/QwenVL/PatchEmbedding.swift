import Foundation

/// Normalization and patchification of frames into `pixel_values` rows (spec §3.4–3.5).
///
/// A frame pair (an image is two identical frames) of size h×w becomes (h/14)·(w/14) rows of
/// C·T·14·14 = 1176 values, rows in raster order of 2×2 merge windows and raster order inside each window,
/// columns in the Conv3d weight's (c, t, py, px) order. The patch embedding itself is one matrix product with
/// that weight (see ``VisionEncoder``).
public enum PatchEmbedding {
    /// OpenAI CLIP mean and std.
    public static let mean: [Double] = [0.48145466, 0.4578275, 0.40821073]
    public static let std: [Double] = [0.26862954, 0.26130258, 0.27577711]

    /// Patch rows of frames: `frames` are RGB `[h, w, 3]` uint8 arrays of equal size; their count is padded to a
    /// multiple of the temporal patch by repeating the last one. Returns `[t·gh·gw, 3·T·P·P]` and the grid.
    ///
    /// `fused` selects the video processor's arithmetic, `(x − 255·mean) / (255·std)` in float32 (images use the
    /// slow processor's `(x·(1/255) − mean) / std`); the two differ by ≤ 2.4e-7 (spec §3.4).
    public static func patchify(frames: [[UInt8]], height h: Int, width w: Int, patchSize P: Int = 14,
                                temporalPatch T: Int = 2, mergeSize M: Int = 2, fused: Bool = false) -> (values: [Float], grid: VisionGrid) {
        var frames = frames
        while frames.count % T != 0 { frames.append(frames[frames.count - 1]) }
        let gt = frames.count / T, gh = h / P, gw = w / P
        let rowLength = 3 * T * P * P
        // Normalization table per channel and byte value (slow/PIL recipe: float32 of the float64 rescale).
        var table = [Float](repeating: 0, count: 3 * 256)
        for c in 0..<3 {
            for v in 0..<256 {
                if fused {
                    table[c * 256 + v] = (Float(v) - Float(mean[c]) * 255) / (Float(std[c]) * 255)
                } else {
                    let rescaled = Float(Double(v) * (1.0 / 255.0))
                    table[c * 256 + v] = (rescaled - Float(mean[c])) / Float(std[c])
                }
            }
        }
        var values = [Float](repeating: 0, count: gt * gh * gw * rowLength)
        values.withUnsafeMutableBufferPointer { out in
            for t in 0..<gt {
                for bh in 0..<(gh / M) { for bw in 0..<(gw / M) { for ih in 0..<M { for iw in 0..<M {
                    let row = ((t * (gh / M) + bh) * (gw / M) + bw) * M * M + ih * M + iw
                    let y0 = (bh * M + ih) * P, x0 = (bw * M + iw) * P
                    let dst = out.baseAddress! + row * rowLength
                    for tt in 0..<T {
                        frames[t * T + tt].withUnsafeBufferPointer { frame in
                            for c in 0..<3 {
                                for py in 0..<P {
                                    let src = (y0 + py) * w * 3 + x0 * 3 + c
                                    let base = ((c * T + tt) * P + py) * P
                                    for px in 0..<P { dst[base + px] = table[c * 256 + Int(frame[src + px * 3])] }
                                }
                            }
                        }
                    }
                } } } }
            }
        }
        return (values, VisionGrid(t: gt, h: gh, w: gw))
    }
}
