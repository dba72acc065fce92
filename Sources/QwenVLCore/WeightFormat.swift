/// The in-memory form of a weight matrix, chosen at load time.
///
/// | format | bytes / weight | notes |
/// |---|---|---|
/// | `stored` | 2 (bf16/f16) or 4 | memory-mapped checkpoint, no copy |
/// | `f32` | 4 | owned copy, GEMMs call sgemm directly |
/// | `q8` | 1.0625 | ``Q8Blocks``: blocks of 32 int8 with one f16 scale (llama.cpp Q8_0 precision) |
/// | `q4` | 0.59375 | ``Q4Blocks``: blocks of 32 × 4 bit with 8-bit scale and min codes per super-block of 256 |
public enum WeightFormat: String, Sendable, CaseIterable {
    /// As stored in the checkpoint (memory-mapped, no copy).
    case stored
    /// Converted to float32 (an owned copy: 2× the memory of bf16, no conversion in GEMMs).
    case f32
    /// Quantized on load to 8-bit blocks (``Q8Blocks``).
    case q8
    /// Quantized on load to 4-bit blocks with scales and minimums (``Q4Blocks``).
    case q4
}

/// How a ``WeightMatrix`` holds its values.
public enum WeightEncoding: String, Sendable, CaseIterable {
    case f32, f16, bf16, q8, q4

    /// The encoding of raw checkpoint values of `dtype`.
    public init(_ dtype: DType) {
        switch dtype {
        case .f32: self = .f32
        case .f16: self = .f16
        case .bf16: self = .bf16
        }
    }

    /// Bytes of one row of `cols` values (quantized rows are padded to whole super-blocks of 256).
    public func rowBytes(cols: Int) -> Int {
        switch self {
        case .f32: cols * 4
        case .f16, .bf16: cols * 2
        case .q8: Q8Blocks.rowBytes(cols: cols)
        case .q4: Q4Blocks.rowBytes(cols: cols)
        }
    }
}
