import Dispatch
import Foundation

/// Splits work across the machine's cores.
///
/// Kernels call `Parallel.forChunks` with the total amount of work; it runs contiguous ranges on
/// `Parallel.threadCount` threads (default: all cores, override with `QWENVL_THREADS`).
public enum Parallel {
    /// Number of worker threads kernels use.
    public static let threadCount: Int = {
        if let value = ProcessInfo.processInfo.environment["QWENVL_THREADS"], let n = Int(value), n > 0 { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// Runs `body` over `0..<count` split into one contiguous range per thread.
    ///
    /// Ranges shorter than `minChunk` elements are not split further, so tiny loops stay on one thread.
    @inlinable
    public static func forChunks(_ count: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        let chunks = max(1, min(threadCount, count / max(minChunk, 1)))
        if chunks == 1 {
            body(0..<count)
            return
        }
        withoutActuallyEscaping(body) { body in
            let box = UnsafeSendableBox(body)
            DispatchQueue.concurrentPerform(iterations: chunks) { index in
                let start = count * index / chunks
                let end = count * (index + 1) / chunks
                box.value(start..<end)
            }
        }
    }
}

/// Carries a non-Sendable value into `concurrentPerform`; callers guarantee disjoint writes.
@usableFromInline
struct UnsafeSendableBox<T>: @unchecked Sendable {
    @usableFromInline let value: T
    @usableFromInline init(_ value: T) { self.value = value }
}
