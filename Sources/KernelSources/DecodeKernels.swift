// Decode matrix-vector kernels: one source compiled into each kernel set (`KernelsBaseline`, `KernelsAVX2`,
// `KernelsAVX512`, whose folders hold symbolic links to this file), each target with its own `-target-cpu`, so one
// binary carries every set and QwenVLCore's `KernelSet` picks one at start-up from the CPU's features.
//
// A set's entry points (the `public` functions at the end) take a row range of one product for any number of
// vectors: every output is computed by the same dot routine and row grouping whatever the count, so a batched
// product is bit-identical to one-vector products within a set. Sets may differ from each other in the last bits
// (FMA or separate multiply and add, vector width).
import KernelInterface
#if KERNELS_AVX512
import IntrinsicsAVX512
#elseif KERNELS_AVX2
import IntrinsicsAVX2
#else
import IntrinsicsBaseline
#endif

/// `acc += a · b`: a fused multiply-add where the set's CPU has FMA; separate multiply and add in the baseline set
/// (without FMA hardware, `addProduct` becomes a libm call per lane).
@inline(__always)
func accumulate(_ acc: inout SIMD8<Float>, _ a: SIMD8<Float>, _ b: SIMD8<Float>) {
    #if QWENVL_FMA
    acc.addProduct(a, b)
    #else
    acc += a * b
    #endif
}

/// `acc += a · b` on 512-bit vectors (the AVX-512 set; elsewhere two 256-bit or four 128-bit halves).
@inline(__always)
func accumulate(_ acc: inout SIMD16<Float>, _ a: SIMD16<Float>, _ b: SIMD16<Float>) {
    #if QWENVL_FMA
    acc.addProduct(a, b)
    #else
    acc += a * b
    #endif
}

// MARK: - dense rows (bf16, f32, f16)

/// `Σ w[i]·x[i]` for a bf16 row.
@inline(__always)
func dotBF16(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
    let xr = UnsafeRawPointer(x)
    var i = 0
    while i + 32 <= n {
        let w0 = Lanes.bf16(w, i * 2), w1 = Lanes.bf16(w, i * 2 + 16)
        let w2 = Lanes.bf16(w, i * 2 + 32), w3 = Lanes.bf16(w, i * 2 + 48)
        accumulate(&a0, w0, xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
        accumulate(&a1, w1, xr.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self))
        accumulate(&a2, w2, xr.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD8<Float>.self))
        accumulate(&a3, w3, xr.loadUnaligned(fromByteOffset: i * 4 + 96, as: SIMD8<Float>.self))
        i += 32
    }
    var sum = ((a0 + a1) + (a2 + a3)).sum()
    while i < n {
        sum += bf16Value(w.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) * x[i]
        i += 1
    }
    return sum
}

