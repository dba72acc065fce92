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
    typealias PairVector = SIMD16<UInt32>
    typealias FloatVector = SIMD16<Float>
    #else
    static let group = 16
    typealias PairVector = SIMD8<UInt32>
    typealias FloatVector = SIMD8<Float>
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
    // The AVX-512 forms keep the 32-value groups (and the 16-lane accumulators the batched dots share) but run
    // them as two 256-bit halves: lane j of a 16-lane accumulator is lane j of its low half for j < 8, lane j − 8 of
    // its high half otherwise, and every lane sees the same fused multiply-adds in the same order, so the results
    // have the bits of 512-bit arithmetic. On Zen 4, which splits 512-bit operations in two, the 256-bit loop
    // streams rows faster (2 cores, interleaved decode runs: 8.8–9.7 → 9.9–10.2 tok/s at bf16).

    /// Dot products of four bf16 rows (`stride` bytes apart) with x; `paired` is x after ``split(_:count:into:)``
    /// (groups of 32: 16 pairs per row and step, as two 8-pair halves).
    @inline(__always)
    static func dot4(_ w: UnsafeRawPointer, stride: Int, _ paired: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) -> SIMD4<Float> {
        let mask = SIMD8<UInt32>(repeating: 0xFFFF_0000)
        var e0l = SIMD8<Float>(), e0h = SIMD8<Float>(), o0l = SIMD8<Float>(), o0h = SIMD8<Float>()
        var e1l = SIMD8<Float>(), e1h = SIMD8<Float>(), o1l = SIMD8<Float>(), o1h = SIMD8<Float>()
        var e2l = SIMD8<Float>(), e2h = SIMD8<Float>(), o2l = SIMD8<Float>(), o2h = SIMD8<Float>()
        var e3l = SIMD8<Float>(), e3h = SIMD8<Float>(), o3l = SIMD8<Float>(), o3h = SIMD8<Float>()
        let xr = UnsafeRawPointer(paired)
        let w1 = w + stride, w2 = w + 2 * stride, w3 = w + 3 * stride
        var i = 0
        let ahead = GEMVTuning.prefetchDistanceBF16
        @inline(__always) func row(_ wr: UnsafeRawPointer, _ el: inout SIMD8<Float>, _ eh: inout SIMD8<Float>,
                                   _ ol: inout SIMD8<Float>, _ oh: inout SIMD8<Float>, _ xel: SIMD8<Float>, _ xeh: SIMD8<Float>,
                                   _ xol: SIMD8<Float>, _ xoh: SIMD8<Float>, _ i: Int) {
            let pl = wr.loadUnaligned(fromByteOffset: i * 2, as: SIMD8<UInt32>.self)
            let ph = wr.loadUnaligned(fromByteOffset: i * 2 + 32, as: SIMD8<UInt32>.self)
            accumulate(&el, unsafeBitCast(pl &<< 16, to: SIMD8<Float>.self), xel)
            accumulate(&eh, unsafeBitCast(ph &<< 16, to: SIMD8<Float>.self), xeh)
            accumulate(&ol, unsafeBitCast(pl & mask, to: SIMD8<Float>.self), xol)
            accumulate(&oh, unsafeBitCast(ph & mask, to: SIMD8<Float>.self), xoh)
        }
        while i + 32 <= n {
            if ahead > 0 {
                prefetch(w + i * 2 + ahead); prefetch(w1 + i * 2 + ahead)
                prefetch(w2 + i * 2 + ahead); prefetch(w3 + i * 2 + ahead)
            }
            let xel = xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            let xeh = xr.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self)
            let xol = xr.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD8<Float>.self)
            let xoh = xr.loadUnaligned(fromByteOffset: i * 4 + 96, as: SIMD8<Float>.self)
            row(w, &e0l, &e0h, &o0l, &o0h, xel, xeh, xol, xoh, i)
            row(w1, &e1l, &e1h, &o1l, &o1h, xel, xeh, xol, xoh, i)
            row(w2, &e2l, &e2h, &o2l, &o2h, xel, xeh, xol, xoh, i)
            row(w3, &e3l, &e3h, &o3l, &o3h, xel, xeh, xol, xoh, i)
            i += 32
        }
        @inline(__always) func whole(_ l: SIMD8<Float>, _ h: SIMD8<Float>) -> SIMD16<Float> { SIMD16(lowHalf: l, highHalf: h) }
        var sums = SIMD4<Float>((whole(e0l, e0h) + whole(o0l, o0h)).sum(), (whole(e1l, e1h) + whole(o1l, o1h)).sum(),
                                (whole(e2l, e2h) + whole(o2l, o2h)).sum(), (whole(e3l, e3h) + whole(o3l, o3h)).sum())
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
    /// four 8-pair halves (two groups of 32).
    @inline(__always)
    static func dot(_ w: UnsafeRawPointer, _ paired: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
        let mask = SIMD8<UInt32>(repeating: 0xFFFF_0000)
        var e0l = SIMD8<Float>(), e0h = SIMD8<Float>(), o0l = SIMD8<Float>(), o0h = SIMD8<Float>()
        var e1l = SIMD8<Float>(), e1h = SIMD8<Float>(), o1l = SIMD8<Float>(), o1h = SIMD8<Float>()
        let xr = UnsafeRawPointer(paired)
        var i = 0
        let ahead = GEMVTuning.prefetchDistanceBF16
        while i + 64 <= n {
            if ahead > 0 { prefetch(w + i * 2 + ahead); prefetch(w + i * 2 + ahead + 64) }
            let p0l = w.loadUnaligned(fromByteOffset: i * 2, as: SIMD8<UInt32>.self)
            let p0h = w.loadUnaligned(fromByteOffset: i * 2 + 32, as: SIMD8<UInt32>.self)
            let p1l = w.loadUnaligned(fromByteOffset: i * 2 + 64, as: SIMD8<UInt32>.self)
            let p1h = w.loadUnaligned(fromByteOffset: i * 2 + 96, as: SIMD8<UInt32>.self)
            accumulate(&e0l, unsafeBitCast(p0l &<< 16, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
            accumulate(&e0h, unsafeBitCast(p0h &<< 16, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self))
            accumulate(&o0l, unsafeBitCast(p0l & mask, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD8<Float>.self))
            accumulate(&o0h, unsafeBitCast(p0h & mask, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 96, as: SIMD8<Float>.self))
            accumulate(&e1l, unsafeBitCast(p1l &<< 16, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 128, as: SIMD8<Float>.self))
            accumulate(&e1h, unsafeBitCast(p1h &<< 16, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 160, as: SIMD8<Float>.self))
            accumulate(&o1l, unsafeBitCast(p1l & mask, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 192, as: SIMD8<Float>.self))
            accumulate(&o1h, unsafeBitCast(p1h & mask, to: SIMD8<Float>.self), xr.loadUnaligned(fromByteOffset: i * 4 + 224, as: SIMD8<Float>.self))
            i += 64
        }
        let e0 = SIMD16(lowHalf: e0l, highHalf: e0h), o0 = SIMD16(lowHalf: o0l, highHalf: o0h)
        let e1 = SIMD16(lowHalf: e1l, highHalf: e1h), o1 = SIMD16(lowHalf: o1l, highHalf: o1h)
        return finishDot(((e0 + o0) + (e1 + o1)).sum(), w, paired, x, n, from: i)
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
                if ahead > 0 { prefetch(w + i * 2 + ahead); prefetch(w1 + i * 2 + ahead) }
                if ahead > 0 { prefetch(w2 + i * 2 + ahead); prefetch(w3 + i * 2 + ahead) }
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
            if ahead > 0 { prefetch(w + i * 2 + ahead); prefetch(w + i * 2 + ahead + 64) }
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
        return finishDot(((e0 + o0) + (e1 + o1) + ((e2 + o2) + (e3 + o3))).sum(), w, paired, x, n, from: i)
    }
    #endif

    /// The end of ``dot(_:_:_:_:)`` after its 64-value steps (`sum` = their reduced accumulators, `i` the first
    /// value left): whole pair registers one at a time, then single values. Shared with the batched dots, so a
    /// sequence's result has the same bits in a batch as alone.
    @inline(__always)
    static func finishDot(_ sum: Float, _ w: UnsafeRawPointer, _ paired: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                          _ n: Int, from start: Int) -> Float {
        let mask = PairVector(repeating: 0xFFFF_0000)
        let xr = UnsafeRawPointer(paired)
        var sum = sum, i = start
        while i + group <= n {
            let p = w.loadUnaligned(fromByteOffset: i * 2, as: PairVector.self)
            var a = unsafeBitCast(p &<< 16, to: FloatVector.self) * xr.loadUnaligned(fromByteOffset: i * 4, as: FloatVector.self)
            accumulate(&a, unsafeBitCast(p & mask, to: FloatVector.self), xr.loadUnaligned(fromByteOffset: i * 4 + group * 2, as: FloatVector.self))
            sum += a.sum()
            i += group
        }
        while i < n {
            sum += bf16Value(w.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) * x[i]
            i += 1
        }
        return sum
    }
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
            if ahead > 0 { prefetch(header + ahead); prefetch(header + ahead + 64); prefetch(header + ahead + 128) }
            if ahead > 0 { prefetch(header + ahead + 192); prefetch(header + ahead + 256) }
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
            if ahead > 0 { prefetch(header + ahead); prefetch(header + ahead + 64); prefetch(header + ahead + 128) }
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

// MARK: - batched dots (one weight row unpacked once for several sequences)

// A decode step of n sequences multiplies every weight row with n vectors. The one-vector dots above unpack
// (bf16: widen, q8: take magnitudes, q4: split nibbles) each block of weights per vector; the batched forms below
// unpack it once and multiply it into every sequence of a group, whose accumulators sit in registers side by
// side (a type-level list, `Sequence…<Sequence…<…<NoSequences>>>`, one node per sequence, flattened to plain
// registers by specialization). Each sequence's accumulators see exactly the operations, in the order, of its
// one-vector dot, so its result has the same bits: a sequence decodes the same tokens in a batch as alone.

/// Sequences per group of the batched dots: enough accumulators to share each unpacked block, few enough to stay
/// in registers (32 vector registers with AVX-512, 16 otherwise). The AVX2 and baseline sets' bf16 rows use the
/// two-row × two-sequence tiles of `BF16Tiles` (BatchedBF16Tiles.swift) instead.
enum BatchGroup {
    #if QWENVL_AVX512
    /// q8 and q4 rows (two accumulators per sequence).
    static var quantized: Int { 8 }
    #else
    static var quantized: Int { 4 }
    #endif
}

/// One register of bf16 pairs widened: the even-indexed values and the odd-indexed ones, as floats.
struct WidePairs {
    var even: BF16Pairs.FloatVector, odd: BF16Pairs.FloatVector

    @inline(__always)
    init(_ w: UnsafeRawPointer, _ byteOffset: Int) {
        let p = w.loadUnaligned(fromByteOffset: byteOffset, as: BF16Pairs.PairVector.self)
        even = unsafeBitCast(p &<< 16, to: BF16Pairs.FloatVector.self)
        odd = unsafeBitCast(p & BF16Pairs.PairVector(repeating: 0xFFFF_0000), to: BF16Pairs.FloatVector.self)
    }
}

#if QWENVL_AVX512
/// Sequences sharing one bf16 row of ≤ ``GEMVTuning/singleRowLimit`` values (AVX-512): each with the
/// accumulators of ``BF16Pairs/dot(_:_:_:_:)``.
protocol ShortRowSequences {
    /// Sequences from `paired` / `x` on (one every `cols` values).
    init(paired: UnsafePointer<Float>, x: UnsafePointer<Float>, cols: Int)
    /// One 64-value step at `i`: the row's two pair registers.
    mutating func addStep(_ w0: WidePairs, _ w1: WidePairs, at i: Int)
    /// Reduces, finishes from `i` and stores each result at `out` (then `out + outStride`, …).
    func finish(_ w: UnsafeRawPointer, cols: Int, from i: Int, into out: UnsafeMutablePointer<Float>, outStride: Int)
}

/// The end of a list of sequences.
struct NoSequences: ShortRowSequences {
    @inline(__always) init(paired: UnsafePointer<Float>, x: UnsafePointer<Float>, cols: Int) {}
    @inline(__always) mutating func addStep(_ w0: WidePairs, _ w1: WidePairs, at i: Int) {}
    @inline(__always) func finish(_ w: UnsafeRawPointer, cols: Int, from i: Int, into out: UnsafeMutablePointer<Float>, outStride: Int) {}
}

/// One sequence of a ``ShortRowSequences`` list, then the rest.
struct ShortRowSequence<Rest: ShortRowSequences>: ShortRowSequences {
    let paired: UnsafePointer<Float>, x: UnsafePointer<Float>
    var e0 = BF16Pairs.FloatVector(), o0 = BF16Pairs.FloatVector(), e1 = BF16Pairs.FloatVector(), o1 = BF16Pairs.FloatVector()
    var rest: Rest

    @inline(__always)
    init(paired: UnsafePointer<Float>, x: UnsafePointer<Float>, cols: Int) {
        (self.paired, self.x) = (paired, x)
        rest = Rest(paired: paired + cols, x: x + cols, cols: cols)
    }

    @inline(__always)
    mutating func addStep(_ w0: WidePairs, _ w1: WidePairs, at i: Int) {
        let xr = UnsafeRawPointer(paired)
        let g = BF16Pairs.group * 4      // bytes of x per pair register
        accumulate(&e0, w0.even, xr.loadUnaligned(fromByteOffset: i * 4, as: BF16Pairs.FloatVector.self))
        accumulate(&o0, w0.odd, xr.loadUnaligned(fromByteOffset: i * 4 + g / 2, as: BF16Pairs.FloatVector.self))
        accumulate(&e1, w1.even, xr.loadUnaligned(fromByteOffset: i * 4 + g, as: BF16Pairs.FloatVector.self))
        accumulate(&o1, w1.odd, xr.loadUnaligned(fromByteOffset: i * 4 + g + g / 2, as: BF16Pairs.FloatVector.self))
        rest.addStep(w0, w1, at: i)
    }

    @inline(__always)
    func finish(_ w: UnsafeRawPointer, cols: Int, from i: Int, into out: UnsafeMutablePointer<Float>, outStride: Int) {
        let sum = ((e0 + o0) + (e1 + o1)).sum()
        out.pointee = BF16Pairs.finishDot(sum, w, paired, x, cols, from: i)
        rest.finish(w, cols: cols, from: i, into: out + outStride, outStride: outStride)
    }
}

/// Sequences sharing two bf16 rows of ≤ ``GEMVTuning/singleRowLimit`` values (AVX-512): each x load serves both
/// rows, each widened register all sequences; per row and sequence the accumulators of ``BF16Pairs/dot(_:_:_:_:)``.
protocol ShortRowPairSequences {
    init(paired: UnsafePointer<Float>, x: UnsafePointer<Float>, cols: Int)
    /// One 64-value step at `i`: row a's pair registers `a0`, `a1` and row b's `b0`, `b1`.
    mutating func add(_ a0: WidePairs, _ a1: WidePairs, _ b0: WidePairs, _ b1: WidePairs, at i: Int)
    /// Stores row a's result at `out`, row b's at `out + 1` (next sequence: `out + outStride`).
    func finish(_ wa: UnsafeRawPointer, _ wb: UnsafeRawPointer, cols: Int, from i: Int, into out: UnsafeMutablePointer<Float>, outStride: Int)
}

extension NoSequences: ShortRowPairSequences {
    @inline(__always) mutating func add(_ a0: WidePairs, _ a1: WidePairs, _ b0: WidePairs, _ b1: WidePairs, at i: Int) {}
    @inline(__always) func finish(_ wa: UnsafeRawPointer, _ wb: UnsafeRawPointer, cols: Int, from i: Int,
                                  into out: UnsafeMutablePointer<Float>, outStride: Int) {}
}

/// One sequence of a ``ShortRowPairSequences`` list, then the rest.
struct ShortRowPairSequence<Rest: ShortRowPairSequences>: ShortRowPairSequences {
    let paired: UnsafePointer<Float>, x: UnsafePointer<Float>
    var ea0 = SIMD16<Float>(), oa0 = SIMD16<Float>(), ea1 = SIMD16<Float>(), oa1 = SIMD16<Float>()
    var eb0 = SIMD16<Float>(), ob0 = SIMD16<Float>(), eb1 = SIMD16<Float>(), ob1 = SIMD16<Float>()
    var rest: Rest

    @inline(__always)
    init(paired: UnsafePointer<Float>, x: UnsafePointer<Float>, cols: Int) {
        (self.paired, self.x) = (paired, x)
        rest = Rest(paired: paired + cols, x: x + cols, cols: cols)
    }

    @inline(__always)
    mutating func add(_ a0: WidePairs, _ a1: WidePairs, _ b0: WidePairs, _ b1: WidePairs, at i: Int) {
        let xr = UnsafeRawPointer(paired)
        let xe0 = xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        let xo0 = xr.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self)
        accumulate(&ea0, a0.even, xe0); accumulate(&eb0, b0.even, xe0)
        accumulate(&oa0, a0.odd, xo0); accumulate(&ob0, b0.odd, xo0)
        let xe1 = xr.loadUnaligned(fromByteOffset: i * 4 + 128, as: SIMD16<Float>.self)
        let xo1 = xr.loadUnaligned(fromByteOffset: i * 4 + 192, as: SIMD16<Float>.self)
        accumulate(&ea1, a1.even, xe1); accumulate(&eb1, b1.even, xe1)
        accumulate(&oa1, a1.odd, xo1); accumulate(&ob1, b1.odd, xo1)
        rest.add(a0, a1, b0, b1, at: i)
    }

    @inline(__always)
    func finish(_ wa: UnsafeRawPointer, _ wb: UnsafeRawPointer, cols: Int, from i: Int, into out: UnsafeMutablePointer<Float>, outStride: Int) {
        out[0] = BF16Pairs.finishDot(((ea0 + oa0) + (ea1 + oa1)).sum(), wa, paired, x, cols, from: i)
        out[1] = BF16Pairs.finishDot(((eb0 + ob0) + (eb1 + ob1)).sum(), wb, paired, x, cols, from: i)
        rest.finish(wa, wb, cols: cols, from: i, into: out + outStride, outStride: outStride)
    }
}

/// Sequences sharing two long bf16 rows (AVX-512): each x load serves both rows; per row and sequence the two
/// accumulators of one row of ``BF16Pairs/dot4(_:stride:_:_:_:)``.
protocol LongRowPairSequences {
    init(paired: UnsafePointer<Float>, x: UnsafePointer<Float>, cols: Int)
    mutating func add(_ a: WidePairs, _ b: WidePairs, at i: Int)
    func finish(_ wa: UnsafeRawPointer, _ wb: UnsafeRawPointer, cols: Int, from i: Int, into out: UnsafeMutablePointer<Float>, outStride: Int)
}

extension NoSequences: LongRowPairSequences {
    @inline(__always) mutating func add(_ a: WidePairs, _ b: WidePairs, at i: Int) {}
}

/// One sequence of a ``LongRowPairSequences`` list, then the rest.
struct LongRowPairSequence<Rest: LongRowPairSequences>: LongRowPairSequences {
    let paired: UnsafePointer<Float>, x: UnsafePointer<Float>
    var ea = SIMD16<Float>(), oa = SIMD16<Float>(), eb = SIMD16<Float>(), ob = SIMD16<Float>()
    var rest: Rest

    @inline(__always)
    init(paired: UnsafePointer<Float>, x: UnsafePointer<Float>, cols: Int) {
        (self.paired, self.x) = (paired, x)
        rest = Rest(paired: paired + cols, x: x + cols, cols: cols)
    }

    @inline(__always)
    mutating func add(_ a: WidePairs, _ b: WidePairs, at i: Int) {
        let xr = UnsafeRawPointer(paired)
        let xe = xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        let xo = xr.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self)
        accumulate(&ea, a.even, xe); accumulate(&eb, b.even, xe)
        accumulate(&oa, a.odd, xo); accumulate(&ob, b.odd, xo)
        rest.add(a, b, at: i)
    }

    @inline(__always)
    func finish(_ wa: UnsafeRawPointer, _ wb: UnsafeRawPointer, cols: Int, from start: Int, into out: UnsafeMutablePointer<Float>, outStride: Int) {
        var sa = (ea + oa).sum(), sb = (eb + ob).sum(), i = start
        while i < cols {
            let xi = x[i]
            sa += bf16Value(wa.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) * xi
            sb += bf16Value(wb.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) * xi
            i += 1
        }
        out[0] = sa
        out[1] = sb
        rest.finish(wa, wb, cols: cols, from: start, into: out + outStride, outStride: outStride)
    }
}

