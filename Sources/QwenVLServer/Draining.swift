import Dispatch
import Foundation

/// A flag set once, when the server starts draining (it takes no new work).
final class DrainFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    var isSet: Bool {
        lock.lock()
        defer { lock.unlock() }
        return value
    }

    func set() {
        lock.lock()
        value = true
        lock.unlock()
    }
}

/// Delivers process signals (SIGTERM, SIGINT) as an async stream instead of their default action.
final class SignalWatcher: @unchecked Sendable {
    let stream: AsyncStream<Int32>
    private let sources: [DispatchSourceSignal]
    private let continuation: AsyncStream<Int32>.Continuation

    init(signals: [Int32]) {
        let (stream, continuation) = AsyncStream.makeStream(of: Int32.self)
        self.stream = stream
        self.continuation = continuation
        sources = signals.map { number in
            signal(number, SIG_IGN)        // the dispatch source sees it; the default action (exit) does not run
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
    }

    /// Stops watching and restores the default actions.
    func stop() {
        for source in sources { source.cancel() }
        continuation.finish()
        for number in [SIGTERM, SIGINT] { signal(number, SIG_DFL) }
    }
}
