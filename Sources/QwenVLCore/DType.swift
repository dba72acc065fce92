/// Element types a checkpoint tensor may be stored in.
///
/// Qwen2-VL checkpoints ship bf16; float32 and float16 exports load as well. Everything else is refused with
/// an error naming the dtype.
public enum DType: String, Sendable, CaseIterable {
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"

    /// Bytes per element.
    public var byteCount: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        }
    }
}

/// Widens a bfloat16 bit pattern to Float exactly (shift the 16 bits into the high half).
@inlinable @inline(__always)
public func bf16ToFloat(_ bits: UInt16) -> Float {
    Float(bitPattern: UInt32(bits) << 16)
}

/// Rounds a Float to bfloat16 with round-to-nearest-even (NaN stays NaN), as torch does.
@inlinable
public func floatToBF16(_ value: Float) -> UInt16 {
    let bits = value.bitPattern
    if value.isNaN { return UInt16(truncatingIfNeeded: (bits >> 16) | 0x40) }
    let rounding: UInt32 = 0x7FFF + ((bits >> 16) & 1)
    return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
}

/// Widens an IEEE half bit pattern to Float exactly.
@inlinable @inline(__always)
public func f16ToFloat(_ bits: UInt16) -> Float {
    Float(Float16(bitPattern: bits))
}

/// Converts `count` stored elements starting at `source` to Float32 in `destination`.
///
/// `source` points at raw checkpoint bytes (any alignment).
public func convertToFloat(_ dtype: DType, _ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, count: Int) {
    switch dtype {
    case .f32:
        UnsafeMutableRawPointer(destination).copyMemory(from: source, byteCount: count * 4)
    case .bf16:
        var i = 0
        while i + 8 <= count {
            UnsafeMutableRawPointer(destination + i).storeBytes(of: Lanes.bf16(source, i * 2), as: SIMD8<Float>.self)
            i += 8
        }
        while i < count {
            destination[i] = bf16ToFloat(source.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
            i += 1
        }
    case .f16:
        var i = 0
        while i + 8 <= count {
            UnsafeMutableRawPointer(destination + i).storeBytes(of: Lanes.half(source, i * 2), as: SIMD8<Float>.self)
            i += 8
        }
        while i < count {
            destination[i] = f16ToFloat(source.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
            i += 1
        }
    }
}
