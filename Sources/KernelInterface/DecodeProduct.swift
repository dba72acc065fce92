/// The arguments of one decode matrix-vector product, as the kernel sets (`KernelsBaseline`, `KernelsAVX2`,
/// `KernelsAVX512`) receive them: every set is the same source compiled for another instruction set, so their
/// argument types live here, in a module they all share.
///
/// A kernel computes the rows of one range; the caller (``QwenVLCore``'s `WeightMatrix.gemvBatch`) splits the rows
/// over the threads, so each call covers 64 rows or more.

/// `y[b] = W · x[b]` for b in 0..<count, W dense (bf16, f32 or f16).
public struct DenseProduct {
    /// W, one row every `rowStride` bytes: [rows, cols].
    public var weights: UnsafeRawPointer
    public var rowStride: Int
    public var rows: Int
    public var cols: Int
    /// The vectors: [count, cols].
    public var x: UnsafePointer<Float>
    /// bf16 only: x after `splitBF16` ([count, cols]); the other encodings ignore it.
    public var paired: UnsafePointer<Float>
    public var count: Int
    /// The results: [count, rows].
    public var y: UnsafeMutablePointer<Float>

    public init(weights: UnsafeRawPointer, rowStride: Int, rows: Int, cols: Int, x: UnsafePointer<Float>,
                paired: UnsafePointer<Float>, count: Int, y: UnsafeMutablePointer<Float>) {
        (self.weights, self.rowStride, self.rows, self.cols) = (weights, rowStride, rows, cols)
        (self.x, self.paired, self.count, self.y) = (x, paired, count, y)
    }
}

/// `y[b] = W · x[b]` for b in 0..<count, W in q8 or q4 blocks and each x already quantized to bytes.
public struct QuantizedProduct {
    /// W, one row every `rowStride` bytes: [rows, superBlocks super-blocks].
    public var weights: UnsafeRawPointer
    public var rowStride: Int
    public var rows: Int
    public var superBlocks: Int
    /// x as signed bytes: [count, byteStride] (32-byte aligned rows).
    public var xq: UnsafeRawPointer
    public var byteStride: Int
    /// x's scales: [count, scaleStride] (q8: one per block of 32, q4: one per super-block).
    public var xScales: UnsafePointer<Float>
    public var scaleStride: Int
    /// q4 only: x's per-block sums, [count, sumStride].
    public var blockSums: UnsafePointer<Float>
    public var sumStride: Int
    public var count: Int
    /// The results: [count, rows].
    public var y: UnsafeMutablePointer<Float>

    public init(weights: UnsafeRawPointer, rowStride: Int, rows: Int, superBlocks: Int, xq: UnsafeRawPointer, byteStride: Int,
                xScales: UnsafePointer<Float>, scaleStride: Int, blockSums: UnsafePointer<Float>, sumStride: Int,
                count: Int, y: UnsafeMutablePointer<Float>) {
        (self.weights, self.rowStride, self.rows, self.superBlocks) = (weights, rowStride, rows, superBlocks)
        (self.xq, self.byteStride, self.xScales, self.scaleStride) = (xq, byteStride, xScales, scaleStride)
        (self.blockSums, self.sumStride, self.count, self.y) = (blockSums, sumStride, count, y)
    }
}
