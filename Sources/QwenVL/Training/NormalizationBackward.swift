import Foundation
import QwenVLCore

/// RMSNorm's backward with a frozen weight: for `y = w ⊙ x·s`, `s = (mean(x²) + eps)^(-1/2)`,
/// `dx = s·(w ⊙ dy) − x · s³/d · Σ(w ⊙ dy ⊙ x)`.
enum RMSNormBackward {
    /// Adds the input gradient of `rmsNorm(x: [n, d])` for `dy: [n, d]` to `dx: [n, d]`.
    static func accumulate(x: UnsafePointer<Float>, weight: [Float], dy: UnsafePointer<Float>, rows n: Int, dim d: Int, eps: Float,
                           into dx: UnsafeMutablePointer<Float>) {
        weight.withUnsafeBufferPointer { wp in
            let w = wp.baseAddress!
            Parallel.forChunks(n, minChunk: 16) { range in
                for t in range {
                    let xr = x + t * d, gr = dy + t * d, out = dx + t * d
                    var squares: Float = 0, dot: Float = 0
                    for i in 0..<d { squares += xr[i] * xr[i]; dot += w[i] * gr[i] * xr[i] }
                    let s = 1 / (squares / Float(d) + eps).squareRoot()
                    let c = s * s * s / Float(d) * dot
                    for i in 0..<d { out[i] += s * w[i] * gr[i] - xr[i] * c }
                }
            }
        }
    }
}

/// SwiGLU's backward: for `a = silu(g)·u`, `du = da·silu(g)`, `dg = da·u·σ(g)·(1 + g·(1 − σ(g)))`.
enum SwiGLUBackward {
    /// Writes `dg`, `du` (each [count]) from `g`, `u`, `da`.
    static func gradients(gate g: UnsafePointer<Float>, up u: UnsafePointer<Float>, da: UnsafePointer<Float>, count: Int,
                          dGate: UnsafeMutablePointer<Float>, dUp: UnsafeMutablePointer<Float>) {
        Parallel.forChunks(count, minChunk: 16384) { range in
            for i in range {
                let sigma = 1 / (1 + expf(-g[i]))
                let silu = g[i] * sigma
                dUp[i] = da[i] * silu
                dGate[i] = da[i] * u[i] * sigma * (1 + g[i] * (1 - sigma))
            }
        }
    }
}
