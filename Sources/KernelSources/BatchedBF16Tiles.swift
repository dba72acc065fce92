// Register tiles of the batched bf16 dots (the AVX2 and baseline kernel sets; the AVX-512 set keeps its own
// forms in DecodeKernels.swift): two rows × two sequences per tile, so each widened weight register serves two
// sequences and each x register two rows (8 fused multiply-adds per 2 weight and 4 x loads, all 16 ymm registers).
//
// Every output keeps the accumulators, and their order of operations, of its one-vector dot, so a sequence's
// result has the same bits in a batch as alone:
// - short rows (≤ ``GEMVTuning/singleRowLimit``): ``BF16Pairs/dot(_:_:_:_:)`` has eight accumulators, one even
//   and one odd per 16-value chunk k = 0…3 of each 64-value step. A tile runs one chunk at a time over the whole
//   row ("pass" k: values 16k, 16k + 64, …), holding two of the eight per output; the four passes' results are
//   then reduced in the one-vector dot's order.
// - long rows: one row of ``BF16Pairs/dot4(_:stride:_:_:_:)`` has one even and one odd accumulator over 16-value
//   steps. A tile runs a column chunk (``longRowChunk`` values, so the tile's weights and x stay in L1) and
//   parks its accumulators between chunks.
import KernelInterface
#if KERNELS_AVX512
import IntrinsicsAVX512
#elseif KERNELS_AVX2
import IntrinsicsAVX2
#else
import IntrinsicsBaseline
#endif

#if !QWENVL_AVX512
/// The batched bf16 register tiles of the AVX2 and baseline sets.
enum BF16Tiles {
    /// Values of a long row per column chunk: 4 rows × 512 bf16 (4 KB) and 8 sequences × 512 floats (16 KB) in L1.
    static var longRowChunk: Int { 512 }

    /// One tile: rows `wa`, `wb` (bf16 pairs) × sequences `xa`, `xb` (x after ``BF16Pairs/split(_:count:into:)``)
    /// over the 16-value pair registers at values `start, start + step, …` below `end`.
    ///
    /// `acc` holds each output's even and odd accumulator: output (row r, sequence s) at
    /// `acc[r · rowStride + s · sequenceStride]` (even) and `+ 1` (odd). With `resume` they are read first, else
    /// they start at zero. `twoRows` / `twoSequences` false leave `wb` / `xb` unread (callers pass constants, so
    /// every form compiles to straight-line code).
    @inline(__always)
    static func tile(twoRows: Bool, twoSequences: Bool, resume: Bool,
                     _ wa: UnsafeRawPointer, _ wb: UnsafeRawPointer, _ xa: UnsafePointer<Float>, _ xb: UnsafePointer<Float>,
                     from start: Int, to end: Int, step: Int,
                     _ acc: UnsafeMutablePointer<SIMD8<Float>>, rowStride: Int, sequenceStride: Int) {
        typealias V = SIMD8<Float>
        let mask = SIMD8<UInt32>(repeating: 0xFFFF_0000)
        let (a0, a1) = (acc, acc + sequenceStride)            // row a × sequences a, b
        let (b0, b1) = (acc + rowStride, acc + rowStride + sequenceStride)
        var ea0 = V(), oa0 = V(), ea1 = V(), oa1 = V(), eb0 = V(), ob0 = V(), eb1 = V(), ob1 = V()
        if resume {
            (ea0, oa0) = (a0[0], a0[1])
            if twoSequences { (ea1, oa1) = (a1[0], a1[1]) }
            if twoRows { (eb0, ob0) = (b0[0], b0[1]) }
            if twoRows && twoSequences { (eb1, ob1) = (b1[0], b1[1]) }
        }
        let xra = UnsafeRawPointer(xa), xrb = UnsafeRawPointer(xb)
        let ahead = GEMVTuning.prefetchDistanceBF16
        var i = start
        while i < end {
            // Once per 64-byte line of the row: every other step of a long row's chunk, both lines of a step in a
            // short row's first pass (the later passes read lines the first one brought in).
            if ahead > 0 && start & 63 == 0 && i & 31 == 0 {
                prefetch(wa + i * 2 + ahead)
                if twoRows { prefetch(wb + i * 2 + ahead) }
                if step == 64 {
                    prefetch(wa + i * 2 + ahead + 64)
                    if twoRows { prefetch(wb + i * 2 + ahead + 64) }
                }
            }
            let pa = wa.loadUnaligned(fromByteOffset: i * 2, as: SIMD8<UInt32>.self)
            let wea = unsafeBitCast(pa &<< 16, to: V.self), woa = unsafeBitCast(pa & mask, to: V.self)
            let xea = xra.loadUnaligned(fromByteOffset: i * 4, as: V.self)
            let xoa = xra.loadUnaligned(fromByteOffset: i * 4 + 32, as: V.self)
            accumulate(&ea0, wea, xea); accumulate(&oa0, woa, xoa)
            if twoRows {
                let pb = wb.loadUnaligned(fromByteOffset: i * 2, as: SIMD8<UInt32>.self)
                let web = unsafeBitCast(pb &<< 16, to: V.self), wob = unsafeBitCast(pb & mask, to: V.self)
                accumulate(&eb0, web, xea); accumulate(&ob0, wob, xoa)
                if twoSequences {
                    let xeb = xrb.loadUnaligned(fromByteOffset: i * 4, as: V.self)
                    let xob = xrb.loadUnaligned(fromByteOffset: i * 4 + 32, as: V.self)
                    accumulate(&ea1, wea, xeb); accumulate(&oa1, woa, xob)
                    accumulate(&eb1, web, xeb); accumulate(&ob1, wob, xob)
                }
            } else if twoSequences {
                let xeb = xrb.loadUnaligned(fromByteOffset: i * 4, as: V.self)
                let xob = xrb.loadUnaligned(fromByteOffset: i * 4 + 32, as: V.self)
                accumulate(&ea1, wea, xeb); accumulate(&oa1, woa, xob)
            }
            i += step
        }
        (a0[0], a0[1]) = (ea0, oa0)
        if twoSequences { (a1[0], a1[1]) = (ea1, oa1) }
        if twoRows { (b0[0], b0[1]) = (eb0, ob0) }
        if twoRows && twoSequences { (b1[0], b1[1]) = (eb1, ob1) }
    }

