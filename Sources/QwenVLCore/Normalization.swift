import Foundation

/// Normalization layers, computed in float32 as HF does (sums in eight SIMD lanes).
public enum Normalization {
    /// RMSNorm over rows: `x[n, d] ← w ⊙ (x · rsqrt(mean(x²) + eps))`, in place.
    public static func rmsNorm(_ x: UnsafeMutablePointer<Float>, rows n: Int, dim d: Int, weight: UnsafePointer<Float>, eps: Float) {
        Parallel.forChunks(n, minChunk: 16) { range in
            for t in range {
                let row = x + t * d
                let scale = 1 / (sumOfSquares(row, d, around: 0) / Float(d) + eps).squareRoot()
                let p = UnsafeMutableRawPointer(row), w = UnsafeRawPointer(weight)
                var i = 0
                while i + 8 <= d {
                    let v = p.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                    p.storeBytes(of: w.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * (v * scale), toByteOffset: i * 4, as: SIMD8<Float>.self)
                    i += 8
                }
                while i < d { row[i] = weight[i] * (row[i] * scale); i += 1 }
            }
        }
    }

    /// LayerNorm over rows with biased variance: `y = (x − mean) / sqrt(var + eps) · w + b`; writes `out[n, d]`.
    public static func layerNorm(_ x: UnsafePointer<Float>, rows n: Int, dim d: Int, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Float, into out: UnsafeMutablePointer<Float>) {
        Parallel.forChunks(n, minChunk: 16) { range in
            for t in range {
                let row = x + t * d, dst = out + t * d
                let mean = sum(row, d) / Float(d)
                let variance = sumOfSquares(row, d, around: mean) / Float(d)
                let inv = 1 / (variance + eps).squareRoot()
                let src = UnsafeRawPointer(row), o = UnsafeMutableRawPointer(dst)
                let w = UnsafeRawPointer(weight), b = UnsafeRawPointer(bias)
                var i = 0
                while i + 8 <= d {
                    let v = (src.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - mean) * inv
                    o.storeBytes(of: v * w.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) + b.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self),
                                 toByteOffset: i * 4, as: SIMD8<Float>.self)
                    i += 8
                }
                while i < d { dst[i] = (row[i] - mean) * inv * weight[i] + bias[i]; i += 1 }
            }
        }
    }

    @inline(__always)
    static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        let p = UnsafeRawPointer(x)
        var a = SIMD8<Float>(), b = SIMD8<Float>()
        var i = 0
        while i + 16 <= n {
            a += p.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            b += p.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self)
            i += 16
        }
        var total = (a + b).sum()
        while i < n { total += x[i]; i += 1 }
        return total
    }

    /// `Σ (x − center)²`.
    @inline(__always)
    static func sumOfSquares(_ x: UnsafePointer<Float>, _ n: Int, around center: Float) -> Float {
        let p = UnsafeRawPointer(x)
        var a = SIMD8<Float>(), b = SIMD8<Float>()
        var i = 0
        while i + 16 <= n {
            let u = p.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - center
            let v = p.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self) - center
            a.addProduct(u, u)
            b.addProduct(v, v)
            i += 16
        }
        var total = (a + b).sum()
        while i < n { let c = x[i] - center; total += c * c; i += 1 }
        return total
    }
}
