import Foundation

/// An owned, 64-byte-aligned float32 buffer for training activations and gradients (zero-filled).
///
/// A class so layers can hand activations around without copying; freed when the last reference goes.
final class TrainingTensor {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(_ count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    convenience init(copying values: UnsafePointer<Float>, count: Int) {
        self.init(count)
        pointer.update(from: values, count: count)
    }

    convenience init(_ values: [Float]) {
        self.init(values.count)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }

    var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    /// `x[i] += y[i]` over `count` floats.
    static func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count: Int) {
        let px = UnsafeMutableRawPointer(x), py = UnsafeRawPointer(y)
        var i = 0
        while i + 8 <= count {
            px.storeBytes(of: px.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) + py.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self),
                          toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count { x[i] += y[i]; i += 1 }
    }

    /// Sets every value to zero.
    func zero() { pointer.update(repeating: 0, count: count) }
}