    /// ``tile(twoRows:twoSequences:resume:_:_:_:_:from:to:step:_:rowStride:sequenceStride:)`` for runtime
    /// shapes: one specialized form per shape.
    @inline(__always)
    static func tile(rows: Int, sequences: Int, resume: Bool,
                     _ wa: UnsafeRawPointer, _ wb: UnsafeRawPointer, _ xa: UnsafePointer<Float>, _ xb: UnsafePointer<Float>,
                     from start: Int, to end: Int, step: Int,
                     _ acc: UnsafeMutablePointer<SIMD8<Float>>, rowStride: Int, sequenceStride: Int) {
        switch (rows, sequences, resume) {
        case (2, 2, false): tile(twoRows: true, twoSequences: true, resume: false, wa, wb, xa, xb, from: start, to: end, step: step,
                                 acc, rowStride: rowStride, sequenceStride: sequenceStride)
        case (2, 1, false): tile(twoRows: true, twoSequences: false, resume: false, wa, wb, xa, xb, from: start, to: end, step: step,
                                 acc, rowStride: rowStride, sequenceStride: sequenceStride)
        case (1, 2, false): tile(twoRows: false, twoSequences: true, resume: false, wa, wb, xa, xb, from: start, to: end, step: step,
                                 acc, rowStride: rowStride, sequenceStride: sequenceStride)
        case (1, 1, false): tile(twoRows: false, twoSequences: false, resume: false, wa, wb, xa, xb, from: start, to: end, step: step,
                                 acc, rowStride: rowStride, sequenceStride: sequenceStride)
        case (2, 2, true): tile(twoRows: true, twoSequences: true, resume: true, wa, wb, xa, xb, from: start, to: end, step: step,
                                acc, rowStride: rowStride, sequenceStride: sequenceStride)
        case (2, 1, true): tile(twoRows: true, twoSequences: false, resume: true, wa, wb, xa, xb, from: start, to: end, step: step,
                                acc, rowStride: rowStride, sequenceStride: sequenceStride)
        case (1, 2, true): tile(twoRows: false, twoSequences: true, resume: true, wa, wb, xa, xb, from: start, to: end, step: step,
                                acc, rowStride: rowStride, sequenceStride: sequenceStride)
        default: tile(twoRows: false, twoSequences: false, resume: true, wa, wb, xa, xb, from: start, to: end, step: step,
                      acc, rowStride: rowStride, sequenceStride: sequenceStride)
        }
    }