/// One bfloat16 as a float (exact).
@inline(__always)
func bf16Value(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

/// bf16 rows read as 32-bit pairs: each pair's low half is the even element (`pair << 16`), its high half the odd
/// one (`pair & 0xFFFF0000`), one instruction per 8 values instead of a widen and a shift.
enum BF16Pairs {
    /// Values per group of the pair layout: one register of pairs (AVX-512: 16 pairs in a zmm; else 8 in a ymm).
    #if QWENVL_AVX512
    static let group = 32
    #else
    static let group = 16
    #endif

    /// Reorders `x` so every group of ``group`` values holds its even-indexed values, then its odd-indexed ones; a
    /// tail shorter than a group is copied as is.
    @inline(__always)
    static func split(_ x: UnsafePointer<Float>, count n: Int, into out: UnsafeMutablePointer<Float>) {
        let half = group / 2
        var i = 0
        while i + group <= n {
            for j in 0..<half {
                out[i + j] = x[i + 2 * j]
                out[i + half + j] = x[i + 2 * j + 1]
            }
            i += group
        }
        while i < n { out[i] = x[i]; i += 1 }
    }

    #if QWENVL_AVX512
    /// Dot products of four bf16 rows (`stride` bytes apart) with x; `paired` is x after ``split(_:count:into:)``
    /// (groups of 32: one zmm of 16 pairs per row and step).
    @inline(__always)
    static func dot4(_ w: UnsafeRawPointer, stride: Int, _ paired: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) -> SIMD4<Float> {
        let mask = SIMD16<UInt32>(repeating: 0xFFFF_0000)
        var e0 = SIMD16<Float>(), e1 = SIMD16<Float>(), e2 = SIMD16<Float>(), e3 = SIMD16<Float>()
        var o0 = SIMD16<Float>(), o1 = SIMD16<Float>(), o2 = SIMD16<Float>(), o3 = SIMD16<Float>()
        let xr = UnsafeRawPointer(paired)
        let w1 = w + stride, w2 = w + 2 * stride, w3 = w + 3 * stride
        var i = 0
        let ahead = GEMVTuning.prefetchDistanceBF16
        while i + 32 <= n {
            prefetch(w + i * 2 + ahead); prefetch(w1 + i * 2 + ahead)
            prefetch(w2 + i * 2 + ahead); prefetch(w3 + i * 2 + ahead)
            let xe = xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            let xo = xr.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self)
            let p0 = w.loadUnaligned(fromByteOffset: i * 2, as: SIMD16<UInt32>.self)
            let p1 = w1.loadUnaligned(fromByteOffset: i * 2, as: SIMD16<UInt32>.self)
            let p2 = w2.loadUnaligned(fromByteOffset: i * 2, as: SIMD16<UInt32>.self)
            let p3 = w3.loadUnaligned(fromByteOffset: i * 2, as: SIMD16<UInt32>.self)
            accumulate(&e0, unsafeBitCast(p0 &<< 16, to: SIMD16<Float>.self), xe)
            accumulate(&o0, unsafeBitCast(p0 & mask, to: SIMD16<Float>.self), xo)
            accumulate(&e1, unsafeBitCast(p1 &<< 16, to: SIMD16<Float>.self), xe)
            accumulate(&o1, unsafeBitCast(p1 & mask, to: SIMD16<Float>.self), xo)
            accumulate(&e2, unsafeBitCast(p2 &<< 16, to: SIMD16<Float>.self), xe)
            accumulate(&o2, unsafeBitCast(p2 & mask, to: SIMD16<Float>.self), xo)
            accumulate(&e3, unsafeBitCast(p3 &<< 16, to: SIMD16<Float>.self), xe)
            accumulate(&o3, unsafeBitCast(p3 & mask, to: SIMD16<Float>.self), xo)
            i += 32
        }
        var sums = SIMD4<Float>((e0 + o0).sum(), (e1 + o1).sum(), (e2 + o2).sum(), (e3 + o3).sum())
        while i < n {
            let xi = x[i]
            sums[0] += bf16Value(w.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) * xi
            sums[1] += bf16Value(w1.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) * xi
            sums[2] += bf16Value(w2.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) * xi
            sums[3] += bf16Value(w3.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) * xi
            i += 1
        }
        return sums
    }

    /// Dot product of one bf16 row with x (`paired` as in ``dot4``): one sequential stream, 64 values per step in
    /// two zmm of pairs.
    @inline(__always)
    static func dot(_ w: UnsafeRawPointer, _ paired: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
        let mask = SIMD16<UInt32>(repeating: 0xFFFF_0000)
        var e0 = SIMD16<Float>(), e1 = SIMD16<Float>(), o0 = SIMD16<Float>(), o1 = SIMD16<Float>()
        let xr = UnsafeRawPointer(paired)
        var i = 0
        let ahead = GEMVTuning.prefetchDistanceBF16
        while i + 64 <= n {
            prefetch(w + i * 2 + ahead); prefetch(w + i * 2 + ahead + 64)
            let p0 = w.loadUnaligned(fromByteOffset: i * 2, as: SIMD16<UInt32>.self)
            let p1 = w.loadUnaligned(fromByteOffset: i * 2 + 64, as: SIMD16<UInt32>.self)
            accumulate(&e0, unsafeBitCast(p0 &<< 16, to: SIMD16<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self))
            accumulate(&o0, unsafeBitCast(p0 & mask, to: SIMD16<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self))
            accumulate(&e1, unsafeBitCast(p1 &<< 16, to: SIMD16<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 128, as: SIMD16<Float>.self))
            accumulate(&o1, unsafeBitCast(p1 & mask, to: SIMD16<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 192, as: SIMD16<Float>.self))
            i += 64
        }
        var sum = ((e0 + o0) + (e1 + o1)).sum()
        while i + 32 <= n {
            let p = w.loadUnaligned(fromByteOffset: i * 2, as: SIMD16<UInt32>.self)
            var a = unsafeBitCast(p &<< 16, to: SIMD16<Float>.self) * xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            accumulate(&a, unsafeBitCast(p & mask, to: SIMD16<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self))
            sum += a.sum()
            i += 32
        }
        while i < n {
            sum += bf16Value(w.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) * x[i]
            i += 1
        }
        return sum
    }
    #else
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
            accumulate(&e0, unsafeBitCast(p0 &<< 16, to: SIMD8<Float>.self), xe)
            accumulate(&o0, unsafeBitCast(p0 & mask, to: SIMD8<Float>.self), xo)
            accumulate(&e1, unsafeBitCast(p1 &<< 16, to: SIMD8<Float>.self), xe)
            accumulate(&o1, unsafeBitCast(p1 & mask, to: SIMD8<Float>.self), xo)
            accumulate(&e2, unsafeBitCast(p2 &<< 16, to: SIMD8<Float>.self), xe)
            accumulate(&o2, unsafeBitCast(p2 & mask, to: SIMD8<Float>.self), xo)
            accumulate(&e3, unsafeBitCast(p3 &<< 16, to: SIMD8<Float>.self), xe)
            accumulate(&o3, unsafeBitCast(p3 & mask, to: SIMD8<Float>.self), xo)
            i += 16
        }
        var sums = SIMD4<Float>((e0 + o0).sum(), (e1 + o1).sum(), (e2 + o2).sum(), (e3 + o3).sum())
        while i < n {
            let xi = x[i]
            sums[0] += bf16Value(w.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) * xi
            sums[1] += bf16Value(w1.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) * xi
            sums[2] += bf16Value(w2.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) * xi
            sums[3] += bf16Value(w3.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) * xi
            i += 1
        }
        return sums
    }

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
            accumulate(&e0, unsafeBitCast(p0 &<< 16, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
            accumulate(&o0, unsafeBitCast(p0 & mask, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self))
            accumulate(&e1, unsafeBitCast(p1 &<< 16, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD8<Float>.self))
            accumulate(&o1, unsafeBitCast(p1 & mask, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 96, as: SIMD8<Float>.self))
            accumulate(&e2, unsafeBitCast(p2 &<< 16, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 128, as: SIMD8<Float>.self))
            accumulate(&o2, unsafeBitCast(p2 & mask, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 160, as: SIMD8<Float>.self))
            accumulate(&e3, unsafeBitCast(p3 &<< 16, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 192, as: SIMD8<Float>.self))
            accumulate(&o3, unsafeBitCast(p3 & mask, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 224, as: SIMD8<Float>.self))
            i += 64
        }
        var sum = ((e0 + o0) + (e1 + o1) + ((e2 + o2) + (e3 + o3))).sum()
        while i + 16 <= n {
            let p = w.loadUnaligned(fromByteOffset: i * 2, as: SIMD8<UInt32>.self)
            var a = unsafeBitCast(p &<< 16, to: SIMD8<Float>.self) * xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            accumulate(&a, unsafeBitCast(p & mask, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self))
            sum += a.sum()
            i += 16
        }
        while i < n {
            sum += bf16Value(w.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) * x[i]
            i += 1
        }
        return sum
    }
    #endif
}

