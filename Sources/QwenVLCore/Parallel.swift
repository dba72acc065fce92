import COpenBLAS
import Dispatch
import Foundation
import Synchronization

/// Splits work across the machine's cores.
///
/// Kernels call `Parallel.forChunks` with the total amount of work; it runs contiguous ranges on
/// `Parallel.threadCount` threads (default: all cores, override with `QWENVL_THREADS` or `setThreadCount`).
/// All threading is ours: OpenBLAS is set to one thread and called from inside the chunks, so its own pool never
/// competes with ours (no idle OpenBLAS threads spinning in `sched_yield` while our threads convert weights).
///
/// ```swift
/// Parallel.setThreadCount(2)               // once, at startup
/// Parallel.forChunks(rows, minChunk: 64) { range in /* rows in range */ }
/// ```
public enum Parallel {
    /// Number of worker threads kernels use (the calling thread included).
    public static var threadCount: Int { state.withLock { $0.threads } }

    /// Sets the number of threads kernels use from now on (clamped to 1…256).
    ///
    /// Meant for startup (the `--threads` flag); a job already running keeps its threads.
    public static func setThreadCount(_ count: Int) {
        let count = min(256, max(1, count))
        state.withLock { state in
            guard state.threads != count else { return }
            state.threads = count
            state.retirePool()
        }
    }

    /// Runs `body` over `0..<count` split into one contiguous range per thread, in order of the ranges.
    ///
    /// Ranges shorter than `minChunk` elements are not split further, so tiny loops stay on one thread. Calls made
    /// from inside a running chunk run on the calling thread.
    public static func forChunks(_ count: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let (threads, pool) = state.withLock { ($0.threads, $0.currentPool()) }
        let chunks = max(1, min(threads, count / max(minChunk, 1)))
        if chunks == 1 {
            body(0..<count)
            return
        }
        let run: (Int) -> Void = { index in body((count * index / chunks)..<(count * (index + 1) / chunks)) }
        if #available(macOS 15.0, *), let pool = pool as? WorkerPool {
            pool.run(chunks: chunks, run)
        } else {
            withoutActuallyEscaping(run) { run in
                let box = UnsafeSendableBox(run)
                DispatchQueue.concurrentPerform(iterations: chunks) { box.value($0) }
            }
        }
    }

    /// Runs `body` over `0..<count` in pieces of `grain` elements that the threads take in turn from a shared
    /// counter, so a thread slowed down (by another process, an interrupt, or a busier memory channel) leaves its
    /// share to the others instead of making them wait at the end.
    ///
    /// Each call of `body` gets one piece (consecutive pieces are contiguous ranges); pieces run in no set order.
    /// Used for matrix-vector products, whose rows take equal work. Calls made from inside a running chunk run on
    /// the calling thread.
    public static func forDynamicChunks(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let grain = max(1, grain)
        let (threads, pool) = state.withLock { ($0.threads, $0.currentPool()) }
        let pieces = (count + grain - 1) / grain
        let chunks = min(threads, pieces)
        if chunks == 1 {
            body(0..<count)
            return
        }
        if #available(macOS 15.0, *), let pool = pool as? WorkerPool {
            let next = PieceCounter()
            pool.run(chunks: chunks) { _ in
                while true {
                    let piece = next.take()
                    if piece >= pieces { break }
                    body((piece * grain)..<min(count, (piece + 1) * grain))
                }
            }
        } else {
            forChunks(count, minChunk: grain, body)
        }
    }

    /// The OpenBLAS kernel family in use ("Haswell", "Cooperlake", …), for benchmark reports.
    public static var blasCore: String { String(cString: openblas_get_corename()) }

    /// Thread count and the pool that serves it.
    private final class State: @unchecked Sendable {
        var threads: Int
        private var pool: AnyObject?

        init() {
            if let value = ProcessInfo.processInfo.environment["QWENVL_THREADS"], let n = Int(value), n > 0 {
                threads = min(256, n)
            } else {
                threads = max(1, ProcessInfo.processInfo.activeProcessorCount)
            }
            // Every BLAS call is made from inside our own chunks; OpenBLAS must not start threads of its own.
            openblas_set_num_threads(1)
        }

        func currentPool() -> AnyObject? {
            if pool == nil, threads > 1, #available(macOS 15.0, *) { pool = WorkerPool(threadCount: threads) }
            return pool
        }

        func retirePool() {
            if #available(macOS 15.0, *), let old = pool as? WorkerPool { old.retire() }
            pool = nil
        }

        func withLock<T>(_ body: (State) -> T) -> T {
            lock.lock()
            defer { lock.unlock() }
            return body(self)
        }
        private let lock = NSLock()
    }

    private static let state = State()
}

/// The next unclaimed piece of a ``Parallel/forDynamicChunks(_:grain:_:)`` job.
@available(macOS 15.0, *)
final class PieceCounter: @unchecked Sendable {
    private let counter = Atomic<Int>(0)
    /// Claims a piece and returns its index.
    @inline(__always) func take() -> Int { counter.wrappingAdd(1, ordering: .relaxed).oldValue }
}

/// Carries a non-Sendable value into `concurrentPerform`; callers guarantee disjoint writes.
@usableFromInline
struct UnsafeSendableBox<T>: @unchecked Sendable {
    @usableFromInline let value: T
    @usableFromInline init(_ value: T) { self.value = value }
}
