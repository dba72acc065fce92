/// Thirty-two floats held as four SIMD8 vectors: the arithmetic of block quantization (load-time code that must
/// stay fast: a 2B model quantizes 1.5 G weights on load).
struct Block32 {
    var v0: SIMD8<Float>, v1: SIMD8<Float>, v2: SIMD8<Float>, v3: SIMD8<Float>

    @inline(__always)
    init(_ v0: SIMD8<Float>, _ v1: SIMD8<Float>, _ v2: SIMD8<Float>, _ v3: SIMD8<Float>) {
        (self.v0, self.v1, self.v2, self.v3) = (v0, v1, v2, v3)
    }

    @inline(__always)
    init(repeating value: Float) {
        let v = SIMD8<Float>(repeating: value)
        self.init(v, v, v, v)
    }

    /// Loads 32 floats of `source` from `start`, reading only indices below `count` (the rest are 0); NaN and ±inf
    /// become 0.
    @inline(__always)
    init(_ source: UnsafePointer<Float>, start: Int, count: Int) {
        if start + 32 <= count {
            let p = UnsafeRawPointer(source + start)
            self.init(p.loadUnaligned(as: SIMD8<Float>.self), p.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self),
                      p.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self), p.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
        } else {
            var values = [Float](repeating: 0, count: 32)
            for i in 0..<32 where start + i < count { values[i] = source[start + i] }
            self.init(SIMD8(values[0..<8]), SIMD8(values[8..<16]), SIMD8(values[16..<24]), SIMD8(values[24..<32]))
        }
        self = map { v in
            // |v| < inf is false for NaN and ±inf.
            v.replacing(with: 0, where: .!(Block32.magnitude(v) .< .infinity))
        }
    }

    @inline(__always)
    func map(_ f: (SIMD8<Float>) -> SIMD8<Float>) -> Block32 { Block32(f(v0), f(v1), f(v2), f(v3)) }

    @inline(__always)
    func map(_ other: Block32, _ f: (SIMD8<Float>, SIMD8<Float>) -> SIMD8<Float>) -> Block32 {
        Block32(f(v0, other.v0), f(v1, other.v1), f(v2, other.v2), f(v3, other.v3))
    }

    @inline(__always) func sum() -> Float { ((v0 + v1) + (v2 + v3)).sum() }
    @inline(__always) func dot(_ o: Block32) -> Float { ((v0 * o.v0 + v1 * o.v1) + (v2 * o.v2 + v3 * o.v3)).sum() }
    @inline(__always) func max() -> Float { Lanes.max(Block32.max(Block32.max(v0, v1), Block32.max(v2, v3))) }
    @inline(__always) func min() -> Float { Lanes.min(Block32.min(Block32.min(v0, v1), Block32.min(v2, v3))) }
    @inline(__always) func maxMagnitude() -> Float { map(Block32.magnitude).max() }

    /// `clamp(round((self − offset) · inverseScale), low, high)`, rounding half to even.
    @inline(__always)
    func levels(offset: Float, inverseScale: Float, low: Float, high: Float) -> Block32 {
        map { v in
            let r = Block32.roundToEven((v - offset) * inverseScale)
            return Block32.min(Block32.max(r, SIMD8(repeating: low)), SIMD8(repeating: high))
        }
    }

    /// Stores the 32 values (integer levels in −128…255) as bytes at `p`.
    @inline(__always)
    func storeBytes(to p: UnsafeMutableRawPointer) {
        Lanes.storeBytes(v0, to: p, 0)
        Lanes.storeBytes(v1, to: p, 8)
        Lanes.storeBytes(v2, to: p, 16)
        Lanes.storeBytes(v3, to: p, 24)
    }

    @inline(__always)
    static func magnitude(_ v: SIMD8<Float>) -> SIMD8<Float> {
        unsafeBitCast(unsafeBitCast(v, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: SIMD8<Float>.self)
    }

    @inline(__always)
    static func max(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: b .> a) }

    @inline(__always)
    static func min(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: b .< a) }

    /// Round half to even for |v| < 2²²: adding and subtracting 1.5·2²³ leaves the integer part (default rounding).
    @inline(__always)
    static func roundToEven(_ v: SIMD8<Float>) -> SIMD8<Float> {
        let magic = SIMD8<Float>(repeating: 12_582_912)
        let clamped = min(max(v, SIMD8(repeating: -4_194_304)), SIMD8(repeating: 4_194_304))
        return (clamped + magic) - magic
    }
}