#if QWENVL_AVX512
/// `Σ w[i]·x[i]` for an f32 row (four zmm accumulators).
@inline(__always)
func dotF32(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
    let xr = UnsafeRawPointer(x)
    var i = 0
    while i + 64 <= n {
        accumulate(&a0, w.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self))
        accumulate(&a1, w.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self))
        accumulate(&a2, w.loadUnaligned(fromByteOffset: i * 4 + 128, as: SIMD16<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 128, as: SIMD16<Float>.self))
        accumulate(&a3, w.loadUnaligned(fromByteOffset: i * 4 + 192, as: SIMD16<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 192, as: SIMD16<Float>.self))
        i += 64
    }
    while i + 16 <= n {
        accumulate(&a0, w.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self))
        i += 16
    }
    var sum = ((a0 + a1) + (a2 + a3)).sum()
    while i < n {
        sum += w.loadUnaligned(fromByteOffset: i * 4, as: Float.self) * x[i]
        i += 1
    }
    return sum
}

/// Dot products of four f32 rows (`stride` bytes apart) with x (two zmm accumulators per row).
@inline(__always)
func dotF32x4(_ w: UnsafeRawPointer, stride: Int, _ x: UnsafePointer<Float>, _ n: Int) -> SIMD4<Float> {
    var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
    var b0 = SIMD16<Float>(), b1 = SIMD16<Float>(), b2 = SIMD16<Float>(), b3 = SIMD16<Float>()
    let xr = UnsafeRawPointer(x)
    let w1 = w + stride, w2 = w + 2 * stride, w3 = w + 3 * stride
    var i = 0
    while i + 32 <= n {
        let x0 = xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        let x1 = xr.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self)
        accumulate(&a0, w.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self), x0)
        accumulate(&b0, w.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self), x1)
        accumulate(&a1, w1.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self), x0)
        accumulate(&b1, w1.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self), x1)
        accumulate(&a2, w2.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self), x0)
        accumulate(&b2, w2.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self), x1)
        accumulate(&a3, w3.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self), x0)
        accumulate(&b3, w3.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self), x1)
        i += 32
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
#else
/// `Σ w[i]·x[i]` for an f32 row.
@inline(__always)
func dotF32(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
    let xr = UnsafeRawPointer(x)
    var i = 0
    while i + 32 <= n {
        accumulate(&a0, w.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
        accumulate(&a1, w.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self))
        accumulate(&a2, w.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD8<Float>.self))
        accumulate(&a3, w.loadUnaligned(fromByteOffset: i * 4 + 96, as: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 96, as: SIMD8<Float>.self))
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
        accumulate(&a0, w.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self), x0)
        accumulate(&b0, w.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self), x1)
        accumulate(&a1, w1.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self), x0)
        accumulate(&b1, w1.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self), x1)
        accumulate(&a2, w2.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self), x0)
        accumulate(&b2, w2.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self), x1)
        accumulate(&a3, w3.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self), x0)
        accumulate(&b3, w3.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self), x1)
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
#endif

