import COpenBLAS
import Foundation

/// The transposed product of a linear layer (backpropagation): `dx[n, cols] += dy[n, rows] · W`.
///
/// The input gradient of `y = x·Wᵀ` needs W itself, not its transpose's gradient, so frozen weights are only read.
/// The columns of W are split into one contiguous range per thread; each thread widens tiles of W (rows × its
/// columns) to float32 into its own scratch — float32 weights are used in place — and accumulates
/// `dx[:, cols] += dy[:, rows] · tile` with single-threaded OpenBLAS sgemm. No thread writes another's columns of
/// dx, so there are no reductions between threads.
extension WeightMatrix {
    /// `dx[n, cols] += dy[n, rows] · W` (dy rows of `rows` floats, dx rows of `cols` floats).
    public func applyTransposed(_ dy: UnsafePointer<Float>, count n: Int, accumulatingInto dx: UnsafeMutablePointer<Float>) {
        guard n > 0 else { return }
        let (rows, cols, base, stride, encoding, dtype) = (rows, cols, base, rowStride, encoding, dtype)
        let direct = encoding == .f32 && Int(bitPattern: base) % 4 == 0
        let tileLimit = WeightMatrix.tileFloats
        Parallel.forChunks(cols, minChunk: 64) { range in
            let c0 = range.lowerBound, width = range.count
            if direct {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(width), Int32(rows),
                            1, dy, Int32(rows), base.assumingMemoryBound(to: Float.self) + c0, Int32(cols),
                            1, dx + c0, Int32(cols))
                return
            }
            let tileRows = max(1, min(rows, tileLimit / max(width, 1)))
            let tile = UnsafeMutablePointer<Float>.allocate(capacity: tileRows * width)   // [tileRows, width]
            defer { tile.deallocate() }
            let quantized = encoding == .q8 || encoding == .q4
            let rowScratch = quantized ? UnsafeMutablePointer<Float>.allocate(capacity: Q8Blocks.superBlocks(cols: cols) * Q8Blocks.superBlockSize) : nil
            defer { rowScratch?.deallocate() }
            var r0 = 0
            while r0 < rows {
                let count = min(tileRows, rows - r0)
                for r in 0..<count {
                    if let rowScratch {
                        self.row(r0 + r, into: rowScratch)
                        (tile + r * width).update(from: rowScratch + c0, count: width)
                    } else {
                        convertToFloat(dtype, base + (r0 + r) * stride + c0 * dtype.byteCount, tile + r * width, count: width)
                    }
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(width), Int32(count),
                            1, dy + r0, Int32(rows), tile, Int32(width), 1, dx + c0, Int32(cols))
                r0 += count
            }
        }
    }
}