typealias LongPair1 = LongRowPairSequence<NoSequences>
typealias LongPair2 = LongRowPairSequence<LongPair1>
typealias LongPair3 = LongRowPairSequence<LongPair2>
typealias LongPair4 = LongRowPairSequence<LongPair3>

extension BF16Pairs {
    /// Two long rows times the sequences of `S`; results at `out` / `out + 1`, then `+ outStride`, ….
    @inline(__always)
    static func longRowPair<S: LongRowPairSequences>(_: S.Type, _ wa: UnsafeRawPointer, _ wb: UnsafeRawPointer,
                                                     _ paired: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ cols: Int,
                                                     _ out: UnsafeMutablePointer<Float>, _ outStride: Int) {
        var sequences = S(paired: paired, x: x, cols: cols)
        var i = 0
        let ahead = GEMVTuning.prefetchDistanceBF16
        while i + 32 <= cols {
            if ahead > 0 { prefetch(wa + i * 2 + ahead); prefetch(wb + i * 2 + ahead) }
            sequences.add(WidePairs(wa, i * 2), WidePairs(wb, i * 2), at: i)
            i += 32
        }
        sequences.finish(wa, wb, cols: cols, from: i, into: out, outStride: outStride)
    }

    /// ``longRowPair(_:_:_:_:_:_:_:_:)`` for `count` (1…4) sequences.
    @inline(__always)
    static func longRowPair(count: Int, _ wa: UnsafeRawPointer, _ wb: UnsafeRawPointer, _ paired: UnsafePointer<Float>,
                            _ x: UnsafePointer<Float>, _ cols: Int, _ out: UnsafeMutablePointer<Float>, _ outStride: Int) {
        switch count {
        case 1: longRowPair(LongPair1.self, wa, wb, paired, x, cols, out, outStride)
        case 2: longRowPair(LongPair2.self, wa, wb, paired, x, cols, out, outStride)
        case 3: longRowPair(LongPair3.self, wa, wb, paired, x, cols, out, outStride)
        case 4: longRowPair(LongPair4.self, wa, wb, paired, x, cols, out, outStride)
        default: preconditionFailure("BF16Pairs.longRowPair: \(count) sequences in one group")
        }
    }
}

