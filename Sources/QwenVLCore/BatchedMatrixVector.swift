/// Matrix-vector products for several vectors at once (continuous batching): each weight row is read from memory
/// once and multiplied with every vector while it sits in L1.
///
/// Every output is computed by exactly the dot-product routine ``WeightMatrix/gemv(_:_:)`` uses for one vector,
/// with the same row grouping, so the result for vector b is bit-identical to a lone matrix-vector product on it:
/// a sequence decoded in a batch produces the same tokens as the same sequence decoded alone.
extension WeightMatrix {
    /// `y[b] = W · x[b]` for b in 0..<n; x is [n, cols], y is [n, rows].
    func gemvBatch(_ x: UnsafePointer<Float>, count n: Int, _ y: UnsafeMutablePointer<Float>) {
        if n == 1 { gemv(x, y); return }
        switch encoding {
        case .bf16: gemvBatchBF16(x, n, y)
        case .f32: gemvBatchF32(x, n, y)
        case .f16:
            let (base, stride, cols, rows) = (base, rowStride, cols, rows)
            Parallel.forDynamicChunks(rows, grain: GEMVTuning.grain) { range in
                for r in range {
                    for b in 0..<n { y[b * rows + r] = dotF16(base + r * stride, x + b * cols, cols) }
                }
            }
        case .q8, .q4: gemvBatchQuantized(x, n, y)
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

    private func gemvBatchBF16(_ x: UnsafePointer<Float>, _ n: Int, _ y: UnsafeMutablePointer<Float>) {
        let (base, stride, cols, rows) = (base, rowStride, cols, rows)
        let paired = UnsafeMutablePointer<Float>.allocate(capacity: n * cols)     // [n, cols], each as BF16Pairs.split
        defer { paired.deallocate() }
        for b in 0..<n { BF16Pairs.split(x + b * cols, count: cols, into: paired + b * cols) }
        let single = cols <= GEMVTuning.singleRowLimit
        Parallel.forDynamicChunks(rows, grain: GEMVTuning.grain) { range in
            var r = range.lowerBound
            if single {
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
    }

    private func gemvBatchF32(_ x: UnsafePointer<Float>, _ n: Int, _ y: UnsafeMutablePointer<Float>) {
        let (base, stride, cols, rows) = (base, rowStride, cols, rows)
        let single = cols <= GEMVTuning.singleRowLimit
        Parallel.forDynamicChunks(rows, grain: GEMVTuning.grain) { range in
            var r = range.lowerBound
            while single && r < range.upperBound {
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
    }

    private func gemvBatchQuantized(_ x: UnsafePointer<Float>, _ n: Int, _ y: UnsafeMutablePointer<Float>) {
        let (base, stride, cols, rows, encoding) = (base, rowStride, cols, rows, encoding)
        let superBlocks = Q8Blocks.superBlocks(cols: cols)
        let padded = superBlocks * Q8Blocks.superBlockSize
        // Per vector, as gemvQuantized lays it out: q4 block sums, x's scales, then x as 32-byte aligned bytes.
        let sumCount = padded / Q4Blocks.blockSize, scaleCount = padded / Q8Blocks.blockSize
        let byteStride = (padded + 31) & ~31
        let floats = UnsafeMutablePointer<Float>.allocate(capacity: n * (padded + sumCount + scaleCount))
        let bytesRaw = UnsafeMutableRawPointer.allocate(byteCount: n * byteStride, alignment: 64)
        defer { floats.deallocate(); bytesRaw.deallocate() }
        let xPadded = floats, sums = floats + n * padded, scales = sums + n * sumCount
        let bytes = bytesRaw.bindMemory(to: Int8.self, capacity: n * byteStride)
        for b in 0..<n {
            let xp = xPadded + b * padded
            xp.update(from: x + b * cols, count: cols)
            if padded > cols { (xp + cols).update(repeating: 0, count: padded - cols) }
            if encoding == .q4 {
                Q4Blocks.blockSums(xp, superBlocks: superBlocks, into: sums + b * sumCount)
                Q4Blocks.quantizeX(xp, superBlocks: superBlocks, into: bytes + b * byteStride, scales: scales + b * scaleCount)
            } else {
                Q8Blocks.quantizeX(xp, superBlocks: superBlocks, into: bytes + b * byteStride, scales: scales + b * scaleCount)
            }
        }
        let xq = UnsafeRawPointer(bytes), xScales = UnsafePointer(scales), blockSums = UnsafePointer(sums)
        Parallel.forDynamicChunks(rows, grain: GEMVTuning.grain) { range in
            for r in range {
                let row = base + r * stride
                if encoding == .q8 {
                    for b in 0..<n {
                        y[b * rows + r] = Q8Blocks.dot(row, quantizedX: xq + b * byteStride, xScales: xScales + b * scaleCount,
                                                       superBlocks: superBlocks)
                    }
                } else {
                    for b in 0..<n {
                        y[b * rows + r] = Q4Blocks.dot(row, quantizedX: xq + b * byteStride, xScales: xScales + b * scaleCount,
                                                       blockSums: blockSums + b * sumCount, superBlocks: superBlocks)
                    }
                }
            }
        }
    }
}