/// `Σ w[i]·x[i]` for an f16 row.
@inline(__always)
func dotF16(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>()
    let xr = UnsafeRawPointer(x)
    var i = 0
    while i + 16 <= n {
        accumulate(&a0, Lanes.half(w, i * 2), xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
        accumulate(&a1, Lanes.half(w, i * 2 + 16), xr.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self))
        i += 16
    }
    var sum = (a0 + a1).sum()
    while i < n {
        sum += Float(Float16(bitPattern: w.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))) * x[i]
        i += 1
    }
    return sum
}

// MARK: - q8 (byte × byte)

// Decode quantizes x once per product to signed bytes per block of 32 (llama.cpp's Q8_0 × Q8_0:
// `xq = round(x · 127 / max|x|)`, one float scale per block) and multiplies bytes: per block `vpsignb` ×2
// (|w| and x with w's sign), one `vpmaddubsw` (|Σ pair| ≤ 2 · 127 · 127 < 2¹⁵), one `vpmaddwd` by ones into
// 32-bit lanes (exact), one conversion and one FMA by `d_w · d_x`: ≈ 2 ops per 8 weights. A float dot (widen
// bytes, convert, FMA: ≈ 4 ops per 8 weights) ran 2B decode at 14.0–14.3 tok/s against 15.3–15.8 for this one
// (same session, interleaved). The cost is x's rounding: at most ½ of 1/127 of the block's largest |x| per value.
enum Q8Dot {
    static let superBlockBytes = BlockLayout.q8SuperBlockBytes

    /// Quantizes x (`superBlocks · 256` floats, zero-padded): `xq` gets `superBlocks · 256` Int8, `scales` one
    /// Float per block of 32 (`superBlocks · 8`).
    @inline(__always)
    static func quantizeX(_ x: UnsafePointer<Float>, superBlocks: Int, into xq: UnsafeMutablePointer<Int8>,
                          scales: UnsafeMutablePointer<Float>) {
        for block in 0..<(superBlocks * 8) {
            let v = Block32(x, start: block * 32, count: superBlocks * 256)
            let largest = v.maxMagnitude()
            scales[block] = largest > 0 ? largest / 127 : 0
            let q = v.levels(offset: 0, inverseScale: largest > 0 ? 127 / largest : 0, low: -127, high: 127)
            q.storeBytes(to: UnsafeMutableRawPointer(xq + block * 32))
        }
    }