typealias ShortPair1 = ShortRowPairSequence<NoSequences>
typealias ShortPair2 = ShortRowPairSequence<ShortPair1>

extension BF16Pairs {
    /// Two short rows (`wa`, `wb`) times the sequences of `S`; results at `out` / `out + 1`, then `+ outStride`, ….
    @inline(__always)
    static func shortRowPair<S: ShortRowPairSequences>(_: S.Type, _ wa: UnsafeRawPointer, _ wb: UnsafeRawPointer,
                                                       _ paired: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ cols: Int,
                                                       _ out: UnsafeMutablePointer<Float>, _ outStride: Int) {
        var sequences = S(paired: paired, x: x, cols: cols)
        var i = 0
        let ahead = GEMVTuning.prefetchDistanceBF16
        while i + 64 <= cols {
            if ahead > 0 { prefetch(wa + i * 2 + ahead); prefetch(wa + i * 2 + ahead + 64) }
            if ahead > 0 { prefetch(wb + i * 2 + ahead); prefetch(wb + i * 2 + ahead + 64) }
            sequences.add(WidePairs(wa, i * 2), WidePairs(wa, i * 2 + 64), WidePairs(wb, i * 2), WidePairs(wb, i * 2 + 64), at: i)
            i += 64
        }
        sequences.finish(wa, wb, cols: cols, from: i, into: out, outStride: outStride)
    }
}

