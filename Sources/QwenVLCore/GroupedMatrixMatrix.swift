import COpenBLAS

/// Matrix-matrix products for several independent groups of rows at once (the prompt chunks of requests prefilled
/// together): each tile of W is decoded to float32 once for all groups, then multiplied with every group.
///
/// OpenBLAS sgemm's result for one row depends on how many rows it is called with (measured: the first 16 rows of
/// a 40-row product differ from a 16-row product in the last bits), so one sgemm over all groups' rows would give
/// a sequence other bits than its lone prefill. Here every group gets the sgemm call ``WeightMatrix/apply(_:count:into:bias:)``
/// makes for it alone — same rows, same tiles of W, same β — and groups of one or two rows take that call's
/// matrix-vector path: each group's result has the bits of its lone product.
extension WeightMatrix {
    /// `y[g] = x[g] · Wᵀ + bias` (accumulating: `y[g] += …`) for consecutive row groups: group g is `counts[g]` rows
    /// of x ([Σ counts, cols]) and of y ([Σ counts, rows]), starting after the groups before it.
    public func applyGroups(_ x: UnsafePointer<Float>, counts: [Int], into y: UnsafeMutablePointer<Float>,
                            bias: UnsafePointer<Float>? = nil, accumulate: Bool = false) {
        var offsets: [Int] = [], offset = 0
        for c in counts { offsets.append(offset); offset += c }
        // Groups of ≤ 2 rows (the one-group product is matrix-vector products) and groups whose product takes the
        // bf16 path (``BF16GEMM``): run exactly the one-group product.
        func alone(_ count: Int) -> Bool { count <= 2 || usesBF16GEMM(count: count) }
        for g in counts.indices where counts[g] > 0 && alone(counts[g]) {
            if accumulate {
                apply(x + offsets[g] * cols, count: counts[g], accumulatingInto: y + offsets[g] * rows, bias: bias)
            } else {
                apply(x + offsets[g] * cols, count: counts[g], into: y + offsets[g] * rows, bias: bias)
            }
        }
        let groups = counts.indices.filter { !alone(counts[$0]) }
        guard !groups.isEmpty else { return }
        let (rows, cols, base, stride, encoding) = (rows, cols, base, rowStride, encoding)
        let quantized = encoding == .q8 || encoding == .q4
        let ld = quantized ? Q8Blocks.superBlocks(cols: cols) * Q8Blocks.superBlockSize : cols
        let direct = encoding == .f32 && Int(bitPattern: base) % 4 == 0
        // As `gemm`: y[group rows, r0..<r0+count] ← bias (+= when accumulating); returns sgemm's β.
        func prepare(_ g: Int, _ r0: Int, _ count: Int) -> Float {
            Self.seedBias(y + offsets[g] * rows, n: counts[g], rows: rows, r0, count, bias: bias, accumulate: accumulate) ? 1 : 0
        }
        // sgemm of group g with the decoded rows r0..<r0+count of W (`w`, leading dimension `ldw`).
        func multiply(_ g: Int, _ r0: Int, _ count: Int, _ w: UnsafePointer<Float>, _ ldw: Int) {
            let beta = prepare(g, r0, count)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(counts[g]), Int32(count), Int32(cols),
                        1, x + offsets[g] * cols, Int32(cols), w, Int32(ldw), beta, y + offsets[g] * rows + r0, Int32(rows))
        }
        Parallel.forChunks(rows, minChunk: 16) { range in
            if direct {
                let w = (base + range.lowerBound * stride).assumingMemoryBound(to: Float.self)
                for g in groups { multiply(g, range.lowerBound, range.count, w, cols) }
                return
            }
            let tile = max(8, min(range.count, Self.tileFloats / max(ld, 1)))
            let scratch = GemmScratch.floats(tile * ld)                  // [tile, ld]
            var r0 = range.lowerBound
            while r0 < range.upperBound {
                let count = min(tile, range.upperBound - r0)
                for i in 0..<count { decodeRow(r0 + i, ld: ld, into: scratch + i * ld) }
                for g in groups { multiply(g, r0, count, scratch, ld) }
                r0 += count
            }
        }
    }

    /// Array form of ``applyGroups(_:counts:into:bias:accumulate:)``: x is [Σ counts, cols], returns [Σ counts, rows].
    public func applyGroups(_ x: [Float], counts: [Int], bias: [Float]? = nil) -> [Float] {
        let n = counts.reduce(0, +)
        precondition(x.count >= n * cols, "WeightMatrix.applyGroups: x has \(x.count) values, need \(n)×\(cols)")
        return [Float](unsafeUninitializedCapacity: n * rows) { yp, initialized in
            x.withUnsafeBufferPointer { xp in
                if let bias {
                    bias.withUnsafeBufferPointer { applyGroups(xp.baseAddress!, counts: counts, into: yp.baseAddress!, bias: $0.baseAddress!) }
                } else {
                    applyGroups(xp.baseAddress!, counts: counts, into: yp.baseAddress!)
                }
            }
            initialized = n * rows
        }
    }

    /// `y[g] += x[g] · Wᵀ` for the groups (residual connections), as ``apply(_:count:accumulatingInto:bias:)`` per group.
    public func applyGroups(_ x: [Float], counts: [Int], accumulatingInto y: inout [Float]) {
        let n = counts.reduce(0, +)
        precondition(x.count >= n * cols && y.count >= n * rows, "WeightMatrix.applyGroups: x or y too short for \(n) rows")
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in applyGroups(xp.baseAddress!, counts: counts, into: yp.baseAddress!, accumulate: true) }
        }
    }
}
