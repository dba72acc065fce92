import CPUIntrinsics
/// Dot-product kernels over float rows (f32, bf16, f16) for the matrix-vector path.
///
/// All take a row at any alignment and `n` float32 inputs; the multi-row forms read four rows `stride` bytes apart.

/// `Σ w[i]·x[i]` for a bf16 row.
@inline(__always)
func dotBF16(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
    let xr = UnsafeRawPointer(x)
    var i = 0
    while i + 32 <= n {
        let w0 = Lanes.bf16(w, i * 2), w1 = Lanes.bf16(w, i * 2 + 16)
        let w2 = Lanes.bf16(w, i * 2 + 32), w3 = Lanes.bf16(w, i * 2 + 48)
        a0.addProduct(w0, xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
        a1.addProduct(w1, xr.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self))
        a2.addProduct(w2, xr.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD8<Float>.self))
        a3.addProduct(w3, xr.loadUnaligned(fromByteOffset: i * 4 + 96, as: SIMD8<Float>.self))
        i += 32
    }
    var sum = ((a0 + a1) + (a2 + a3)).sum()
    while i < n {
        sum += bf16ToFloat(w.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) * x[i]
        i += 1
    }
    return sum
}

/// bf16 rows read as 32-bit pairs: each pair's low half is the even element (`pair << 16`), its high half the odd
/// one (`pair & 0xFFFF0000`), one instruction per 8 values instead of a widen and a shift.
enum BF16Pairs {
    /// Reorders `x` so every group of 16 holds its 8 even-indexed values, then its 8 odd-indexed ones; a tail
    /// shorter than 16 is copied as is.
    static func split(_ x: UnsafePointer<Float>, count n: Int, into out: UnsafeMutablePointer<Float>) {
        var i = 0
        while i + 16 <= n {
            for j in 0..<8 {
                out[i + j] = x[i + 2 * j]
                out[i + 8 + j] = x[i + 2 * j + 1]
            }
            i += 16
        }
        while i < n { out[i] = x[i]; i += 1 }
    }

    /// Dot products of four bf16 rows (`stride` bytes apart) with x; `paired` is x after ``split(_:count:into:)``.
    @inline(__always)
    static func dot4(_ w: UnsafeRawPointer, stride: Int, _ paired: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) -> SIMD4<Float> {
        let mask = SIMD8<UInt32>(repeating: 0xFFFF_0000)
        var e0 = SIMD8<Float>(), e1 = SIMD8<Float>(), e2 = SIMD8<Float>(), e3 = SIMD8<Float>()
        var o0 = SIMD8<Float>(), o1 = SIMD8<Float>(), o2 = SIMD8<Float>(), o3 = SIMD8<Float>()
        let xr = UnsafeRawPointer(paired)
        let w1 = w + stride, w2 = w + 2 * stride, w3 = w + 3 * stride
        var i = 0
        let ahead = GEMVTuning.prefetchDistanceBF16
        while i + 16 <= n {
            if i % 32 == 0 {
                prefetch(w + i * 2 + ahead); prefetch(w1 + i * 2 + ahead)
                prefetch(w2 + i * 2 + ahead); prefetch(w3 + i * 2 + ahead)
            }
            let xe = xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            let xo = xr.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self)
            let p0 = w.loadUnaligned(fromByteOffset: i * 2, as: SIMD8<UInt32>.self)
            let p1 = w1.loadUnaligned(fromByteOffset: i * 2, as: SIMD8<UInt32>.self)
            let p2 = w2.loadUnaligned(fromByteOffset: i * 2, as: SIMD8<UInt32>.self)
            let p3 = w3.loadUnaligned(fromByteOffset: i * 2, as: SIMD8<UInt32>.self)
            e0.addProduct(unsafeBitCast(p0 &<< 16, to: SIMD8<Float>.self), xe)
            o0.addProduct(unsafeBitCast(p0 & mask, to: SIMD8<Float>.self), xo)
            e1.addProduct(unsafeBitCast(p1 &<< 16, to: SIMD8<Float>.self), xe)
            o1.addProduct(unsafeBitCast(p1 & mask, to: SIMD8<Float>.self), xo)
            e2.addProduct(unsafeBitCast(p2 &<< 16, to: SIMD8<Float>.self), xe)
            o2.addProduct(unsafeBitCast(p2 & mask, to: SIMD8<Float>.self), xo)
            e3.addProduct(unsafeBitCast(p3 &<< 16, to: SIMD8<Float>.self), xe)
            o3.addProduct(unsafeBitCast(p3 & mask, to: SIMD8<Float>.self), xo)
            i += 16
        }
        var sums = SIMD4<Float>((e0 + o0).sum(), (e1 + o1).sum(), (e2 + o2).sum(), (e3 + o3).sum())
        while i < n {
            let xi = x[i]
            sums[0] += bf16ToFloat(w.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) * xi
            sums[1] += bf16ToFloat(w1.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) * xi
            sums[2] += bf16ToFloat(w2.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) * xi
            sums[3] += bf16ToFloat(w3.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) * xi
            i += 1
        }
        return sums
    }
}