    /// `Σ w · x` over one row with x quantized by ``quantizeX(_:superBlocks:into:scales:)``.
    @inline(__always)
    static func dot(_ row: UnsafeRawPointer, quantizedX xq: UnsafeRawPointer, xScales: UnsafePointer<Float>,
                    superBlocks: Int) -> Float {
        let sr = UnsafeRawPointer(xScales)
        let ones = SIMD16<Int16>(repeating: 1)
        let ahead = GEMVTuning.prefetchDistanceQ8
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        for sb in 0..<superBlocks {
            let header = row + sb * superBlockBytes
            prefetch(header + ahead); prefetch(header + ahead + 64); prefetch(header + ahead + 128)
            prefetch(header + ahead + 192); prefetch(header + ahead + 256)
            // d_w · d_x for the eight blocks.
            let scales = Lanes.half(header) * sr.loadUnaligned(fromByteOffset: sb * 32, as: SIMD8<Float>.self)
            let xs = xq + sb * 256
            #if KERNELS_BASELINE
            // Without pmaddubsw (SSE2, or the portable build) the same integer sums in floats: every product and
            // every lane's sum of four (≤ 4·127·127) is an exact integer; the plain-Swift byte wrappers ran 500×
            // slower than memory.
            @inline(__always) func block(_ b: Int) -> SIMD8<Float> {
                let w = header + 16 + b * 32, x = xs + b * 32
                return (Lanes.int8(w) * Lanes.int8(x) + Lanes.int8(w, 8) * Lanes.int8(x, 8))
                    + (Lanes.int8(w, 16) * Lanes.int8(x, 16) + Lanes.int8(w, 24) * Lanes.int8(x, 24))
            }
            #else
            @inline(__always) func block(_ b: Int) -> SIMD8<Float> {
                let w = (header + 16 + b * 32).loadUnaligned(as: SIMD32<Int8>.self)
                let x = (xs + b * 32).loadUnaligned(as: SIMD32<Int8>.self)
                let magnitudes = unsafeBitCast(applySigns(w, of: w), to: SIMD32<UInt8>.self)
                #if QWENVL_AVX512
                // One vpdpbusd: the same 32-bit sums of four products as vpmaddubsw + vpmaddwd below.
                return Lanes.floats(multiplyAddQuads(SIMD8<Int32>(), magnitudes, applySigns(x, of: w)))
                #else
                return Lanes.floats(multiplyAddPairs(multiplyAddPairs(magnitudes, applySigns(x, of: w)), ones))
                #endif
            }
            #endif
            var b = 0
            while b < 8 {
                accumulate(&acc0, block(b), SIMD8(repeating: scales[b]))
                accumulate(&acc1, block(b + 1), SIMD8(repeating: scales[b + 1]))
                b += 2
            }
        }
        return (acc0 + acc1).sum()
    }
}

// MARK: - q4 (nibble × byte)

// Decode quantizes x once per product to signed bytes per super-block (`xq = round(x · 127 / max|x|)`, stored in
// the order the nibbles unpack) and multiplies bytes: a 32-byte load holds blocks 2p and 2p+1, whose low nibbles
// (weights 0–15) and high nibbles (16–31) each meet 32 x bytes in one `vpmaddubsw` (|Σ| ≤ 4·15·127 < 2¹⁵), then
// one `vpmaddwd` multiplies by the blocks' 8-bit scale codes and sums pairs into 32 bits (< 2²⁴ per lane, so the
// float conversion is exact). ≈ 1.5 vector ops per 8 weights, as llama.cpp's Q4_K·Q8_K dot.
enum Q4Dot {
    static let superBlockBytes = BlockLayout.q4SuperBlockBytes
    static let quantOffset = BlockLayout.q4QuantOffset

