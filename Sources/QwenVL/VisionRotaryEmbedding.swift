import Foundation

/// The ViT's 2-D rotary embedding (spec §5.2): half of each head's rotary frequencies follow the patch row, half
/// the patch column; no temporal component.
public struct VisionRotaryEmbedding: Sendable {
    /// [headDim / 4] inverse frequencies, float32 as transformers computes them.
    public let inverseFrequencies: [Float]

    public init(headDim: Int, theta: Float = 10000) {
        let dim = headDim / 2
        if headDim == 80, theta == 10000 {
            inverseFrequencies = Self.referenceTable
        } else {
            inverseFrequencies = (0..<(dim / 2)).map { i in 1 / powf(theta, Float(2 * i) / Float(dim)) }
        }
    }

    /// cos and sin per patch: each [N, headDim/2] = [row·freqs, column·freqs], for patches in merge-window order.
    public func cosSin(grids: [VisionGrid], mergeSize M: Int) -> (cos: [Float], sin: [Float]) {
        let freqs = inverseFrequencies.count
        let half = 2 * freqs
        let total = grids.reduce(0) { $0 + $1.patchCount }
        var cosTable = [Float](repeating: 0, count: total * half)
        var sinTable = [Float](repeating: 0, count: total * half)
        var n = 0
        for grid in grids {
            for _ in 0..<grid.t {
                for bh in 0..<(grid.h / M) { for bw in 0..<(grid.w / M) { for ih in 0..<M { for iw in 0..<M {
                    let row = Float(bh * M + ih), col = Float(bw * M + iw)
                    for i in 0..<freqs {
                        let a = row * inverseFrequencies[i], b = col * inverseFrequencies[i]
                        cosTable[n * half + i] = cosf(a); sinTable[n * half + i] = sinf(a)
                        cosTable[n * half + freqs + i] = cosf(b); sinTable[n * half + freqs + i] = sinf(b)
                    }
                    n += 1
                } } } }
            }
        }
        return (cosTable, sinTable)
    }

    /// transformers' float32 ViT inverse frequencies (head_dim 80, theta 1e4; spec Appendix B).
    static let referenceTable: [Float] = [
        0x3f80_0000, 0x3f21_866b, 0x3ecb_d4b4, 0x3e80_9bcc, 0x3e22_4b06, 0x3dcc_cccd, 0x3d81_3855, 0x3d23_1091,
        0x3ccd_c613, 0x3c81_d5a0, 0x3c23_d70a, 0x3bce_c089, 0x3b82_73a4, 0x3b24_9e78, 0x3acf_bc32, 0x3a83_126f,
        0x3a25_66d4, 0x39d0_b907, 0x3983_b1fa, 0x3926_3028,
    ].map { Float(bitPattern: UInt32($0)) }
}
