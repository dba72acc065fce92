/// Matrix-vector products (decode): `y[rows] = W · x[cols]`, rows taken by the threads in pieces of 64.
///
/// Decode is bound by the bytes of W streamed from memory, so every kernel reads W exactly once. Dense rows up to
/// 4096 values (x stays in L1) run one at a time as a single sequential stream per thread; longer rows run four at
/// a time so each x load (from L2) serves four rows. Measured on [8960×1536] / [151936×1536] bf16: 20–22 GB/s
/// one row at a time against 12–13 GB/s four at a time; on [1536×8960] it is the other way round (16 vs 11.5).
/// Rows are handed out dynamically (``Parallel/forDynamicChunks(_:grain:_:)``): with a static half each, the
/// thread that got less memory bandwidth held the other up at the end of every product. Each kernel prefetches
/// its rows ahead of the hardware prefetcher (``GEMVTuning``).
extension WeightMatrix {
    /// y[rows] = W · x[cols].
    func gemv(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        switch encoding {
        case .bf16: gemvBF16(x, y)
        case .f32: gemvF32(x, y)
        case .f16:
            let (base, stride, cols) = (base, rowStride, cols)
            Parallel.forDynamicChunks(rows, grain: GEMVTuning.grain) { range in
                for r in range { y[r] = dotF16(base + r * stride, x, cols) }
            }
        case .q8, .q4: gemvQuantized(x, y)
        }
    }

    private func gemvBF16(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        let (base, stride, cols, rows) = (base, rowStride, cols, rows)
        // x with each 16-value group split into its even and odd elements, the order bf16 pairs unpack in.
        withUnsafeTemporaryAllocation(of: Float.self, capacity: cols) { buffer in
            let paired = buffer.baseAddress!
            BF16Pairs.split(x, count: cols, into: paired)
            // Short rows (x fits in L1 with room for the stream): one row at a time, one sequential stream per
            // thread (≈ 1.6× faster on [8960×1536] and the LM head); long rows: four rows share each x load.
            let single = cols <= GEMVTuning.singleRowLimit
            Parallel.forDynamicChunks(rows, grain: GEMVTuning.grain) { range in
                var r = range.lowerBound
                if single {
                    while r < range.upperBound {
                        y[r] = BF16Pairs.dot(base + r * stride, paired, x, cols)
                        r += 1
                    }
                }
                while r + 4 <= range.upperBound {
                    let sums = BF16Pairs.dot4(base + r * stride, stride: stride, paired, x, cols)
                    y[r] = sums[0]; y[r + 1] = sums[1]; y[r + 2] = sums[2]; y[r + 3] = sums[3]
                    r += 4
                }
                while r < range.upperBound {
                    y[r] = dotBF16(base + r * stride, x, cols)
                    r += 1
                }
            }
        }
    }

    private func gemvF32(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        let (base, stride, cols, rows) = (base, rowStride, cols, rows)
        let single = cols <= GEMVTuning.singleRowLimit   // as for bf16: short rows stream one at a time
        Parallel.forDynamicChunks(rows, grain: GEMVTuning.grain) { range in
            var r = range.lowerBound
            while single && r < range.upperBound {
                y[r] = dotF32(base + r * stride, x, cols)
                r += 1
            }
            while r + 4 <= range.upperBound {
                let sums = dotF32x4(base + r * stride, stride: stride, x, cols)
                y[r] = sums[0]; y[r + 1] = sums[1]; y[r + 2] = sums[2]; y[r + 3] = sums[3]
                r += 4
            }
            while r < range.upperBound {
                y[r] = dotF32(base + r * stride, x, cols)
                r += 1
            }
        }
    }

