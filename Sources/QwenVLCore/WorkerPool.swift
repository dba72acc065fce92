import Dispatch
import Foundation
import Synchronization

/// A fixed set of persistent worker threads that run one parallel job at a time.
///
/// Kernels dispatch hundreds of small jobs per decoded token; waking parked threads for each one costs more than the
/// work. Workers therefore spin briefly on an atomic job counter after each job (so back-to-back jobs start within
/// a microsecond) and park on a semaphore when nothing arrives. The calling thread runs chunk 0 itself.
///
/// One job runs at a time (callers from several threads take turns); a job started from inside a job runs inline
/// on the calling thread.
@available(macOS 15.0, *)
final class WorkerPool: @unchecked Sendable {
    /// Threads taking part in a job, the caller included.
    let threadCount: Int

    /// Job counter and chunk count of the latest job, `counter << 16 | chunks`; workers wait for it to change.
    private let generation = Atomic<Int>(0)
    /// Worker chunks of the current job still running.
    private let pending = Atomic<Int>(0)
    /// Per worker: its parking flag and semaphore.
    private let slots: [Slot]
    /// Serializes jobs from different threads.
    private let submitLock = NSLock()

    /// The current job; written by the submitter before `generation` is bumped, read only by workers that take
    /// part in it (the submitter waits for them before it changes).
    private var jobBody: ((Int) -> Void)?
    private var counter = 0
    /// Set by `retire`; workers exit when they see it.
    private var retired = false

    /// Spin iterations (each a load and a pause-like yield of the pipeline) before a worker parks: ≈ 50–100 µs.
    private static let spinLimit = 20_000

    /// Starts `threadCount − 1` worker threads.
    init(threadCount: Int) {
        self.threadCount = max(1, threadCount)
        let workers = self.threadCount - 1
        slots = (0..<workers).map { _ in Slot() }
        for index in 0..<workers {
            let thread = Thread { [unowned(unsafe) self] in self.workerLoop(index) }
            thread.name = "qwenvl-worker-\(index + 1)"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Runs `body(chunk)` for `chunk` in `0..<chunks` (at most `threadCount`), chunk 0 on the caller; returns when
    /// all are done.
    func run(chunks: Int, _ body: (Int) -> Void) {
        if chunks <= 1 || WorkerPool.insideJob {
            for chunk in 0..<chunks { body(chunk) }
            return
        }
        precondition(chunks <= threadCount, "WorkerPool: more chunks than threads")
        submitLock.lock()
        defer { submitLock.unlock() }
        if retired {
            for chunk in 0..<chunks { body(chunk) }
            return
        }
        withoutActuallyEscaping(body) { body in
            jobBody = body
            counter += 1
            pending.store(chunks - 1, ordering: .sequentiallyConsistent)
            generation.store(counter << 16 | chunks, ordering: .sequentiallyConsistent)
            for slot in slots.prefix(chunks - 1) { slot.wake() }
            WorkerPool.insideJob = true
            body(0)
            WorkerPool.insideJob = false
            var spins = 0
            while pending.load(ordering: .acquiring) > 0 {
                spins += 1
                if spins > 1000 { sched_yield() }
            }
            jobBody = nil
        }
    }

    /// Lets the workers exit once any running job is done; later jobs run inline on the caller.
    func retire() {
        submitLock.lock()
        defer { submitLock.unlock() }
        retired = true
        counter += 1
        generation.store(counter << 16, ordering: .sequentiallyConsistent)
        for slot in slots { slot.wake() }
    }

    private func workerLoop(_ index: Int) {
        WorkerPool.insideJob = true
        var seen = 0
        while true {
            var spins = 0
            var current = generation.load(ordering: .acquiring)
            while current == seen {
                spins += 1
                if spins < WorkerPool.spinLimit {
                    current = generation.load(ordering: .acquiring)
                    continue
                }
                // Park: announce it, re-check, then sleep until the submitter signals.
                let slot = slots[index]
                slot.parked.store(1, ordering: .sequentiallyConsistent)
                current = generation.load(ordering: .sequentiallyConsistent)
                if current != seen {
                    // A job arrived meanwhile; if the submitter already cleared our flag it also signalled: consume it.
                    if slot.parked.exchange(0, ordering: .sequentiallyConsistent) == 0 { slot.wakeup.wait() }
                } else {
                    slot.wakeup.wait()
                    current = generation.load(ordering: .acquiring)
                }
                spins = 0
            }
            seen = current
            if retired { return }
            let chunk = index + 1
            if chunk < current & 0xFFFF {
                // The closure reference must be gone before `pending` reaches 0: the submitter then leaves
                // `withoutActuallyEscaping`, which traps if the closure is still retained.
                do {
                    let body = jobBody
                    body?(chunk)
                }
                pending.subtract(1, ordering: .releasing)
            }
        }
    }

    /// A worker's parking place.
    private final class Slot: Sendable {
        /// 1 while the worker is parked (or about to park) on `wakeup`.
        let parked = Atomic<Int>(0)
        let wakeup = DispatchSemaphore(value: 0)

        /// Signals the worker if it is parked.
        func wake() {
            if parked.exchange(0, ordering: .sequentiallyConsistent) == 1 { wakeup.signal() }
        }
    }

    /// True on worker threads and on a submitter while it runs its own chunk.
    private static let insideKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()
    private static var insideJob: Bool {
        get { pthread_getspecific(insideKey) != nil }
        set { pthread_setspecific(insideKey, newValue ? UnsafeRawPointer(bitPattern: 1) : nil) }
    }
}
