import Foundation

/// A linear layer's weight `W: [rows = out, cols = in]` (PyTorch layout), applied as `y = x·Wᵀ`.
///
/// Stored weights stay in their checkpoint dtype inside the memory-mapped file (bf16 is never copied); `converted`
/// makes an owned f32, q8 or q4 copy. Products with one or two tokens run as a threaded SIMD matrix-vector product
/// (``WeightMatrix/gemv(_:_:)``); products with more tokens decode tiles of W to float32 on each thread and call
/// OpenBLAS sgemm on them (``WeightMatrix/gemm(_:_:_:bias:)``).
public struct WeightMatrix: @unchecked Sendable {
    /// Output features.
    public let rows: Int
    /// Input features.
    public let cols: Int
    /// Checkpoint dtype of the values (for quantized matrices: the dtype they were quantized from).
    public let dtype: DType
    /// How the values are held.
    public let encoding: WeightEncoding
    /// Bytes from one row to the next.
    let rowStride: Int
    let base: UnsafeRawPointer
    let owner: AnyObject?

    /// Wraps a stored tensor; any shape [out, a, b, …] is viewed as [out, a·b·…].
    public init(_ tensor: StoredTensor) {
        rows = tensor.info.shape.first ?? 1
        cols = tensor.info.shape.dropFirst().reduce(1, *)
        dtype = tensor.info.dtype
        encoding = WeightEncoding(tensor.info.dtype)
        rowStride = cols * dtype.byteCount
        base = tensor.pointer
        owner = tensor.owner
    }

    /// Wraps float32 values owned by `buffer`: [rows, cols].
    public init(_ buffer: AlignedBuffer, rows: Int, cols: Int) {
        precondition(buffer.count == rows * cols, "WeightMatrix: buffer size mismatch")
        self.init(rows: rows, cols: cols, dtype: .f32, encoding: .f32, base: UnsafeRawPointer(buffer.pointer), owner: buffer)
    }

    init(rows: Int, cols: Int, dtype: DType, encoding: WeightEncoding, base: UnsafeRawPointer, owner: AnyObject?) {
        self.rows = rows
        self.cols = cols
        self.dtype = dtype
        self.encoding = encoding
        self.rowStride = encoding.rowBytes(cols: cols)
        self.base = base
        self.owner = owner
    }