extension BF16Pairs {
    /// Dot product of one bf16 row with x (`paired` as in ``dot4``): one sequential stream, 64 values per step.
    @inline(__always)
    static func dot(_ w: UnsafeRawPointer, _ paired: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
        let mask = SIMD8<UInt32>(repeating: 0xFFFF_0000)
        var e0 = SIMD8<Float>(), e1 = SIMD8<Float>(), o0 = SIMD8<Float>(), o1 = SIMD8<Float>()
        var e2 = SIMD8<Float>(), e3 = SIMD8<Float>(), o2 = SIMD8<Float>(), o3 = SIMD8<Float>()
        let xr = UnsafeRawPointer(paired)
        var i = 0
        let ahead = GEMVTuning.prefetchDistanceBF16
        while i + 64 <= n {
            prefetch(w + i * 2 + ahead); prefetch(w + i * 2 + ahead + 64)
            let p0 = w.loadUnaligned(fromByteOffset: i * 2, as: SIMD8<UInt32>.self)
            let p1 = w.loadUnaligned(fromByteOffset: i * 2 + 32, as: SIMD8<UInt32>.self)
            let p2 = w.loadUnaligned(fromByteOffset: i * 2 + 64, as: SIMD8<UInt32>.self)
            let p3 = w.loadUnaligned(fromByteOffset: i * 2 + 96, as: SIMD8<UInt32>.self)
            e0.addProduct(unsafeBitCast(p0 &<< 16, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
            o0.addProduct(unsafeBitCast(p0 & mask, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self))
            e1.addProduct(unsafeBitCast(p1 &<< 16, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD8<Float>.self))
            o1.addProduct(unsafeBitCast(p1 & mask, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 96, as: SIMD8<Float>.self))
            e2.addProduct(unsafeBitCast(p2 &<< 16, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 128, as: SIMD8<Float>.self))
            o2.addProduct(unsafeBitCast(p2 & mask, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 160, as: SIMD8<Float>.self))
            e3.addProduct(unsafeBitCast(p3 &<< 16, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 192, as: SIMD8<Float>.self))
            o3.addProduct(unsafeBitCast(p3 & mask, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 224, as: SIMD8<Float>.self))
            i += 64
        }
        var sum = ((e0 + o0) + (e1 + o1) + ((e2 + o2) + (e3 + o3))).sum()
        while i + 16 <= n {
            let p = w.loadUnaligned(fromByteOffset: i * 2, as: SIMD8<UInt32>.self)
            var a = unsafeBitCast(p &<< 16, to: SIMD8<Float>.self) * xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            a.addProduct(unsafeBitCast(p & mask, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self))
            sum += a.sum()
            i += 16
        }
        while i < n {
            sum += bf16ToFloat(w.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) * x[i]
            i += 1
        }
        return sum
    }
}

/// `Σ w[i]·x[i]` for an f32 row.
@inline(__always)
func dotF32(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
    let xr = UnsafeRawPointer(x)
    var i = 0
    while i + 32 <= n {
        a0.addProduct(w.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
        a1.addProduct(w.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self))
        a2.addProduct(w.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD8<Float>.self))
        a3.addProduct(w.loadUnaligned(fromByteOffset: i * 4 + 96, as: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 96, as: SIMD8<Float>.self))
        i += 32
    }
    var sum = ((a0 + a1) + (a2 + a3)).sum()
    while i < n {
        sum += w.loadUnaligned(fromByteOffset: i * 4, as: Float.self) * x[i]
        i += 1
    }
    return sum
}

/// Dot products of four f32 rows (`stride` bytes apart) with x.
@inline(__always)
func dotF32x4(_ w: UnsafeRawPointer, stride: Int, _ x: UnsafePointer<Float>, _ n: Int) -> SIMD4<Float> {
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
    var b0 = SIMD8<Float>(), b1 = SIMD8<Float>(), b2 = SIMD8<Float>(), b3 = SIMD8<Float>()
    let xr = UnsafeRawPointer(x)
    let w1 = w + stride, w2 = w + 2 * stride, w3 = w + 3 * stride
    var i = 0
    while i + 16 <= n {
        let x0 = xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
        let x1 = xr.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self)
        a0.addProduct(w.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self), x0)
        b0.addProduct(w.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self), x1)
        a1.addProduct(w1.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self), x0)
        b1.addProduct(w1.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self), x1)
        a2.addProduct(w2.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self), x0)
        b2.addProduct(w2.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self), x1)
        a3.addProduct(w3.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self), x0)
        b3.addProduct(w3.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self), x1)
        i += 16
    }
    var sums = SIMD4<Float>((a0 + b0).sum(), (a1 + b1).sum(), (a2 + b2).sum(), (a3 + b3).sum())
    while i < n {
        let xi = x[i]
        sums[0] += w.loadUnaligned(fromByteOffset: i * 4, as: Float.self) * xi
        sums[1] += w1.loadUnaligned(fromByteOffset: i * 4, as: Float.self) * xi
        sums[2] += w2.loadUnaligned(fromByteOffset: i * 4, as: Float.self) * xi
        sums[3] += w3.loadUnaligned(fromByteOffset: i * 4, as: Float.self) * xi
        i += 1
    }
    return sums
}

/// `Σ w[i]·x[i]` for an f16 row.
@inline(__always)
func dotF16(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>()
    let xr = UnsafeRawPointer(x)
    var i = 0
    while i + 16 <= n {
        a0.addProduct(Lanes.half(w, i * 2), xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
        a1.addProduct(Lanes.half(w, i * 2 + 16), xr.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self))
        i += 16
    }
    var sum = (a0 + a1).sum()
    while i < n {
        sum += f16ToFloat(w.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) * x[i]
        i += 1
    }
    return sum
}