    /// Source index, within a super-block of x, of each position of the quantized x layout (QwenVLCore's
    /// `Q4Blocks.xOrder`): for each pair of blocks `p`, 32 bytes meeting the low nibbles (weights 0–15 of block 2p,
    /// then of block 2p+1) and 32 meeting the high nibbles (weights 16–31 of block 2p, then of block 2p+1).
    @inline(__always)
    static func sourceIndex(_ i: Int) -> Int {
        let p = i / 64, nibble = (i % 64) / 32, lane = i % 32
        return (2 * p + lane / 16) * 32 + 16 * nibble + lane % 16
    }

    /// Per-block sums of `x` (`superBlocks · 8` values), the minimum term of the dot.
    @inline(__always)
    static func blockSums(_ x: UnsafePointer<Float>, superBlocks: Int, into sums: UnsafeMutablePointer<Float>) {
        for k in 0..<(superBlocks * 8) {
            sums[k] = UnsafeRawPointer(x + k * 32).loadUnaligned(as: SIMD32<Float>.self).sum()
        }
    }

    /// Quantizes x (`superBlocks · 256` floats, zero-padded): `xq` gets `superBlocks · 256` Int8 in the layout of
    /// ``sourceIndex(_:)``, `scales` one Float per super-block.
    @inline(__always)
    static func quantizeX(_ x: UnsafePointer<Float>, superBlocks: Int, into xq: UnsafeMutablePointer<Int8>,
                          scales: UnsafeMutablePointer<Float>) {
        for sb in 0..<superBlocks {
            let xs = x + sb * 256
            var m = SIMD8<Float>()
            for i in Swift.stride(from: 0, to: 256, by: 8) {
                m = Block32.max(m, Block32.magnitude(UnsafeRawPointer(xs + i).loadUnaligned(as: SIMD8<Float>.self)))
            }
            let largest = Lanes.max(m)
            let inverse: Float = largest > 0 ? 127 / largest : 0
            scales[sb] = largest > 0 ? largest / 127 : 0
            let out = xq + sb * 256
            for i in 0..<256 { out[i] = Int8((xs[sourceIndex(i)] * inverse).rounded(.toNearestOrEven)) }
        }
    }

