import Foundation

extension WeightMatrix {
    /// An owned matrix holding float32 `values` ([rows, cols], row-major) rounded to `dtype`.
    ///
    /// `.bf16` rounds to nearest even as torch's `.to(torch.bfloat16)` does; `.f16` rounds as IEEE half; `.f32` copies.
    /// Used for weights computed at load time (a LoRA adapter merged into a checkpoint's matrix) that should keep the
    /// checkpoint's dtype.
    public init(rows: Int, cols: Int, rounding values: UnsafePointer<Float>, to dtype: DType) {
        let storage = ByteBuffer(byteCount: rows * cols * dtype.byteCount)
        let count = rows * cols
        switch dtype {
        case .f32:
            storage.pointer.copyMemory(from: values, byteCount: count * 4)
        case .bf16:
            let out = storage.pointer.assumingMemoryBound(to: UInt16.self)
            for i in 0..<count { out[i] = floatToBF16(values[i]) }
        case .f16:
            let out = storage.pointer.assumingMemoryBound(to: UInt16.self)
            for i in 0..<count { out[i] = Float16(values[i]).bitPattern }
        }
        self.init(rows: rows, cols: cols, dtype: dtype, encoding: WeightEncoding(dtype),
                  base: UnsafeRawPointer(storage.pointer), owner: storage)
    }
}
