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
                    let px = UnsafeRawPointer(xr), pg = UnsafeRawPointer(gr), pw = UnsafeRawPointer(w), po = UnsafeMutableRawPointer(out)
                    var sq = SIMD8<Float>(), dt = SIMD8<Float>()
                    var i = 0
                    while i + 8 <= d {
                        let xv = px.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                        let wg = pw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * pg.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                        sq.addProduct(xv, xv)
                        dt.addProduct(wg, xv)
                        i += 8
                    }
                    var squares = sq.sum(), dot = dt.sum()
                    while i < d { squares += xr[i] * xr[i]; dot += w[i] * gr[i] * xr[i]; i += 1 }
                    let s = 1 / (squares / Float(d) + eps).squareRoot()
                    let c = s * s * s / Float(d) * dot
                    i = 0
                    while i + 8 <= d {
                        let xv = px.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                        let wg = pw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * pg.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                        let o = po.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                        po.storeBytes(of: o + s * wg - xv * c, toByteOffset: i * 4, as: SIMD8<Float>.self)
                        i += 8
                    }
                    while i < d { out[i] += s * w[i] * gr[i] - xr[i] * c; i += 1 }
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
            let pg = UnsafeRawPointer(g), pu = UnsafeRawPointer(u), pa = UnsafeRawPointer(da)
            let pdg = UnsafeMutableRawPointer(dGate), pdu = UnsafeMutableRawPointer(dUp)
            var i = range.lowerBound
            // Eight lanes at a time with the same σ as the forward SiLU (VectorMath's ≤ 2 ulp exp).
            while i + 8 <= range.upperBound {
                let x = pg.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                let up = pu.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                let d = pa.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                let sigma = VectorMath.sigmoid(x)
                pdu.storeBytes(of: d * x * sigma, toByteOffset: i * 4, as: SIMD8<Float>.self)
                pdg.storeBytes(of: d * up * sigma * (1 + x * (1 - sigma)), toByteOffset: i * 4, as: SIMD8<Float>.self)
                i += 8
            }
            while i < range.upperBound {
                let sigma = VectorMath.sigmoid(SIMD8(repeating: g[i]))[0]
                dUp[i] = da[i] * g[i] * sigma
                dGate[i] = da[i] * u[i] * sigma * (1 + g[i] * (1 - sigma))
                i += 1
            }
        }
    }
}