typealias Short1 = ShortRowSequence<NoSequences>
typealias Short2 = ShortRowSequence<Short1>

extension BF16Pairs {
    /// One short row (`cols` ≤ ``GEMVTuning/singleRowLimit``) times the sequences of `S`, whose vectors start at
    /// `paired` / `x` (one every `cols` values); results at `out`, `out + outStride`, ….
    @inline(__always)
    static func shortRow<S: ShortRowSequences>(_: S.Type, _ w: UnsafeRawPointer, _ paired: UnsafePointer<Float>,
                                               _ x: UnsafePointer<Float>, _ cols: Int, _ out: UnsafeMutablePointer<Float>, _ outStride: Int) {
        var sequences = S(paired: paired, x: x, cols: cols)
        var i = 0
        let ahead = GEMVTuning.prefetchDistanceBF16
        while i + 64 <= cols {
            if ahead > 0 { prefetch(w + i * 2 + ahead); prefetch(w + i * 2 + ahead + 64) }
            sequences.addStep(WidePairs(w, i * 2), WidePairs(w, i * 2 + group * 2), at: i)
            i += 64
        }
        sequences.finish(w, cols: cols, from: i, into: out, outStride: outStride)
    }

    /// ``shortRow(_:_:_:_:_:_:_:)`` for one or two sequences.
    @inline(__always)
    static func shortRow(count: Int, _ w: UnsafeRawPointer, _ paired: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                         _ cols: Int, _ out: UnsafeMutablePointer<Float>, _ outStride: Int) {
        switch count {
        case 1: shortRow(Short1.self, w, paired, x, cols, out, outStride)
        case 2: shortRow(Short2.self, w, paired, x, cols, out, outStride)
        default: preconditionFailure("BF16Pairs.shortRow: \(count) sequences in one group")
        }
    }
}
#endif

