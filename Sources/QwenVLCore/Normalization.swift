import Foundation

/// Normalization layers, computed in float32 as HF does.
public enum Normalization {
    /// RMSNorm over rows: `x[n, d] ← w ⊙ (x · rsqrt(mean(x²) + eps))`, in place.
    public static func rmsNorm(_ x: UnsafeMutablePointer<Float>, rows n: Int, dim d: Int, weight: UnsafePointer<Float>, eps: Float) {
        Parallel.forChunks(n, minChunk: 16) { range in
            for t in range {
                let row = x + t * d
                var sum: Float = 0
                for i in 0..<d { sum += row[i] * row[i] }
                let scale = 1 / (sum / Float(d) + eps).squareRoot()
                for i in 0..<d { row[i] = weight[i] * (row[i] * scale) }
            }
        }
    }

    /// LayerNorm over rows with biased variance: `y = (x − mean) / sqrt(var + eps) · w + b`; writes `out[n, d]`.
    public static func layerNorm(_ x: UnsafePointer<Float>, rows n: Int, dim d: Int, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Float, into out: UnsafeMutablePointer<Float>) {
        Parallel.forChunks(n, minChunk: 16) { range in
            for t in range {
                let row = x + t * d, dst = out + t * d
                var mean: Float = 0
                for i in 0..<d { mean += row[i] }
                mean /= Float(d)
                var variance: Float = 0
                for i in 0..<d { let c = row[i] - mean; variance += c * c }
                variance /= Float(d)
                let inv = 1 / (variance + eps).squareRoot()
                for i in 0..<d { dst[i] = (row[i] - mean) * inv * weight[i] + bias[i] }
            }
        }
    }
}
