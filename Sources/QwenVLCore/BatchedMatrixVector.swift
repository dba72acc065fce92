import KernelInterface

/// Matrix-vector products for several vectors at once (continuous batching): each weight row is read from memory
/// once and multiplied with every vector while it sits in L1.
///
/// Every output is computed by exactly the dot-product routine ``WeightMatrix/gemv(_:_:)`` uses for one vector,
/// with the same row grouping, so the result for vector b is bit-identical to a lone matrix-vector product on it:
/// a sequence decoded in a batch produces the same tokens as the same sequence decoded alone.
extension WeightMatrix {
    /// `y[b] = W · x[b]` for b in 0..<n; x is [n, cols], y is [n, rows].
    func gemvBatch(_ x: UnsafePointer<Float>, count n: Int, _ y: UnsafeMutablePointer<Float>, kernels: KernelSet = .active) {
        switch encoding {
        case .bf16:
            // x with each 16-value group split into its even and odd elements, the order bf16 pairs unpack in.
            withUnsafeTemporaryAllocation(of: Float.self, capacity: n * cols) { buffer in     // [n, cols]
                let paired = buffer.baseAddress!
                kernels.splitBF16(x, cols, n, paired)
                let product = DenseProduct(weights: base, rowStride: rowStride, rows: rows, cols: cols, x: x,
                                           paired: UnsafePointer(paired), count: n, y: y)
                Parallel.forDynamicChunks(rows, grain: GEMVTuning.grain) { kernels.bf16Rows(product, $0) }
            }
        case .f32, .f16:
            let product = DenseProduct(weights: base, rowStride: rowStride, rows: rows, cols: cols, x: x, paired: x, count: n, y: y)
            let kernel = encoding == .f32 ? kernels.f32Rows : kernels.f16Rows
            Parallel.forDynamicChunks(rows, grain: GEMVTuning.grain) { kernel(product, $0) }
        case .q8, .q4: gemvBatchQuantized(x, n, y, kernels)
        }
    }

    /// `y[n, rows] = x[n, cols] · Wᵀ + bias`, one weight pass for all n rows, each row as ``gemv(_:_:)`` computes it.
    public func applyRows(_ x: UnsafePointer<Float>, count n: Int, into y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>? = nil) {
        gemvBatch(x, count: n, y)
        if let bias { for t in 0..<n { VectorMath.add(y + t * rows, adding: bias, count: rows) } }
    }

    /// `y[n, rows] += x[n, cols] · Wᵀ + bias`, summed as the one-row ``apply(_:count:accumulatingInto:bias:)`` sums.
    public func applyRows(_ x: UnsafePointer<Float>, count n: Int, accumulatingInto y: UnsafeMutablePointer<Float>,
                          bias: UnsafePointer<Float>? = nil) {
        let product = UnsafeMutablePointer<Float>.allocate(capacity: n * rows)    // [n, rows]
        defer { product.deallocate() }
        gemvBatch(x, count: n, product)
        for t in 0..<n {
            if let bias { VectorMath.add(product + t * rows, adding: bias, count: rows) }
            VectorMath.add(y + t * rows, adding: product + t * rows, count: rows)
        }
    }

    /// Array form of ``applyRows(_:count:into:bias:)``: x is [n, cols], returns [n, rows].
    public func applyRows(_ x: [Float], count n: Int, bias: [Float]? = nil) -> [Float] {
        precondition(x.count >= n * cols, "WeightMatrix.applyRows: x has \(x.count) values, need \(n)×\(cols)")
        return [Float](unsafeUninitializedCapacity: n * rows) { yp, initialized in
            x.withUnsafeBufferPointer { xp in
                if let bias {
                    bias.withUnsafeBufferPointer { applyRows(xp.baseAddress!, count: n, into: yp.baseAddress!, bias: $0.baseAddress!) }
                } else {
                    applyRows(xp.baseAddress!, count: n, into: yp.baseAddress!)
                }
            }
            initialized = n * rows
        }
    }

    /// Array form of ``applyRows(_:count:accumulatingInto:bias:)``.
    public func applyRows(_ x: [Float], count n: Int, accumulatingInto y: inout [Float]) {
        precondition(x.count >= n * cols && y.count >= n * rows, "WeightMatrix.applyRows: x or y too short for \(n) rows")
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in applyRows(xp.baseAddress!, count: n, accumulatingInto: yp.baseAddress!) }
        }
    }

    /// x zero-padded to whole super-blocks, quantized to bytes per vector by the kernel set (q4: with per-block
    /// sums, one scale per super-block; q8: one scale per block of 32), then one row at a time: x as bytes (≤ 9 KB
    /// for 8,960 columns) stays in L1. A four-row float form of q4 measured 9.4 against 14.5 tokens/s and a two-row
    /// integer form 15 against 19 GB/s on [1536×8960].
    private func gemvBatchQuantized(_ x: UnsafePointer<Float>, _ n: Int, _ y: UnsafeMutablePointer<Float>, _ kernels: KernelSet) {
        let superBlocks = Q8Blocks.superBlocks(cols: cols)
        let padded = superBlocks * Q8Blocks.superBlockSize
        let sumCount = padded / Q4Blocks.blockSize, scaleCount = padded / Q8Blocks.blockSize
        let byteStride = (padded + 31) & ~31
        let floatCount = n * (padded + sumCount + scaleCount)
        // Small products (one vector, ≤ 16K columns) keep their scratch on the stack.
        withUnsafeTemporaryAllocation(of: Float.self, capacity: floatCount + (n * byteStride + 64) / 4) { buffer in
            let floats = buffer.baseAddress!
            let xPadded = floats, sums = floats + n * padded, scales = sums + n * sumCount     // [n, padded], [n, sumCount], [n, scaleCount]
            let bytesRaw = UnsafeMutableRawPointer(floats + floatCount)
            let bytes = UnsafeMutableRawPointer(bitPattern: (Int(bitPattern: bytesRaw) + 63) & ~63)!
                .bindMemory(to: Int8.self, capacity: n * byteStride)                           // [n, byteStride]
            for b in 0..<n {
                let xp = xPadded + b * padded
                xp.update(from: x + b * cols, count: cols)
                if padded > cols { (xp + cols).update(repeating: 0, count: padded - cols) }
                if encoding == .q4 {
                    kernels.quantizeQ4(xp, superBlocks, bytes + b * byteStride, scales + b * scaleCount, sums + b * sumCount)
                } else {
                    kernels.quantizeQ8(xp, superBlocks, bytes + b * byteStride, scales + b * scaleCount)
                }
            }
            let product = QuantizedProduct(weights: base, rowStride: rowStride, rows: rows, superBlocks: superBlocks,
                                           xq: UnsafeRawPointer(bytes), byteStride: byteStride, xScales: UnsafePointer(scales),
                                           scaleStride: scaleCount, blockSums: UnsafePointer(sums), sumStride: sumCount,
                                           count: n, y: y)
            let kernel = encoding == .q4 ? kernels.q4Rows : kernels.q8Rows
            Parallel.forDynamicChunks(rows, grain: GEMVTuning.grain) { kernel(product, $0) }
        }
    }
}