#if !KERNELS_BASELINE
/// Sequences sharing one q8 row: each with the accumulators of ``Q8Dot/dot(_:quantizedX:xScales:superBlocks:)``.
protocol Q8Sequences {
    init(_ p: QuantizedProduct, from b: Int)
    /// Blocks `b` and `b + 1` of super-block `sb`: their weights `w0`, `w1`, magnitudes and `d_w` scales.
    mutating func add(_ w0: SIMD32<Int8>, _ m0: SIMD32<UInt8>, _ w1: SIMD32<Int8>, _ m1: SIMD32<UInt8>,
                      block b: Int, superBlock sb: Int, scales d0: Float, _ d1: Float)
    func finish(into out: UnsafeMutablePointer<Float>, outStride: Int)
}

/// Sequences sharing one q4 row: each with the accumulators of
/// ``Q4Dot/dot(_:quantizedX:xScales:blockSums:superBlocks:)``.
protocol Q4Sequences {
    init(_ p: QuantizedProduct, from b: Int)
    /// Starts super-block `sb`: its minimum term (`mins` = the blocks' `m · dmin`).
    mutating func start(superBlock sb: Int, mins: SIMD8<Float>)
    /// Blocks 2p and 2p+1: their low and high nibbles and scale codes.
    #if QWENVL_AVX512
    mutating func add(pair p: Int, superBlock sb: Int, _ low: SIMD32<UInt8>, _ high: SIMD32<UInt8>, codes: SIMD8<Int32>)
    #else
    mutating func add(pair p: Int, superBlock sb: Int, _ low: SIMD32<UInt8>, _ high: SIMD32<UInt8>, codes: SIMD16<Int16>)
    #endif
    /// Ends super-block `sb` (`d` = its scale).
    mutating func end(superBlock sb: Int, d: Float)
    func finish(into out: UnsafeMutablePointer<Float>, outStride: Int)
}

struct NoQuantizedSequences: Q8Sequences, Q4Sequences {
    @inline(__always) init(_ p: QuantizedProduct, from b: Int) {}
    @inline(__always) mutating func add(_ w0: SIMD32<Int8>, _ m0: SIMD32<UInt8>, _ w1: SIMD32<Int8>, _ m1: SIMD32<UInt8>,
                                        block b: Int, superBlock sb: Int, scales d0: Float, _ d1: Float) {}
    @inline(__always) func finish(into out: UnsafeMutablePointer<Float>, outStride: Int) {}
    @inline(__always) mutating func start(superBlock sb: Int, mins: SIMD8<Float>) {}
    #if QWENVL_AVX512
    @inline(__always) mutating func add(pair p: Int, superBlock sb: Int, _ low: SIMD32<UInt8>, _ high: SIMD32<UInt8>, codes: SIMD8<Int32>) {}
    #else
    @inline(__always) mutating func add(pair p: Int, superBlock sb: Int, _ low: SIMD32<UInt8>, _ high: SIMD32<UInt8>, codes: SIMD16<Int16>) {}
    #endif
    @inline(__always) mutating func end(superBlock sb: Int, d: Float) {}
}

