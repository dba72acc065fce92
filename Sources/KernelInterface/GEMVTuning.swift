/// Fixed parameters of the matrix-vector kernels, shared by the caller and every kernel set (inlinable constants,
/// so they fold into the kernels of other modules).
///
/// Software prefetch distances were chosen by interleaved end-to-end decode runs on the 2B checkpoint (2 Zen-3
/// cores, ~15–19 GB/s of memory reads): bf16 3.3–4.3 → 3.7–4.8 tok/s with 768–1024 bytes ahead, q4 12.1–13.7 →
/// 14.3–15.2 with 8 super-blocks ahead, q8 6.4–7.8 → 7.1–8.2 with 4 (the hardware prefetcher alone leaves the
/// stream short of requests in flight).
public enum GEMVTuning {
    /// Rows per piece that the threads take in turn (a multiple of 4 for the four-row kernels).
    @inlinable public static var grain: Int { 64 }
    /// Dense rows up to this many values run one at a time; longer rows four at a time.
    @inlinable public static var singleRowLimit: Int { 4096 }
    /// Bytes ahead of the current position that the bf16 kernels (one row and four rows) prefetch, per row.
    @inlinable public static var prefetchDistanceBF16: Int { 1024 }
    /// The same for q8 rows: four 272-byte super-blocks.
    @inlinable public static var prefetchDistanceQ8: Int { 4 * BlockLayout.q8SuperBlockBytes }
    /// The same for q4 rows: eight 152-byte super-blocks.
    @inlinable public static var prefetchDistanceQ4: Int { 8 * BlockLayout.q4SuperBlockBytes }
}

/// Byte layout of the q8 and q4 super-blocks (documented at `Q8Blocks` and `Q4Blocks` in QwenVLCore).
public enum BlockLayout {
    /// Weights per block and per super-block (both formats).
    @inlinable public static var blockSize: Int { 32 }
    @inlinable public static var superBlockSize: Int { 256 }
    /// q8: `[8 × Float16 d][8 × 32 Int8 q]`.
    @inlinable public static var q8SuperBlockBytes: Int { 16 + 256 }
    /// q4: `[8 × UInt8 sc][8 × Int8 m][Float32 d][Float32 dmin][8 × 16 bytes of nibbles]`.
    @inlinable public static var q4SuperBlockBytes: Int { 24 + 128 }
    /// Offset of q4's nibbles in its super-block.
    @inlinable public static var q4QuantOffset: Int { 24 }
}
