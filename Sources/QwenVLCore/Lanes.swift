/// Eight-lane loads and conversions written as per-lane loops.
///
/// The standard library's SIMD conversions (`SIMD8<Float>(SIMD8<Int32>)`, `SIMD8<Int32>(truncatingIfNeeded:)`,
/// `SIMD8<Float>(SIMD8<Float16>)`, `pointwiseMax`) compile to calls into pre-specialized generic code, one call
/// per vector, which made the quantized kernels 5× slower than memory. These per-lane loops are what LLVM turns
/// into single instructions (`vpmovsxbd` + `vcvtdq2ps`, `vcvtph2ps`, `vmaxps`) with `-target-cpu haswell`.
enum Lanes {
    /// Eight Int8 at `p + offset` as floats.
    @inline(__always)
    static func int8(_ p: UnsafeRawPointer, _ offset: Int = 0) -> SIMD8<Float> {
        var r = SIMD8<Float>()
        for i in 0..<8 { r[i] = Float(p.load(fromByteOffset: offset + i, as: Int8.self)) }
        return r
    }

    /// Eight UInt8 at `p + offset` as floats.
    @inline(__always)
    static func uint8(_ p: UnsafeRawPointer, _ offset: Int = 0) -> SIMD8<Float> {
        var r = SIMD8<Float>()
        for i in 0..<8 { r[i] = Float(p.load(fromByteOffset: offset + i, as: UInt8.self)) }
        return r
    }

    /// Low nibbles of eight bytes at `p + offset` as floats (0…15).
    @inline(__always)
    static func lowNibbles(_ p: UnsafeRawPointer, _ offset: Int = 0) -> SIMD8<Float> {
        var r = SIMD8<Float>()
        for i in 0..<8 { r[i] = Float(p.load(fromByteOffset: offset + i, as: UInt8.self) & 15) }
        return r
    }

    /// High nibbles of eight bytes at `p + offset` as floats (0…15).
    @inline(__always)
    static func highNibbles(_ p: UnsafeRawPointer, _ offset: Int = 0) -> SIMD8<Float> {
        var r = SIMD8<Float>()
        for i in 0..<8 { r[i] = Float(p.load(fromByteOffset: offset + i, as: UInt8.self) >> 4) }
        return r
    }

    /// Eight IEEE halves at `p + offset` (any alignment) as floats.
    @inline(__always)
    static func half(_ p: UnsafeRawPointer, _ offset: Int = 0) -> SIMD8<Float> {
        let bits = p.loadUnaligned(fromByteOffset: offset, as: SIMD8<UInt16>.self)
        var r = SIMD8<Float>()
        for i in 0..<8 { r[i] = Float(Float16(bitPattern: bits[i])) }
        return r
    }

    /// Eight bfloat16 at `p + offset` (any alignment) as floats (exact: the bits move to the high half).
    @inline(__always)
    static func bf16(_ p: UnsafeRawPointer, _ offset: Int = 0) -> SIMD8<Float> {
        let bits = p.loadUnaligned(fromByteOffset: offset, as: SIMD8<UInt16>.self)
        var r = SIMD8<UInt32>()
        for i in 0..<8 { r[i] = UInt32(bits[i]) << 16 }
        return unsafeBitCast(r, to: SIMD8<Float>.self)
    }

    /// Eight Int32 as floats (exact below 2²⁴ in magnitude).
    @inline(__always)
    static func floats(_ v: SIMD8<Int32>) -> SIMD8<Float> {
        var r = SIMD8<Float>()
        for i in 0..<8 { r[i] = Float(v[i]) }
        return r
    }

    /// Integral floats in −2²²…2²² as Int32 (add 1.5·2²³, reinterpret, subtract the exponent bits).
    @inline(__always)
    static func integers(_ v: SIMD8<Float>) -> SIMD8<Int32> {
        unsafeBitCast(v + 12_582_912, to: SIMD8<Int32>.self) &- 0x4B40_0000
    }

    /// Stores integral floats in −128…255 as eight bytes at `p + offset` (two's complement low byte).
    @inline(__always)
    static func storeBytes(_ v: SIMD8<Float>, to p: UnsafeMutableRawPointer, _ offset: Int = 0) {
        let n = integers(v)
        for i in 0..<8 { p.storeBytes(of: UInt8(truncatingIfNeeded: n[i]), toByteOffset: offset + i, as: UInt8.self) }
    }

    /// Largest lane.
    @inline(__always)
    static func max(_ v: SIMD8<Float>) -> Float {
        var m = v[0]
        for i in 1..<8 where v[i] > m { m = v[i] }
        return m
    }

    /// Smallest lane.
    @inline(__always)
    static func min(_ v: SIMD8<Float>) -> Float {
        var m = v[0]
        for i in 1..<8 where v[i] < m { m = v[i] }
        return m
    }
}
