import Foundation

/// Elementwise activations used by the decoder MLP, the ViT MLP and the merger.
///
/// SiLU, sigmoid and softmax use ``VectorMath/exp(_:)-(SIMD8<Float>)`` (≤ 2 ulp), eight values at a time.
public enum Activations {
    /// SwiGLU in place: `gate[i] ← silu(gate[i]) · up[i]` for `count` values.
    public static func swiGLU(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        Parallel.forChunks(count, minChunk: 16384) { range in
            let g = UnsafeMutableRawPointer(gate), u = UnsafeRawPointer(up)
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                let v = g.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                g.storeBytes(of: VectorMath.silu(v) * u.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self),
                             toByteOffset: i * 4, as: SIMD8<Float>.self)
                i += 8
            }
            while i < range.upperBound {
                gate[i] = VectorMath.silu(SIMD8(repeating: gate[i]))[0] * up[i]
                i += 1
            }
        }
    }

    /// QuickGELU in place: `x · sigmoid(1.702 x)`.
    public static func quickGELU(_ x: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.forChunks(count, minChunk: 16384) { range in
            let p = UnsafeMutableRawPointer(x)
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                let v = p.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                p.storeBytes(of: v * VectorMath.sigmoid(1.702 * v), toByteOffset: i * 4, as: SIMD8<Float>.self)
                i += 8
            }
            while i < range.upperBound {
                x[i] = x[i] * VectorMath.sigmoid(SIMD8(repeating: 1.702 * x[i]))[0]
                i += 1
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

    /// Exponentials of one row minus its maximum, in place; returns their sum (the softmax before normalizing).
    public static func softmaxUnnormalized(_ x: UnsafeMutablePointer<Float>, count: Int) -> Float {
        let p = UnsafeMutableRawPointer(x)
        var maxima = SIMD8<Float>(repeating: -.infinity)
        var i = 0
        while i + 8 <= count {
            maxima = Block32.max(maxima, p.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
            i += 8
        }
        var maximum = Lanes.max(maxima)
        while i < count { maximum = max(maximum, x[i]); i += 1 }
        var sums = SIMD8<Float>()
        i = 0
        while i + 8 <= count {
            let e = VectorMath.expNonPositive(p.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - maximum)
            p.storeBytes(of: e, toByteOffset: i * 4, as: SIMD8<Float>.self)
            sums += e
            i += 8
        }
        var sum = sums.sum()
        while i < count {
            let e = VectorMath.expNonPositive(SIMD8(repeating: x[i] - maximum))[0]
            x[i] = e
            sum += e
            i += 1
        }
        return sum
    }

    /// Numerically stable softmax of one row in place.
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        let sum = softmaxUnnormalized(x, count: count)
        let p = UnsafeMutableRawPointer(x)
        let inverse = 1 / sum
        var i = 0
        while i + 8 <= count {
            p.storeBytes(of: p.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * inverse, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count { x[i] *= inverse; i += 1 }
    }
}