/// One sequence of a ``Q8Sequences`` list, then the rest.
struct Q8Sequence<Rest: Q8Sequences>: Q8Sequences {
    let xq: UnsafeRawPointer, xScales: UnsafePointer<Float>
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
    var rest: Rest

    @inline(__always)
    init(_ p: QuantizedProduct, from b: Int) {
        xq = p.xq + b * p.byteStride
        xScales = p.xScales + b * p.scaleStride
        rest = Rest(p, from: b + 1)
    }

    @inline(__always)
    mutating func add(_ w0: SIMD32<Int8>, _ m0: SIMD32<UInt8>, _ w1: SIMD32<Int8>, _ m1: SIMD32<UInt8>,
                      block b: Int, superBlock sb: Int, scales d0: Float, _ d1: Float) {
        let x0 = (xq + sb * 256 + b * 32).loadUnaligned(as: SIMD32<Int8>.self)
        let x1 = (xq + sb * 256 + b * 32 + 32).loadUnaligned(as: SIMD32<Int8>.self)
        #if QWENVL_AVX512
        let s0 = Lanes.floats(multiplyAddQuads(SIMD8<Int32>(), m0, applySigns(x0, of: w0)))
        let s1 = Lanes.floats(multiplyAddQuads(SIMD8<Int32>(), m1, applySigns(x1, of: w1)))
        #else
        let ones = SIMD16<Int16>(repeating: 1)
        let s0 = Lanes.floats(multiplyAddPairs(multiplyAddPairs(m0, applySigns(x0, of: w0)), ones))
        let s1 = Lanes.floats(multiplyAddPairs(multiplyAddPairs(m1, applySigns(x1, of: w1)), ones))
        #endif
        // d_w · d_x lane by lane, as the one-vector dot's vector product of the two.
        accumulate(&acc0, s0, SIMD8(repeating: d0 * xScales[sb * 8 + b]))
        accumulate(&acc1, s1, SIMD8(repeating: d1 * xScales[sb * 8 + b + 1]))
        rest.add(w0, m0, w1, m1, block: b, superBlock: sb, scales: d0, d1)
    }

    @inline(__always)
    func finish(into out: UnsafeMutablePointer<Float>, outStride: Int) {
        out.pointee = (acc0 + acc1).sum()
        rest.finish(into: out + outStride, outStride: outStride)
    }
}

/// One sequence of a ``Q4Sequences`` list, then the rest.
struct Q4Sequence<Rest: Q4Sequences>: Q4Sequences {
    let xq: UnsafeRawPointer, xScales: UnsafePointer<Float>, blockSums: UnsafePointer<Float>
    var acc = SIMD8<Float>(), accMin = SIMD8<Float>(), sum = SIMD8<Int32>()
    var rest: Rest

    @inline(__always)
    init(_ p: QuantizedProduct, from b: Int) {
        xq = p.xq + b * p.byteStride
        xScales = p.xScales + b * p.scaleStride
        blockSums = p.blockSums + b * p.sumStride
        rest = Rest(p, from: b + 1)
    }

    @inline(__always)
    mutating func start(superBlock sb: Int, mins: SIMD8<Float>) {
        accumulate(&accMin, mins, UnsafeRawPointer(blockSums).loadUnaligned(fromByteOffset: sb * 32, as: SIMD8<Float>.self))
        sum = SIMD8<Int32>()
        rest.start(superBlock: sb, mins: mins)
    }

    #if QWENVL_AVX512
    @inline(__always)
    mutating func add(pair p: Int, superBlock sb: Int, _ low: SIMD32<UInt8>, _ high: SIMD32<UInt8>, codes: SIMD8<Int32>) {
        let xb = xq + sb * 256 + p * 64
        let quads = multiplyAddQuads(multiplyAddQuads(SIMD8<Int32>(), low, xb.loadUnaligned(as: SIMD32<Int8>.self)),
                                     high, xb.loadUnaligned(fromByteOffset: 32, as: SIMD32<Int8>.self))
        sum = sum &+ quads &* codes
        rest.add(pair: p, superBlock: sb, low, high, codes: codes)
    }
    #else
    @inline(__always)
    mutating func add(pair p: Int, superBlock sb: Int, _ low: SIMD32<UInt8>, _ high: SIMD32<UInt8>, codes: SIMD16<Int16>) {
        let xb = xq + sb * 256 + p * 64
        let sums = multiplyAddPairs(low, xb.loadUnaligned(as: SIMD32<Int8>.self))
            &+ multiplyAddPairs(high, xb.loadUnaligned(fromByteOffset: 32, as: SIMD32<Int8>.self))
        sum = sum &+ multiplyAddPairs(sums, codes)
        rest.add(pair: p, superBlock: sb, low, high, codes: codes)
    }
    #endif

    @inline(__always)
    mutating func end(superBlock sb: Int, d: Float) {
        accumulate(&acc, Lanes.floats(sum), SIMD8(repeating: d * xScales[sb]))
        rest.end(superBlock: sb, d: d)
    }

    @inline(__always)
    func finish(into out: UnsafeMutablePointer<Float>, outStride: Int) {
        out.pointee = acc.sum() + accMin.sum()
        rest.finish(into: out + outStride, outStride: outStride)
    }
}

