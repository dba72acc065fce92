import KernelInterface

/// Matrix-vector products (decode): `y[rows] = W · x[cols]`, rows taken by the threads in pieces of 64, each piece
/// computed by the active ``KernelSet``.
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
    func gemv(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, kernels: KernelSet = .active) {
        gemvBatch(x, count: 1, y, kernels: kernels)
    }
}