    /// This matrix in `format` (`.stored` returns it unchanged; converting an already converted matrix to its own
    /// format returns it unchanged).
    ///
    /// Conversions of memory-mapped checkpoint tensors drop the mapped pages they read afterwards, so the process
    /// holds the new copy only (the file stays in the page cache).
    public func converted(to format: WeightFormat) -> WeightMatrix {
        let target: WeightEncoding
        switch format {
        case .stored: return self
        case .f32: target = .f32
        case .q8: target = .q8
        case .q4: target = .q4
        }
        if target == encoding { return self }
        let rowBytes = target.rowBytes(cols: cols)
        let storage = ByteBuffer(byteCount: rows * rowBytes)
        let converted = WeightMatrix(rows: rows, cols: cols, dtype: dtype, encoding: target,
                                     base: UnsafeRawPointer(storage.pointer), owner: storage)
        let source = self
        let padded = Q8Blocks.superBlocks(cols: cols) * Q8Blocks.superBlockSize
        // Mapped checkpoint pages are dropped as soon as their rows are converted (every ~1 MiB), so the peak
        // holds the new copy plus a little of the old one, not both whole.
        let mapped = owner is SafeTensorsFile
        let releaseRows = max(1, (1 << 20) / max(rowStride, 1))
        Parallel.forChunks(rows, minChunk: 16) { range in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: padded)
            defer { scratch.deallocate() }
            var unreleased = range.lowerBound
            for r in range {
                let destination = storage.pointer + r * rowBytes
                switch target {
                case .f32:
                    source.row(r, into: destination.assumingMemoryBound(to: Float.self))
                case .q8:
                    source.row(r, into: scratch)
                    Q8Blocks.quantizeRow(scratch, cols: cols, into: destination)
                case .q4:
                    source.row(r, into: scratch)
                    Q4Blocks.quantizeRow(scratch, cols: cols, into: destination)
                case .f16, .bf16:
                    preconditionFailure("WeightMatrix: no conversion to \(target)")
                }
                if mapped, r + 1 - unreleased >= releaseRows || r + 1 == range.upperBound {
                    MappedPages.release(source.base + unreleased * source.rowStride, byteCount: (r + 1 - unreleased) * source.rowStride)
                    unreleased = r + 1
                }
            }
        }
        if mapped { MappedPages.release(base, byteCount: rows * rowStride) }
        return converted
    }

    /// Bytes of weights read by one full pass (for bandwidth reports).
    public var byteCount: Int { rows * rowStride }

    /// Whether both matrices read the same values (a tied head that was not converted).
    public func sharesStorage(with other: WeightMatrix) -> Bool { base == other.base && encoding == other.encoding }

    /// Unmaps the checkpoint pages around row `r` from this process; a no-op for converted (owned) storage.
    ///
    /// Page-cache folios can be 2 MiB and a touch maps all of one, so each looked-up row would keep up to 2 MiB of
    /// neighbouring rows counted in RSS: 512 prompt tokens held ~250 MiB of a bf16 token embedding that q8 and q4
    /// runs otherwise never read. The whole 2 MiB regions around the row (inside this tensor) are dropped; the
    /// page cache keeps them, so the next lookup is a minor fault.
    public func releaseMappedRow(_ r: Int) {
        guard owner is SafeTensorsFile, r >= 0, r < rows else { return }
        let region = 2 << 20
        let first = Int(bitPattern: base), end = first + rows * rowStride
        let start = first + r * rowStride
        let lo = max(start / region * region, first)
        let hi = min((start + rowStride + region - 1) / region * region, end)
        guard hi > lo, let pointer = UnsafeRawPointer(bitPattern: lo) else { return }
        MappedPages.release(pointer, byteCount: hi - lo)
    }

    /// Unmaps all of this matrix's checkpoint pages from this process (the page cache keeps them, so the next
    /// use refaults them without reading the disk); a no-op for converted (owned) storage.
    public func releaseMappedPages() {
        guard owner is SafeTensorsFile else { return }
        MappedPages.release(base, byteCount: rows * rowStride)
    }

    /// Copies row `r` as float32 into `out` (`cols` values): the embedding lookup.
    public func row(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        let row = base + r * rowStride
        switch encoding {
        case .f32: convertToFloat(.f32, row, out, count: cols)
        case .bf16: convertToFloat(.bf16, row, out, count: cols)
        case .f16: convertToFloat(.f16, row, out, count: cols)
        case .q8, .q4:
            let blocks = Q8Blocks.superBlocks(cols: cols)
            if cols % Q8Blocks.superBlockSize == 0 {
                decodeQuantizedRow(row, blocks, out)
            } else {
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: blocks * Q8Blocks.superBlockSize)
                defer { scratch.deallocate() }
                decodeQuantizedRow(row, blocks, scratch)
                out.update(from: scratch, count: cols)
            }
        }
    }

    @inline(__always)
    private func decodeQuantizedRow(_ row: UnsafeRawPointer, _ superBlocks: Int, _ out: UnsafeMutablePointer<Float>) {
        if encoding == .q8 {
            Q8Blocks.dequantizeRow(row, superBlocks: superBlocks, into: out)
        } else {
            Q4Blocks.dequantizeRow(row, superBlocks: superBlocks, into: out)
        }
    }

    /// `y[n, rows] = x[n, cols] · Wᵀ + bias` (bias: [rows] or nil).
    public func apply(_ x: UnsafePointer<Float>, count n: Int, into y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>? = nil) {
        if n <= 2 {
            for t in 0..<n { gemv(x + t * cols, y + t * rows) }
            if let bias { for t in 0..<n { VectorMath.add(y + t * rows, adding: bias, count: rows) } }
        } else {
            gemm(x, n, y, bias: bias)   // the bias goes in as sgemm's C with β = 1
        }
    }

    /// `y[n, rows] += x[n, cols] · Wᵀ + bias` (residual connections): for n > 2 the sum happens inside sgemm
    /// (y is its C, β = 1); for n ≤ 2 the matrix-vector result is added row by row.
    public func apply(_ x: UnsafePointer<Float>, count n: Int, accumulatingInto y: UnsafeMutablePointer<Float>,
                      bias: UnsafePointer<Float>? = nil) {
        if n <= 2 {
            withUnsafeTemporaryAllocation(of: Float.self, capacity: rows) { buffer in
                let product = buffer.baseAddress!                                   // [rows]
                for t in 0..<n {
                    gemv(x + t * cols, product)
                    if let bias { VectorMath.add(product, adding: bias, count: rows) }
                    VectorMath.add(y + t * rows, adding: product, count: rows)
                }
            }
        } else {
            gemm(x, n, y, bias: bias, accumulate: true)
        }
    }

    /// Convenience over arrays: `y[n, rows] += x[n, cols] · Wᵀ + bias`.
    public func apply(_ x: [Float], count n: Int, accumulatingInto y: inout [Float], bias: [Float]? = nil) {
        precondition(x.count >= n * cols && y.count >= n * rows, "WeightMatrix.apply: x or y too short for \(n) rows")
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                if let bias {
                    bias.withUnsafeBufferPointer { apply(xp.baseAddress!, count: n, accumulatingInto: yp.baseAddress!, bias: $0.baseAddress!) }
                } else {
                    apply(xp.baseAddress!, count: n, accumulatingInto: yp.baseAddress!)
                }
            }
        }
    }

    /// Convenience over arrays: x is [n, cols], returns [n, rows].
    public func apply(_ x: [Float], count n: Int, bias: [Float]? = nil) -> [Float] {
        precondition(x.count >= n * cols, "WeightMatrix.apply: x has \(x.count) values, need \(n)×\(cols)")
        return [Float](unsafeUninitializedCapacity: n * rows) { yp, initialized in
            x.withUnsafeBufferPointer { xp in
                if let bias {
                    bias.withUnsafeBufferPointer { apply(xp.baseAddress!, count: n, into: yp.baseAddress!, bias: $0.baseAddress!) }
                } else {
                    apply(xp.baseAddress!, count: n, into: yp.baseAddress!)
                }
            }
            initialized = n * rows
        }
    }
}