typealias Q8x1 = Q8Sequence<NoQuantizedSequences>
typealias Q8x2 = Q8Sequence<Q8x1>
typealias Q8x3 = Q8Sequence<Q8x2>
typealias Q8x4 = Q8Sequence<Q8x3>
typealias Q8x5 = Q8Sequence<Q8x4>
typealias Q8x6 = Q8Sequence<Q8x5>
typealias Q8x7 = Q8Sequence<Q8x6>
typealias Q8x8 = Q8Sequence<Q8x7>
typealias Q4x1 = Q4Sequence<NoQuantizedSequences>
typealias Q4x2 = Q4Sequence<Q4x1>
typealias Q4x3 = Q4Sequence<Q4x2>
typealias Q4x4 = Q4Sequence<Q4x3>
typealias Q4x5 = Q4Sequence<Q4x4>
typealias Q4x6 = Q4Sequence<Q4x5>
typealias Q4x7 = Q4Sequence<Q4x6>
typealias Q4x8 = Q4Sequence<Q4x7>

extension Q8Dot {
    /// Row `row` times the sequences of `S` (sequences `first…` of `p`), each block's weights and magnitudes
    /// loaded once for all.
    @inline(__always)
    static func batched<S: Q8Sequences>(_: S.Type, _ row: UnsafeRawPointer, _ p: QuantizedProduct, first: Int,
                                        into out: UnsafeMutablePointer<Float>) {
        var sequences = S(p, from: first)
        let ahead = GEMVTuning.prefetchDistanceQ8
        for sb in 0..<p.superBlocks {
            let header = row + sb * superBlockBytes
            if ahead > 0 { prefetch(header + ahead); prefetch(header + ahead + 64); prefetch(header + ahead + 128) }
            if ahead > 0 { prefetch(header + ahead + 192); prefetch(header + ahead + 256) }
            let d = Lanes.half(header)
            var b = 0
            while b < 8 {
                let w0 = (header + 16 + b * 32).loadUnaligned(as: SIMD32<Int8>.self)
                let w1 = (header + 16 + b * 32 + 32).loadUnaligned(as: SIMD32<Int8>.self)
                sequences.add(w0, unsafeBitCast(applySigns(w0, of: w0), to: SIMD32<UInt8>.self),
                              w1, unsafeBitCast(applySigns(w1, of: w1), to: SIMD32<UInt8>.self),
                              block: b, superBlock: sb, scales: d[b], d[b + 1])
                b += 2
            }
        }
        sequences.finish(into: out, outStride: p.rows)
    }

    /// ``batched(_:_:_:first:into:)`` for `count` (1…``BatchGroup/quantized``) sequences.
    @inline(__always)
    static func batched(count: Int, _ row: UnsafeRawPointer, _ p: QuantizedProduct, first: Int, into out: UnsafeMutablePointer<Float>) {
        switch count {
        case 1: batched(Q8x1.self, row, p, first: first, into: out)
        case 2: batched(Q8x2.self, row, p, first: first, into: out)
        case 3: batched(Q8x3.self, row, p, first: first, into: out)
        case 4: batched(Q8x4.self, row, p, first: first, into: out)
        #if QWENVL_AVX512
        case 5: batched(Q8x5.self, row, p, first: first, into: out)
        case 6: batched(Q8x6.self, row, p, first: first, into: out)
        case 7: batched(Q8x7.self, row, p, first: first, into: out)
        case 8: batched(Q8x8.self, row, p, first: first, into: out)
        #endif
        default: preconditionFailure("Q8Dot.batched: \(count) sequences in one group")
        }
    }
}

extension Q4Dot {
    /// Row `row` times the sequences of `S` (sequences `first…` of `p`), each pair of blocks' nibbles split once
    /// for all.
    @inline(__always)
    static func batched<S: Q4Sequences>(_: S.Type, _ row: UnsafeRawPointer, _ p: QuantizedProduct, first: Int,
                                        into out: UnsafeMutablePointer<Float>) {
        var sequences = S(p, from: first)
        let mask = SIMD16<UInt16>(repeating: 0x0F0F)
        let ahead = GEMVTuning.prefetchDistanceQ4
        for sb in 0..<p.superBlocks {
            let header = row + sb * superBlockBytes
            if ahead > 0 { prefetch(header + ahead); prefetch(header + ahead + 64); prefetch(header + ahead + 128) }
            let d = header.loadUnaligned(fromByteOffset: 16, as: Float.self)
            let dmin = header.loadUnaligned(fromByteOffset: 20, as: Float.self)
            sequences.start(superBlock: sb, mins: Lanes.int8(header, 8) * dmin)
            let codes = header.loadUnaligned(as: SIMD8<UInt8>.self)
            for pair in 0..<4 {
                let v = (header + quantOffset + pair * 32).loadUnaligned(as: SIMD16<UInt16>.self)
                let low = unsafeBitCast(v & mask, to: SIMD32<UInt8>.self)
                let high = unsafeBitCast((v &>> 4) & mask, to: SIMD32<UInt8>.self)
                #if QWENVL_AVX512
                let scale = SIMD8<Int32>(lowHalf: SIMD4(repeating: Int32(codes[2 * pair])), highHalf: SIMD4(repeating: Int32(codes[2 * pair + 1])))
                #else
                let scale = SIMD16<Int16>(lowHalf: SIMD8(repeating: Int16(codes[2 * pair])),
                                          highHalf: SIMD8(repeating: Int16(codes[2 * pair + 1])))
                #endif
                sequences.add(pair: pair, superBlock: sb, low, high, codes: scale)
            }
            sequences.end(superBlock: sb, d: d)
        }
        sequences.finish(into: out, outStride: p.rows)
    }