    /// `Σ w · x` over one row with x quantized by ``quantizeX(_:superBlocks:into:scales:)``; `blockSums` are the
    /// float per-block sums of x (the minimum term stays exact).
    @inline(__always)
    static func dot(_ row: UnsafeRawPointer, quantizedX xq: UnsafeRawPointer, xScales: UnsafePointer<Float>,
                    blockSums: UnsafePointer<Float>, superBlocks: Int) -> Float {
        let sr = UnsafeRawPointer(blockSums)
        let mask = SIMD16<UInt16>(repeating: 0x0F0F)
        let ahead = GEMVTuning.prefetchDistanceQ4
        var acc = SIMD8<Float>(), accMin = SIMD8<Float>()
        for sb in 0..<superBlocks {
            let header = row + sb * superBlockBytes
            prefetch(header + ahead); prefetch(header + ahead + 64); prefetch(header + ahead + 128)
            let d = header.loadUnaligned(fromByteOffset: 16, as: Float.self)
            let dmin = header.loadUnaligned(fromByteOffset: 20, as: Float.self)
            accumulate(&accMin, Lanes.int8(header, 8) * dmin, sr.loadUnaligned(fromByteOffset: sb * 32, as: SIMD8<Float>.self))
            let codes = header.loadUnaligned(as: SIMD8<UInt8>.self)
            let xs = xq + sb * 256
            // Blocks 2p and 2p+1: 16-bit lanes 0–7 hold block 2p's pair sums, lanes 8–15 block 2p+1's; the
            // multiply by the scale codes folds them into 32-bit lanes 0–3 and 4–7.
            #if KERNELS_BASELINE
            // Without pmaddubsw: the same integers in floats (per block ≤ 32·15·127, times a code ≤ 255, four pairs:
            // < 2²⁴, exact).
            @inline(__always) func pair(_ p: Int) -> SIMD8<Float> {
                let q = header + quantOffset + p * 32, xb = xs + p * 64
                let first = (Lanes.lowNibbles(q) * Lanes.int8(xb) + Lanes.lowNibbles(q, 8) * Lanes.int8(xb, 8))
                    + (Lanes.highNibbles(q) * Lanes.int8(xb, 32) + Lanes.highNibbles(q, 8) * Lanes.int8(xb, 40))
                let second = (Lanes.lowNibbles(q, 16) * Lanes.int8(xb, 16) + Lanes.lowNibbles(q, 24) * Lanes.int8(xb, 24))
                    + (Lanes.highNibbles(q, 16) * Lanes.int8(xb, 48) + Lanes.highNibbles(q, 24) * Lanes.int8(xb, 56))
                return first * Float(codes[2 * p]) + second * Float(codes[2 * p + 1])
            }
            let n = (pair(0) + pair(1)) + (pair(2) + pair(3))
            accumulate(&acc, n, SIMD8(repeating: d * xScales[sb]))
            #else
            @inline(__always) func pair(_ p: Int) -> SIMD8<Int32> {
                // Nibbles masked in 16-bit lanes (byte-lane operators compile to per-lane loops).
                let v = (header + quantOffset + p * 32).loadUnaligned(as: SIMD16<UInt16>.self)
                let low = unsafeBitCast(v & mask, to: SIMD32<UInt8>.self)
                let high = unsafeBitCast((v &>> 4) & mask, to: SIMD32<UInt8>.self)
                let xb = xs + p * 64
                #if QWENVL_AVX512
                // Two vpdpbusd and one 32-bit multiply by the codes: the same integers as the three ops below.
                let quads = multiplyAddQuads(multiplyAddQuads(SIMD8<Int32>(), low, xb.loadUnaligned(as: SIMD32<Int8>.self)),
                                             high, xb.loadUnaligned(fromByteOffset: 32, as: SIMD32<Int8>.self))
                return quads &* SIMD8<Int32>(lowHalf: SIMD4(repeating: Int32(codes[2 * p])), highHalf: SIMD4(repeating: Int32(codes[2 * p + 1])))
                #else
                let sums = multiplyAddPairs(low, xb.loadUnaligned(as: SIMD32<Int8>.self))
                    &+ multiplyAddPairs(high, xb.loadUnaligned(fromByteOffset: 32, as: SIMD32<Int8>.self))
                let scale = SIMD16<Int16>(lowHalf: SIMD8(repeating: Int16(codes[2 * p])),
                                          highHalf: SIMD8(repeating: Int16(codes[2 * p + 1])))
                return multiplyAddPairs(sums, scale)
                #endif
            }
            let n = pair(0) &+ pair(1) &+ pair(2) &+ pair(3)
            accumulate(&acc, Lanes.floats(n), SIMD8(repeating: d * xScales[sb]))
            #endif
        }
        return acc.sum() + accMin.sum()
    }
}

// MARK: - entry points (one per product family; QwenVLCore's KernelSet holds references to them)

/// Which set this module is: "baseline", "avx2" or "avx512".
public let kernelSetName: String = {
    #if KERNELS_AVX512
    return "avx512"
    #elseif KERNELS_AVX2
    return "avx2"
    #else
    return "baseline"
    #endif
}()

/// What each product family runs in this set, for `qwenvl --version` / `inspect` / `bench`.
public let kernelDescriptions: (dense: String, quantized: String) = {
    #if KERNELS_AVX512
    return ("AVX-512 (cascadelake), 512-bit FMA dots", "AVX512-VNNI vpdpbusd integer dots (256-bit)")
    #elseif KERNELS_AVX2
    return ("AVX2 + FMA (haswell), 256-bit FMA dots", "AVX2 vpmaddubsw/vpmaddwd integer dots")
    #else
    #if arch(x86_64)
    return ("baseline x86-64 (SSE2), separate multiply and add", "exact integer sums in float SIMD (no pmaddubsw)")
    #else
    return ("baseline Swift SIMD", "exact integer sums in float SIMD")
    #endif
    #endif
}()

/// bf16 x-preparation: each vector of `x` ([count, cols]) reordered for the pair loads into `out` ([count, cols]).
public func splitBF16(_ x: UnsafePointer<Float>, cols: Int, count: Int, into out: UnsafeMutablePointer<Float>) {
    for b in 0..<count { BF16Pairs.split(x + b * cols, count: cols, into: out + b * cols) }
}