    /// Short rows `range` (`cols` ≤ ``GEMVTuning/singleRowLimit``) for all sequences of `p`, each result with the
    /// bits of ``BF16Pairs/dot(_:_:_:_:)``. Sequence pairs outside (their x, ≤ 2 × 16 KB, stays in L1), row pairs
    /// inside, four passes per tile.
    static func shortRows(_ p: DenseProduct, _ range: Range<Int>) {
        let (base, stride, cols, rows, n, x, paired, y) = (p.weights, p.rowStride, p.cols, p.rows, p.count, p.x, p.paired, p.y)
        let full = cols / 64 * 64
        // acc[pass k][row r][sequence s][even, odd]: 4 × 2 × 2 × 2 vectors.
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 32) { buffer in
            let acc = buffer.baseAddress!
            let groups = SequenceGroups(n, limit: 2)
            for g in 0..<groups.groups {
                let (first, count) = groups[g]
                let xa = paired + first * cols, xb = paired + (first + count - 1) * cols
                var r = range.lowerBound
                while r < range.upperBound {
                    let rowCount = Swift.min(2, range.upperBound - r)
                    let wa = base + r * stride, wb = base + (r + rowCount - 1) * stride
                    for k in 0..<4 {
                        tile(rows: rowCount, sequences: count, resume: false, wa, wb, xa, xb, from: 16 * k, to: full, step: 64,
                             acc + 8 * k, rowStride: 4, sequenceStride: 2)
                    }
                    for dr in 0..<rowCount {
                        for ds in 0..<count {
                            let o = 4 * dr + 2 * ds
                            let (e0, o0, e1, o1) = (acc[o], acc[o + 1], acc[8 + o], acc[8 + o + 1])
                            let (e2, o2, e3, o3) = (acc[16 + o], acc[16 + o + 1], acc[24 + o], acc[24 + o + 1])
                            let sum = ((e0 + o0) + (e1 + o1) + ((e2 + o2) + (e3 + o3))).sum()
                            let s = first + ds
                            y[s * rows + r + dr] = BF16Pairs.finishDot(sum, base + (r + dr) * stride, paired + s * cols,
                                                                       x + s * cols, cols, from: full)
                        }
                    }
                    r += rowCount
                }
            }
        }
    }

    /// Long rows `range` for all sequences of `p`: four-row groups as in ``BF16Pairs/dot4(_:stride:_:_:_:)`` (each
    /// result with its bits), the range's last rows that do not fill one with ``dotBF16(_:_:_:)``. Per four-row
    /// group: column chunks outside, then row pairs × sequence pairs.
    static func longRows(_ p: DenseProduct, _ range: Range<Int>) {
        let (base, stride, cols, rows, n, x, paired, y) = (p.weights, p.rowStride, p.cols, p.rows, p.count, p.x, p.paired, p.y)
        let full = cols / 16 * 16
        let groups = SequenceGroups(n, limit: 2)
        // acc[row r (0..<4)][sequence s (0..<n)][even, odd].
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 8 * n) { buffer in
            let acc = buffer.baseAddress!
            var r = range.lowerBound
            while r + 4 <= range.upperBound {
                var c = 0
                while c < full {
                    let end = Swift.min(c + longRowChunk, full)
                    for pair in 0..<2 {
                        let row = r + 2 * pair
                        for g in 0..<groups.groups {
                            let (first, count) = groups[g]
                            let xa = paired + first * cols, xb = xa + (count - 1) * cols
                            tile(rows: 2, sequences: count, resume: c > 0, base + row * stride, base + (row + 1) * stride, xa, xb,
                                 from: c, to: end, step: 16, acc + (2 * pair * n + first) * 2, rowStride: 2 * n, sequenceStride: 2)
                        }
                    }
                    c = end
                }
                for dr in 0..<4 {
                    let w = base + (r + dr) * stride
                    for s in 0..<n {
                        let o = (dr * n + s) * 2
                        var sum = full > 0 ? (acc[o] + acc[o + 1]).sum() : 0
                        let xs = x + s * cols
                        var i = full
                        while i < cols {
                            sum += bf16Value(w.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) * xs[i]
                            i += 1
                        }
                        y[s * rows + r + dr] = sum
                    }
                }
                r += 4
            }
            while r < range.upperBound {
                for s in 0..<n { y[s * rows + r] = dotBF16(base + r * stride, x + s * cols, cols) }
                r += 1
            }
        }
    }
}
#endif
