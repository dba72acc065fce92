import COpenBLAS
import Foundation

/// Matrix-matrix products (prefill, vision): `y[n, rows] = x[n, cols] · Wᵀ`.
///
/// The rows of W are split into one contiguous range per thread. Each thread decodes a tile of its rows to float32
/// (bf16 widening or block dequantization) into its own reusable scratch and multiplies it with single-threaded
/// OpenBLAS sgemm, then moves to its next tile: no barriers between threads, and OpenBLAS never runs threads of
/// its own. float32 weights skip the decode (one sgemm per thread on its rows).
extension WeightMatrix {
    /// Float32 values per thread's decoded tile (default 4 Mi = 16 MiB; `QWENVL_GEMM_TILE_MB` overrides).
    static let tileFloats: Int = {
        if let value = ProcessInfo.processInfo.environment["QWENVL_GEMM_TILE_MB"], let mb = Double(value), mb > 0 {
            return max(1 << 16, Int(mb * 262_144))
        }
        return 4 << 20
    }()

    /// y[n, rows] = x[n, cols] · Wᵀ (+ bias[rows] on every row when given; + y's own values when `accumulate`).
    ///
    /// With a bias, each thread first writes (or, accumulating, adds) the bias into the block of y its sgemm is
    /// about to fill and calls sgemm with β = 1: one pass over y instead of OpenBLAS's β = 0 zeroing plus a serial
    /// bias pass afterwards. Accumulating (residual connections) hands y to sgemm as C with β = 1, so the sum costs
    /// no pass of its own.
    func gemm(_ x: UnsafePointer<Float>, _ n: Int, _ y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>? = nil,
              accumulate: Bool = false) {
        if usesBF16GEMM(count: n) {
            gemmBF16(x, n, y, bias: bias, accumulate: accumulate)
            return
        }
        let (rows, cols, base, stride, encoding) = (rows, cols, base, rowStride, encoding)
        let quantized = encoding == .q8 || encoding == .q4
        // Leading dimension of a decoded tile: quantized rows decode to whole super-blocks.
        let ld = quantized ? Q8Blocks.superBlocks(cols: cols) * Q8Blocks.superBlockSize : cols
        let direct = encoding == .f32 && Int(bitPattern: base) % 4 == 0
        func prepare(_ r0: Int, _ count: Int) -> Float {
            Self.seedBias(y, n: n, rows: rows, r0, count, bias: bias, accumulate: accumulate) ? 1 : 0
        }
        Parallel.forChunks(rows, minChunk: 16) { range in
            if direct {
                let beta = prepare(range.lowerBound, range.count)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(range.count), Int32(cols),
                            1, x, Int32(cols), (base + range.lowerBound * stride).assumingMemoryBound(to: Float.self),
                            Int32(cols), beta, y + range.lowerBound, Int32(rows))
                return
            }
            let tile = max(8, min(range.count, Self.tileFloats / max(ld, 1)))
            let scratch = GemmScratch.floats(tile * ld)
            var r0 = range.lowerBound
            while r0 < range.upperBound {
                let count = min(tile, range.upperBound - r0)
                for i in 0..<count { decodeRow(r0 + i, ld: ld, into: scratch + i * ld) }
                let beta = prepare(r0, count)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(count), Int32(cols),
                            1, x, Int32(cols), scratch, Int32(ld), beta, y + r0, Int32(rows))
                r0 += count
            }
        }
    }
}

extension WeightMatrix {
    /// Before a product adds into columns `r0..<r0+count` of `y` ([n, rows]): writes the bias there (adds it when
    /// accumulating). Returns whether the product must add to y (sgemm's β = 1) rather than overwrite it.
    @inline(__always)
    static func seedBias(_ y: UnsafeMutablePointer<Float>, n: Int, rows: Int, _ r0: Int, _ count: Int,
                         bias: UnsafePointer<Float>?, accumulate: Bool) -> Bool {
        guard let bias else { return accumulate }
        for t in 0..<n {
            if accumulate {
                VectorMath.add(y + t * rows + r0, adding: bias + r0, count: count)
            } else {
                (y + t * rows + r0).update(from: bias + r0, count: count)
            }
        }
        return true
    }

    /// Row `r` as float32 in `out`: `cols` values, or `ld` (whole super-blocks) for quantized rows.
    @inline(__always)
    func decodeRow(_ r: Int, ld: Int, into out: UnsafeMutablePointer<Float>) {
        let row = base + r * rowStride
        switch encoding {
        case .bf16: convertToFloat(.bf16, row, out, count: cols)
        case .f16: convertToFloat(.f16, row, out, count: cols)
        case .f32: convertToFloat(.f32, row, out, count: cols)
        case .q8: Q8Blocks.dequantizeRow(row, superBlocks: ld / Q8Blocks.superBlockSize, into: out)
        case .q4: Q4Blocks.dequantizeRow(row, superBlocks: ld / Q4Blocks.superBlockSize, into: out)
        }
    }
}

/// One growable float32 scratch buffer per thread for decoded GEMM tiles (kept between calls, so prefill does not
/// fault in fresh pages for every matrix).
enum GemmScratch {
    private final class Buffer {
        var pointer: UnsafeMutablePointer<Float>
        var capacity: Int
        init(capacity: Int) {
            self.capacity = capacity
            pointer = UnsafeMutableRawPointer.allocate(byteCount: capacity * 4, alignment: 64).assumingMemoryBound(to: Float.self)
        }
        deinit { UnsafeMutableRawPointer(pointer).deallocate() }
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { value in
            if let value = value as UnsafeMutableRawPointer? { Unmanaged<AnyObject>.fromOpaque(value).release() }
        }
        return key
    }()

    /// This thread's scratch with room for at least `count` floats (contents undefined).
    static func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
        if let raw = pthread_getspecific(key) {
            let buffer = Unmanaged<Buffer>.fromOpaque(raw).takeUnretainedValue()
            if buffer.capacity >= count { return buffer.pointer }
            UnsafeMutableRawPointer(buffer.pointer).deallocate()
            buffer.capacity = count
            buffer.pointer = UnsafeMutableRawPointer.allocate(byteCount: count * 4, alignment: 64).assumingMemoryBound(to: Float.self)
            return buffer.pointer
        }
        let buffer = Buffer(capacity: count)
        pthread_setspecific(key, Unmanaged.passRetained(buffer).toOpaque())
        return buffer.pointer
    }
}
