import Foundation

/// Elementwise activations used by the decoder MLP, the ViT MLP and the merger.
public enum Activations {
    /// SwiGLU in place: `gate[i] ← silu(gate[i]) · up[i]` for `count` values.
    public static func swiGLU(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        Parallel.forChunks(count, minChunk: 4096) { range in
            for i in range {
                let g = gate[i]
                gate[i] = g / (1 + expf(-g)) * up[i]
            }
        }
    }

    /// QuickGELU in place: `x · sigmoid(1.702 x)`.
    public static func quickGELU(_ x: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.forChunks(count, minChunk: 4096) { range in
            for i in range {
                let v = x[i]
                x[i] = v * (1 / (1 + expf(-1.702 * v)))
            }
        }
    }

    /// Exact GELU in place: `0.5 x (1 + erf(x / √2))`.
    public static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.forChunks(count, minChunk: 4096) { range in
            for i in range {
                let v = x[i]
                x[i] = 0.5 * v * (1 + erff(v * 0.70710678118654752440))
            }
        }
    }

    /// Numerically stable softmax of one row in place.
    @inlinable
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var maximum = -Float.infinity
        for i in 0..<count where x[i] > maximum { maximum = x[i] }
        var sum: Float = 0
        for i in 0..<count {
            let e = expf(x[i] - maximum)
            x[i] = e
            sum += e
        }
        let inv = 1 / sum
        for i in 0..<count { x[i] *= inv }
    }
}
