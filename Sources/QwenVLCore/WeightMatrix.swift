import COpenBLAS

/// The in-memory form of a weight matrix.
public enum WeightFormat: String, Sendable, CaseIterable {
    /// As stored in the checkpoint (memory-mapped, no copy).
    case stored
    /// Converted to float32 (an owned copy: 2× the memory of bf16, no conversion in GEMMs).
    case f32
}

/// A linear layer's weight `W: [rows = out, cols = in]` (PyTorch layout), applied as `y = x·Wᵀ`.
///
/// The weight stays in its checkpoint dtype inside the memory-mapped file (bf16 is never copied); products with
/// one token run as a threaded SIMD matrix-vector product, products with several tokens convert tiles of W to
/// float32 and call OpenBLAS sgemm.
public struct WeightMatrix: @unchecked Sendable {
    /// Output features.
    public let rows: Int
    /// Input features.
    public let cols: Int
    public let dtype: DType
    let base: UnsafeRawPointer
    let owner: AnyObject?

    /// Wraps a stored tensor; any shape [out, a, b, …] is viewed as [out, a·b·…].
    public init(_ tensor: StoredTensor) {
        rows = tensor.info.shape.first ?? 1
        cols = tensor.info.shape.dropFirst().reduce(1, *)
        dtype = tensor.info.dtype
        base = tensor.pointer
        owner = tensor.owner
    }

    /// Wraps float32 values owned by `buffer`: [rows, cols].
    public init(_ buffer: AlignedBuffer, rows: Int, cols: Int) {
        precondition(buffer.count == rows * cols, "WeightMatrix: buffer size mismatch")
        self.rows = rows
        self.cols = cols
        dtype = .f32
        base = UnsafeRawPointer(buffer.pointer)
        owner = buffer
    }

    /// This matrix in `format` (`.stored` returns it unchanged).
    public func converted(to format: WeightFormat) -> WeightMatrix {
        switch format {
        case .stored:
            return self
        case .f32:
            if dtype == .f32 { return self }
            let buffer = AlignedBuffer(count: rows * cols)
            let (base, cols, dtype) = (base, cols, dtype)
            Parallel.forChunks(rows, minChunk: 64) { range in
                convertToFloat(dtype, base + range.lowerBound * cols * dtype.byteCount, buffer.pointer + range.lowerBound * cols, count: range.count * cols)
            }
            return WeightMatrix(buffer, rows: rows, cols: cols)
        }
    }

    /// Bytes of weights read by one full pass (for bandwidth reports).
    public var byteCount: Int { rows * cols * dtype.byteCount }

    /// Copies row `r` as float32 into `out` (`cols` values): the embedding lookup.
    public func row(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        convertToFloat(dtype, base + r * cols * dtype.byteCount, out, count: cols)
    }

    /// `y[n, rows] = x[n, cols] · Wᵀ + bias` (bias: [rows] or nil).
    public func apply(_ x: UnsafePointer<Float>, count n: Int, into y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>? = nil) {
        if n <= 2 {
            for t in 0..<n { gemv(x + t * cols, y + t * rows) }
        } else {
            gemm(x, n, y)
        }
        if let bias {
            for t in 0..<n {
                let out = y + t * rows
                for r in 0..<rows { out[r] += bias[r] }
            }
        }
    }

    /// Convenience over arrays: x is [n, cols], returns [n, rows].
    public func apply(_ x: [Float], count n: Int, bias: [Float]? = nil) -> [Float] {
        var y = [Float](repeating: 0, count: n * rows)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                if let bias {
                    bias.withUnsafeBufferPointer { apply(xp.baseAddress!, count: n, into: yp.baseAddress!, bias: $0.baseAddress!) }
                } else {
                    apply(xp.baseAddress!, count: n, into: yp.baseAddress!)
                }
            }
        }
        return y
    }

    // MARK: - matrix-vector (decode)

    /// y[rows] = W · x[cols], rows split across threads.
    func gemv(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        let cols = cols, base = base, dtype = dtype
        Parallel.forChunks(rows, minChunk: 64) { range in
            switch dtype {
            case .bf16:
                for r in range { y[r] = dotBF16(base + r * cols * 2, x, cols) }
            case .f32:
                for r in range { y[r] = dotF32(base + r * cols * 4, x, cols) }
            case .f16:
                for r in range { y[r] = dotF16(base + r * cols * 2, x, cols) }
            }
        }
    }

    // MARK: - matrix-matrix (prefill, vision)

    /// Rows of W converted per tile; sized so a tile of float32 stays around 4 MiB.
    private var tileRows: Int { max(16, min(rows, (1 << 20) / max(cols, 1))) }

    func gemm(_ x: UnsafePointer<Float>, _ n: Int, _ y: UnsafeMutablePointer<Float>) {
        if dtype == .f32, Int(bitPattern: base) % 4 == 0 {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(rows), Int32(cols),
                        1, x, Int32(cols), base.assumingMemoryBound(to: Float.self), Int32(cols), 0, y, Int32(rows))
            return
        }
        let tile = tileRows
        let scratch = AlignedBuffer(count: tile * cols)
        var r0 = 0
        while r0 < rows {
            let count = min(tile, rows - r0)
            let cols = cols, base = base, dtype = dtype, elementBytes = dtype.byteCount
            let dst = scratch.pointer
            Parallel.forChunks(count, minChunk: 8) { range in
                convertToFloat(dtype, base + (r0 + range.lowerBound) * cols * elementBytes,
                               dst + range.lowerBound * cols, count: range.count * cols)
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(count), Int32(cols),
                        1, x, Int32(cols), dst, Int32(cols), 0, y + r0, Int32(rows))
            r0 += count
        }
    }
}

// MARK: - dot kernels

@inline(__always)
func dotBF16(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
    let xr = UnsafeRawPointer(x)
    var i = 0
    while i + 32 <= n {
        let r0 = w.loadUnaligned(fromByteOffset: i * 2, as: SIMD16<UInt16>.self)
        let r1 = w.loadUnaligned(fromByteOffset: i * 2 + 32, as: SIMD16<UInt16>.self)
        let w0 = unsafeBitCast(SIMD8<UInt32>(truncatingIfNeeded: r0.lowHalf) &<< 16, to: SIMD8<Float>.self)
        let w1 = unsafeBitCast(SIMD8<UInt32>(truncatingIfNeeded: r0.highHalf) &<< 16, to: SIMD8<Float>.self)
        let w2 = unsafeBitCast(SIMD8<UInt32>(truncatingIfNeeded: r1.lowHalf) &<< 16, to: SIMD8<Float>.self)
        let w3 = unsafeBitCast(SIMD8<UInt32>(truncatingIfNeeded: r1.highHalf) &<< 16, to: SIMD8<Float>.self)
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

@inline(__always)
func dotF16(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var a0 = SIMD8<Float>()
    let xr = UnsafeRawPointer(x)
    var i = 0
    while i + 8 <= n {
        let h = w.loadUnaligned(fromByteOffset: i * 2, as: SIMD8<Float16>.self)
        a0.addProduct(SIMD8<Float>(h), xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
        i += 8
    }
    var sum = a0.sum()
    while i < n {
        sum += f16ToFloat(w.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) * x[i]
        i += 1
    }
    return sum
}