/// Owned, 64-byte-aligned raw bytes (converted weights).
///
/// Buffers of 1 MiB and more come from ``HugePageArena`` (transparent huge pages, zero-filled); smaller ones, and
/// all of them when the arena's mapping fails or `QWENVL_HUGE_PAGES=0`, from the ordinary allocator.
final class ByteBuffer: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    let byteCount: Int
    private let chunk: HugePageArena.Chunk?

    init(byteCount: Int) {
        self.byteCount = byteCount
        if byteCount >= 1 << 20, HugePageArena.enabled, let carved = HugePageArena.shared.allocate(byteCount: byteCount) {
            chunk = carved.chunk
            pointer = carved.pointer
        } else {
            chunk = nil
            pointer = .allocate(byteCount: max(byteCount, 1), alignment: 64)
        }
    }

    deinit { if chunk == nil { pointer.deallocate() } }
}

/// Drops pages of a read-only file mapping from this process (they are read back from the file if touched again).
enum MappedPages {
    static func release(_ start: UnsafeRawPointer, byteCount: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let first = (Int(bitPattern: start) + page - 1) / page * page
        let end = (Int(bitPattern: start) + byteCount) / page * page
        guard end > first, let pointer = UnsafeMutableRawPointer(bitPattern: first) else { return }
        _ = madvise(pointer, end - first, Int32(MADV_DONTNEED))
    }
}