/// bf16 rows `range` of the product: one row at a time for short rows, four rows per x load for long ones.
public func bf16Rows(_ p: DenseProduct, _ range: Range<Int>) {
    let (base, stride, cols, rows, n, x, paired, y) = (p.weights, p.rowStride, p.cols, p.rows, p.count, p.x, p.paired, p.y)
    var r = range.lowerBound
    if cols <= GEMVTuning.singleRowLimit {
        while r < range.upperBound {
            for b in 0..<n { y[b * rows + r] = BF16Pairs.dot(base + r * stride, paired + b * cols, x + b * cols, cols) }
            r += 1
        }
    }
    while r + 4 <= range.upperBound {
        for b in 0..<n {
            let sums = BF16Pairs.dot4(base + r * stride, stride: stride, paired + b * cols, x + b * cols, cols)
            let out = y + b * rows
            out[r] = sums[0]; out[r + 1] = sums[1]; out[r + 2] = sums[2]; out[r + 3] = sums[3]
        }
        r += 4
    }
    while r < range.upperBound {
        for b in 0..<n { y[b * rows + r] = dotBF16(base + r * stride, x + b * cols, cols) }
        r += 1
    }
}

/// f32 rows `range` of the product (grouping as for bf16).
public func f32Rows(_ p: DenseProduct, _ range: Range<Int>) {
    let (base, stride, cols, rows, n, x, y) = (p.weights, p.rowStride, p.cols, p.rows, p.count, p.x, p.y)
    var r = range.lowerBound
    while cols <= GEMVTuning.singleRowLimit && r < range.upperBound {
        for b in 0..<n { y[b * rows + r] = dotF32(base + r * stride, x + b * cols, cols) }
        r += 1
    }
    while r + 4 <= range.upperBound {
        for b in 0..<n {
            let sums = dotF32x4(base + r * stride, stride: stride, x + b * cols, cols)
            let out = y + b * rows
            out[r] = sums[0]; out[r + 1] = sums[1]; out[r + 2] = sums[2]; out[r + 3] = sums[3]
        }
        r += 4
    }
    while r < range.upperBound {
        for b in 0..<n { y[b * rows + r] = dotF32(base + r * stride, x + b * cols, cols) }
        r += 1
    }
}

/// f16 rows `range` of the product.
public func f16Rows(_ p: DenseProduct, _ range: Range<Int>) {
    for r in range {
        for b in 0..<p.count { p.y[b * p.rows + r] = dotF16(p.weights + r * p.rowStride, p.x + b * p.cols, p.cols) }
    }
}

/// q8 x-preparation for one vector (`superBlocks · 256` floats, zero-padded): bytes and one scale per block.
public func quantizeQ8(_ x: UnsafePointer<Float>, superBlocks: Int, into xq: UnsafeMutablePointer<Int8>,
                       scales: UnsafeMutablePointer<Float>) {
    Q8Dot.quantizeX(x, superBlocks: superBlocks, into: xq, scales: scales)
}

/// q4 x-preparation for one vector: per-block sums, bytes in the nibble order, one scale per super-block.
public func quantizeQ4(_ x: UnsafePointer<Float>, superBlocks: Int, into xq: UnsafeMutablePointer<Int8>,
                       scales: UnsafeMutablePointer<Float>, blockSums: UnsafeMutablePointer<Float>) {
    Q4Dot.blockSums(x, superBlocks: superBlocks, into: blockSums)
    Q4Dot.quantizeX(x, superBlocks: superBlocks, into: xq, scales: scales)
}

/// q8 rows `range` of the product, one row at a time (x as bytes stays in L1).
public func q8Rows(_ p: QuantizedProduct, _ range: Range<Int>) {
    for r in range {
        let row = p.weights + r * p.rowStride
        for b in 0..<p.count {
            p.y[b * p.rows + r] = Q8Dot.dot(row, quantizedX: p.xq + b * p.byteStride, xScales: p.xScales + b * p.scaleStride,
                                            superBlocks: p.superBlocks)
        }
    }
}

/// q4 rows `range` of the product, one row at a time.
public func q4Rows(_ p: QuantizedProduct, _ range: Range<Int>) {
    for r in range {
        let row = p.weights + r * p.rowStride
        for b in 0..<p.count {
            p.y[b * p.rows + r] = Q4Dot.dot(row, quantizedX: p.xq + b * p.byteStride, xScales: p.xScales + b * p.scaleStride,
                                            blockSums: p.blockSums + b * p.sumStride, superBlocks: p.superBlocks)
        }
    }
}
