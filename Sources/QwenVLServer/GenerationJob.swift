import Foundation
import QwenVL

/// A flag a request handler raises when its client goes away; the generation loop polls it every token.
public final class CancellationFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var raised = false

    public init() {}

    public var isCancelled: Bool {
        lock.lock()
        defer { lock.unlock() }
        return raised
    }

    public func cancel() {
        lock.lock()
        raised = true
        lock.unlock()
    }
}

/// What the worker knows once a request's prompt is ready, before its first token.
struct GenerationStart: Sendable {
    var promptTokenCount: Int
    /// Original size of the request's first image (for grounding boxes in pixels), if it has one.
    var firstImageSize: (width: Int, height: Int)?
    /// Size of the first image as the model saw it (Qwen2.5-VL writes boxes in these pixels).
    var firstImageResizedSize: (width: Int, height: Int)? = nil
}

/// What the worker reports after the start: each generated token, then the result or an error.
enum GenerationEvent: Sendable {
    case chunk(GenerationChunk)
    case finished(GenerationResult)
    case failed(APIError)
}

/// One queued chat completion: the conversation, how to prepare and sample it, and where to report.
final class GenerationJob: Sendable {
    let messages: [ChatMessage]
    let parameters: GenerationParameters
    let prepareOptions: PrepareOptions
    let maxPromptTokens: Int
    let cancellation: CancellationFlag
    /// When the request arrived (time-to-first-token is measured from here).
    let arrival: ContinuousClock.Instant
    /// Resolved once: the start, or the error that ended the job before it started.
    let start = OneShot<Result<GenerationStart, APIError>>()
    /// Called on the worker thread with the running count after each generated token, before the cancellation
    /// flag is checked (tests use it to cancel at an exact token).
    let tokenObserver: (@Sendable (Int) -> Void)?
    /// Events after the start.
    let events: AsyncStream<GenerationEvent>
    let continuation: AsyncStream<GenerationEvent>.Continuation

    init(messages: [ChatMessage], parameters: GenerationParameters, prepareOptions: PrepareOptions, maxPromptTokens: Int,
         cancellation: CancellationFlag = CancellationFlag(), arrival: ContinuousClock.Instant = .now,
         tokenObserver: (@Sendable (Int) -> Void)? = nil) {
        self.messages = messages
        self.parameters = parameters
        self.prepareOptions = prepareOptions
        self.maxPromptTokens = maxPromptTokens
        self.cancellation = cancellation
        self.arrival = arrival
        self.tokenObserver = tokenObserver
        (events, continuation) = AsyncStream.makeStream(of: GenerationEvent.self)
    }

    /// Ends the job before it started.
    func fail(_ error: APIError) {
        start.resolve(.failure(error))
        continuation.yield(.failed(error))
        continuation.finish()
    }
}

/// A value set once and awaited by any number of tasks.
final class OneShot<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value?
    private var waiters: [CheckedContinuation<Value, Never>] = []

    /// Sets the value (later calls are ignored) and wakes the waiters.
    func resolve(_ newValue: Value) {
        lock.lock()
        guard value == nil else { lock.unlock(); return }
        value = newValue
        let pending = waiters
        waiters = []
        lock.unlock()
        for waiter in pending { waiter.resume(returning: newValue) }
    }

    /// The value if it is set already.
    func peek() -> Value? {
        lock.lock()
        defer { lock.unlock() }
        return value
    }

    /// The value, once set.
    func wait() async -> Value {
        await withCheckedContinuation { continuation in
            lock.lock()
            if let value {
                lock.unlock()
                continuation.resume(returning: value)
            } else {
                waiters.append(continuation)
                lock.unlock()
            }
        }
    }
}
