/// SIMD elementary functions for activations and softmax, accurate to a few float32 ulps.
public enum VectorMath {
    /// `e^x` for eight floats (Cephes `expf`: x = n·ln2 + r, a degree-6 polynomial in r, scaled by 2ⁿ).
    ///
    /// Relative error ≤ 2 ulp over the finite range; below −87.33 the result is 0, above 88.72 it is +inf,
    /// NaN stays NaN.
    @inline(__always)
    public static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let upper: Float = 88.722_83, lower: Float = -87.336_54
        let clamped = Block32.min(Block32.max(x, SIMD8(repeating: lower)), SIMD8(repeating: upper))
        // n = round(x / ln 2); e^x = e^r · 2ⁿ.
        let n = (clamped * 1.442_695_04).rounded(.toNearestOrEven)
        let p = reducedExp(clamped, n)
        // 2ⁿ built in two halves so n = 128 (x near the upper bound) does not overflow the exponent field.
        let ni = Lanes.integers(n)
        let half = ni &>> 1
        let scaleA = unsafeBitCast((half &+ 127) &<< 23, to: SIMD8<Float>.self)
        let scaleB = unsafeBitCast((ni &- half &+ 127) &<< 23, to: SIMD8<Float>.self)
        var result = p * scaleA * scaleB
        result.replace(with: 0, where: x .< lower)
        result.replace(with: .infinity, where: x .> upper)
        result.replace(with: x, where: x .!= x)
        return result
    }

    /// `e^x` for eight floats known to be ≤ 0 (softmax after subtracting the maximum): the same values as
    /// ``exp(_:)-(SIMD8<Float>)`` on that range at about half the instructions.
    ///
    /// Below −87.33 (and −∞) the result is 0; NaN stays NaN; positive inputs are outside the contract.
    @inline(__always)
    public static func expNonPositive(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let lower: Float = -87.336_54
        let clamped = Block32.max(x, SIMD8(repeating: lower))   // NaN lanes stay NaN
        // n = round(x / ln 2) by the 1.5·2²³ trick, which also leaves n in the low bits of t.
        let t = clamped * 1.442_695_04 + 12_582_912
        let n = t - 12_582_912
        let p = reducedExp(clamped, n)
        // n ≥ −126 on the clamped range, so 2ⁿ is one normal float.
        let ni = unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000
        var result = p * unsafeBitCast((ni &+ 127) &<< 23, to: SIMD8<Float>.self)
        result.replace(with: 0, where: x .< lower)
        return result
    }

    /// `e^r` for `r = x − n·ln 2` (|r| ≤ ln 2 / 2): the reduction in two steps (ln 2 = C1 + C2, C1 exact in float)
    /// and Cephes' degree-6 polynomial, shared by both exponentials so they round alike.
    @inline(__always)
    static func reducedExp(_ x: SIMD8<Float>, _ n: SIMD8<Float>) -> SIMD8<Float> {
        var r = x - n * 0.693_359_375
        r = r - n * -2.121_944_4e-4
        var p = SIMD8<Float>(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_950_7e-3
        p = p * r + 8.333_451_907_3e-3
        p = p * r + 4.166_579_589_4e-2
        p = p * r + 1.666_666_545_9e-1
        p = p * r + 5.000_000_120_1e-1
        return p * (r * r) + r + 1
    }

    /// `e^x` for one float through the SIMD path (tails of vector loops, so every element rounds alike).
    @inline(__always)
    public static func exp(_ x: Float) -> Float { exp(SIMD8<Float>(repeating: x))[0] }

    /// `x[i] += y[i]` for `count` floats on the calling thread (biases and residuals of matrix products).
    @inline(__always)
    static func add(_ x: UnsafeMutablePointer<Float>, adding y: UnsafePointer<Float>, count: Int) {
        let px = UnsafeMutableRawPointer(x), py = UnsafeRawPointer(y)
        var i = 0
        while i + 8 <= count {
            let sum = px.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) + py.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            px.storeBytes(of: sum, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count { x[i] += y[i]; i += 1 }
    }

    /// `x · sigmoid(x)` for eight floats.
    @inline(__always)
    public static func silu(_ x: SIMD8<Float>) -> SIMD8<Float> { x / (1 + exp(-x)) }

    /// `1 / (1 + e^−x)` for eight floats.
    @inline(__always)
    public static func sigmoid(_ x: SIMD8<Float>) -> SIMD8<Float> { 1 / (1 + exp(-x)) }
}
