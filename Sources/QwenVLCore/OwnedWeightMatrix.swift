import Foundation

extension WeightMatrix {
    /// An owned matrix [rows, cols] in `dtype` whose rows are computed in float32 by `row(r, out)` (called from
    /// several threads, each with its own `out` of `cols` floats) and rounded to `dtype`.
    ///
    /// `.bf16` rounds to nearest even as torch's `.to(torch.bfloat16)` does; `.f16` rounds as IEEE half; `.f32`
    /// stores the values. Used for weights computed at load time (a LoRA adapter merged into a checkpoint's matrix)
    /// that keep the checkpoint's dtype.
    public init(rows: Int, cols: Int, dtype: DType, computingRows row: (_ r: Int, _ out: UnsafeMutablePointer<Float>) -> Void) {
        let storage = ByteBuffer(byteCount: rows * cols * dtype.byteCount)
        let base = storage.pointer
        Parallel.forChunks(rows, minChunk: 16) { range in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(cols, 1))   // [cols]
            defer { scratch.deallocate() }
            for r in range {
                switch dtype {
                case .f32:
                    row(r, (base + r * cols * 4).assumingMemoryBound(to: Float.self))
                case .bf16:
                    row(r, scratch)
                    let out = (base + r * cols * 2).assumingMemoryBound(to: UInt16.self)
                    for i in 0..<cols { out[i] = floatToBF16(scratch[i]) }
                case .f16:
                    row(r, scratch)
                    let out = (base + r * cols * 2).assumingMemoryBound(to: UInt16.self)
                    for i in 0..<cols { out[i] = Float16(scratch[i]).bitPattern }
                }
            }
        }
        self.init(rows: rows, cols: cols, dtype: dtype, encoding: WeightEncoding(dtype), base: UnsafeRawPointer(base), owner: storage)
    }
}