    private func gemvQuantized(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        let (base, stride, cols, rows, encoding) = (base, rowStride, cols, rows, encoding)
        let superBlocks = Q8Blocks.superBlocks(cols: cols)
        let padded = superBlocks * Q8Blocks.superBlockSize
        // x zero-padded to whole super-blocks (a copy only when cols is not a multiple of 256), then q4's per-block
        // sums of x, x's scales (q4: one per super-block, q8: one per block of 32) and x as signed bytes
        // (``Q4Blocks/quantizeX(_:superBlocks:into:scales:)``, ``Q8Blocks/quantizeX(_:superBlocks:into:scales:)``).
        let extra = padded / Q4Blocks.blockSize + padded / Q8Blocks.blockSize + padded / 4 + 8
        withUnsafeTemporaryAllocation(of: Float.self, capacity: padded + extra) { buffer in
            let scratch = buffer.baseAddress!
            let xp: UnsafePointer<Float>
            if padded == cols {
                xp = x
            } else {
                scratch.update(from: x, count: cols)
                (scratch + cols).initialize(repeating: 0, count: padded - cols)
                xp = UnsafePointer(scratch)
            }
            let sums = scratch + padded
            let xScales = sums + padded / Q4Blocks.blockSize
            // Int8 values, 32-byte aligned inside the float scratch.
            let xqRaw = UnsafeMutableRawPointer(xScales + padded / Q8Blocks.blockSize)
            let xq = UnsafeMutableRawPointer(bitPattern: (Int(bitPattern: xqRaw) + 31) & ~31)!.assumingMemoryBound(to: Int8.self)
            if encoding == .q4 {
                Q4Blocks.blockSums(xp, superBlocks: superBlocks, into: sums)
                Q4Blocks.quantizeX(xp, superBlocks: superBlocks, into: xq, scales: xScales)
            } else {
                Q8Blocks.quantizeX(xp, superBlocks: superBlocks, into: xq, scales: xScales)
            }
            let xqp = UnsafeRawPointer(xq), xScalesP = UnsafePointer(xScales), sumsP = UnsafePointer(sums)
            // Both formats multiply bytes one row at a time: x as bytes (≤ 9 KB for 8,960 columns) stays in L1.
            // A four-row float form of q4 measured 9.4 against 14.5 tokens/s and a two-row integer form 15 against
            // 19 GB/s on [1536×8960].
            Parallel.forDynamicChunks(rows, grain: GEMVTuning.grain) { range in
                var r = range.lowerBound
                if encoding == .q8 {
                    while r < range.upperBound {
                        y[r] = Q8Blocks.dot(base + r * stride, quantizedX: xqp, xScales: xScalesP, superBlocks: superBlocks)
                        r += 1
                    }
                } else {
                    while r < range.upperBound {
                        y[r] = Q4Blocks.dot(base + r * stride, quantizedX: xqp, xScales: xScalesP, blockSums: sumsP, superBlocks: superBlocks)
                        r += 1
                    }
                }
            }
        }
    }
}

/// Fixed parameters of the matrix-vector kernels.
///
/// Software prefetch distances were chosen by interleaved end-to-end decode runs on the 2B checkpoint (2 Zen-3
/// cores, ~15–19 GB/s of memory reads): bf16 3.3–4.3 → 3.7–4.8 tok/s with 768–1024 bytes ahead, q4 12.1–13.7 →
/// 14.3–15.2 with 8 super-blocks ahead, q8 6.4–7.8 → 7.1–8.2 with 4 (the hardware prefetcher alone leaves the
/// stream short of requests in flight).
enum GEMVTuning {
    /// Rows per piece that the threads take in turn (a multiple of 4 for the four-row kernels).
    static let grain = 64
    /// Dense rows up to this many values run one at a time; longer rows four at a time.
    static let singleRowLimit = 4096
    /// Bytes ahead of the current position that the bf16 kernels (one row and four rows) prefetch, per row.
    static let prefetchDistanceBF16 = 1024
    /// The same for q8 rows: four 272-byte super-blocks.
    static let prefetchDistanceQ8 = 4 * Q8Blocks.superBlockBytes
    /// The same for q4 rows: eight 152-byte super-blocks.
    static let prefetchDistanceQ4 = 8 * Q4Blocks.superBlockBytes
}