    /// ``batched(_:_:_:first:into:)`` for `count` (1…``BatchGroup/quantized``) sequences.
    @inline(__always)
    static func batched(count: Int, _ row: UnsafeRawPointer, _ p: QuantizedProduct, first: Int, into out: UnsafeMutablePointer<Float>) {
        switch count {
        case 1: batched(Q4x1.self, row, p, first: first, into: out)
        case 2: batched(Q4x2.self, row, p, first: first, into: out)
        case 3: batched(Q4x3.self, row, p, first: first, into: out)
        case 4: batched(Q4x4.self, row, p, first: first, into: out)
        #if QWENVL_AVX512
        case 5: batched(Q4x5.self, row, p, first: first, into: out)
        case 6: batched(Q4x6.self, row, p, first: first, into: out)
        case 7: batched(Q4x7.self, row, p, first: first, into: out)
        case 8: batched(Q4x8.self, row, p, first: first, into: out)
        #endif
        default: preconditionFailure("Q4Dot.batched: \(count) sequences in one group")
        }
    }
}
#endif

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
    if p.count > 1 { return bf16RowsBatched(p, range) }
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

/// The groups `n` sequences are split into, at most `limit` each and as even as possible.
struct SequenceGroups {
    let groups: Int, size: Int, larger: Int

    @inline(__always)
    init(_ n: Int, limit: Int) {
        groups = (n + limit - 1) / limit
        (size, larger) = (n / groups, n % groups)
    }

    /// First sequence and count of group `g` (0..<groups).
    @inline(__always)
    subscript(_ g: Int) -> (first: Int, count: Int) { (g * size + Swift.min(g, larger), size + (g < larger ? 1 : 0)) }
}

/// bf16 rows `range` for several sequences: each row widened once per group of sequences, every result with the
/// bits of the one-vector path (short rows: ``BF16Pairs/dot(_:_:_:_:)``; long rows: one row of
/// ``BF16Pairs/dot4(_:stride:_:_:_:)``, the range's last rows that do not fill a four-row group ``dotBF16(_:_:_:)``).
func bf16RowsBatched(_ p: DenseProduct, _ range: Range<Int>) {
    #if QWENVL_AVX512
    let (base, stride, cols, rows, n, x, paired, y) = (p.weights, p.rowStride, p.cols, p.rows, p.count, p.x, p.paired, p.y)
    if cols <= GEMVTuning.singleRowLimit {
        // Group outside, rows inside: the group's x (≤ 4 × 16 KB) stays in L1 while the rows stream past.
        // Pairs of sequences, two rows at a time (each x load serves both rows); an odd last sequence or row alone.
        let pairs = SequenceGroups(n, limit: 2)
        for g in 0..<pairs.groups {
            let (first, count) = pairs[g]
            var r = range.lowerBound
            while count == 2 && r + 2 <= range.upperBound {
                BF16Pairs.shortRowPair(ShortPair2.self, base + r * stride, base + (r + 1) * stride, paired + first * cols,
                                       x + first * cols, cols, y + first * rows + r, rows)
                r += 2
            }
            while r < range.upperBound {
                BF16Pairs.shortRow(count: count, base + r * stride, paired + first * cols, x + first * cols, cols,
                                   y + first * rows + r, rows)
                r += 1
            }
        }
        return
    }
    // Rows outside (one long row stays in L1), groups inside.
    var r = range.lowerBound
    // Two rows × up to four sequences per tile: each x load (from L2) serves both rows.
    let quads = SequenceGroups(n, limit: 4)
    while r + 4 <= range.upperBound {
        for row in Swift.stride(from: r, to: r + 4, by: 2) {
            for g in 0..<quads.groups {
                let (first, count) = quads[g]
                BF16Pairs.longRowPair(count: count, base + row * stride, base + (row + 1) * stride, paired + first * cols,
                                      x + first * cols, cols, y + first * rows + row, rows)
            }
        }
        r += 4
    }
    while r < range.upperBound {
        for b in 0..<n { y[b * rows + r] = dotBF16(base + r * stride, x + b * cols, cols) }
        r += 1
    }
    #else
    if p.cols <= GEMVTuning.singleRowLimit { BF16Tiles.shortRows(p, range) } else { BF16Tiles.longRows(p, range) }
    #endif
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

/// q8 rows `range` of the product, one row at a time (x as bytes stays in L1); several sequences share each
/// block's loads and magnitudes (groups of ``BatchGroup/quantized``).
public func q8Rows(_ p: QuantizedProduct, _ range: Range<Int>) {
    #if !KERNELS_BASELINE
    if p.count > 1 {
        let group = SequenceGroups(p.count, limit: BatchGroup.quantized)
        for r in range {
            for g in 0..<group.groups {
                let (first, count) = group[g]
                Q8Dot.batched(count: count, p.weights + r * p.rowStride, p, first: first, into: p.y + first * p.rows + r)
            }
        }
        return
    }
    #endif
    for r in range {
        let row = p.weights + r * p.rowStride
        for b in 0..<p.count {
            p.y[b * p.rows + r] = Q8Dot.dot(row, quantizedX: p.xq + b * p.byteStride, xScales: p.xScales + b * p.scaleStride,
                                            superBlocks: p.superBlocks)
        }
    }
}

/// q4 rows `range` of the product, one row at a time; several sequences share each pair of blocks' nibble
/// split and scale codes (groups of ``BatchGroup/quantized``).
public func q4Rows(_ p: QuantizedProduct, _ range: Range<Int>) {
    #if !KERNELS_BASELINE
    if p.count > 1 {
        let group = SequenceGroups(p.count, limit: BatchGroup.quantized)
        for r in range {
            for g in 0..<group.groups {
                let (first, count) = group[g]
                Q4Dot.batched(count: count, p.weights + r * p.rowStride, p, first: first, into: p.y + first * p.rows + r)
            }
        }
        return
    }
    #endif
    for r in range {
        let row = p.weights + r * p.rowStride
        for b in 0..<p.count {
            p.y[b * p.rows + r] = Q4Dot.dot(row, quantizedX: p.xq + b * p.byteStride, xScales: p.xScales + b * p.scaleStride,
                                            blockSums: p.blockSums + b * p.sumStride, superBlocks: p.superBlocks)
        }
    }
}
