import Foundation

/// A fixed-size, 64-byte-aligned Float32 buffer that owns its memory.
///
/// Immutable after construction from the outside (the loaded model is `Sendable`); the `initialize` closure
/// writes the contents once.
public final class AlignedBuffer: @unchecked Sendable {
    /// Start of the data: `count` floats.
    public let pointer: UnsafeMutablePointer<Float>
    /// Number of floats.
    public let count: Int

    /// Allocates `count` zeroed floats.
    public init(count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        raw.initializeMemory(as: Float.self, repeating: 0, count: max(count, 1))
        pointer = raw.assumingMemoryBound(to: Float.self)
    }

    /// Allocates `count` floats and lets `initialize` fill them.
    public convenience init(count: Int, _ initialize: (UnsafeMutablePointer<Float>) throws -> Void) rethrows {
        self.init(count: count)
        try initialize(pointer)
    }

    /// Copies an array.
    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }

    /// The contents as an array (tests and small vectors).
    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}
