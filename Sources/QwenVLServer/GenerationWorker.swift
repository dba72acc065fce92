import Foundation
import Logging
import QwenVL

/// Runs queued chat completions one at a time, in arrival order, on its own thread.
///
/// Generation is synchronous CPU work; keeping it on a dedicated thread leaves the NIO event loops and the
/// Swift concurrency pool free to accept requests, stream answers and notice disconnects. Each job is
/// prepared (media loaded, prompt tokenized) and generated here; a raised ``CancellationFlag`` skips a
/// waiting job or stops a running one within one token.
final class GenerationWorker: @unchecked Sendable {
    let model: QwenVLModel
    let metrics: ServerMetrics
    let maxQueueLength: Int
    let logger = Logger(label: "qwenvl.generation")

    private let condition = NSCondition()
    private var pending: [GenerationJob] = []
    private var busy = false
    private var started = false
    private var stopping = false

    init(model: QwenVLModel, metrics: ServerMetrics, maxQueueLength: Int) {
        self.model = model
        self.metrics = metrics
        self.maxQueueLength = maxQueueLength
    }

    /// Jobs waiting (not counting the one running).
    var queueLength: Int {
        condition.lock()
        defer { condition.unlock() }
        return pending.count
    }

    /// Queues `job` behind the ones already waiting; throws 503 when the queue is full or the server stops.
    func submit(_ job: GenerationJob) throws {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { throw APIError.overloaded("The server is shutting down") }
        guard pending.count < maxQueueLength || (!busy && pending.isEmpty) else {
            throw APIError.overloaded("The request queue is full (\(maxQueueLength) waiting); retry later")
        }
        if !started {
            started = true
            let thread = Thread { [self] in loop() }
            thread.name = "qwenvl-generation"
            thread.stackSize = 16 << 20
            thread.start()
        }
        pending.append(job)
        metrics.setQueue(waiting: pending.count, running: busy ? 1 : 0)
        condition.signal()
    }

    /// Stops the thread after the running job; waiting jobs fail with 503.
    func shutdown() {
        condition.lock()
        stopping = true
        let dropped = pending
        pending = []
        condition.broadcast()
        condition.unlock()
        for job in dropped { job.fail(.overloaded("The server is shutting down")) }
    }

    private func loop() {
        while true {
            condition.lock()
            while pending.isEmpty && !stopping { condition.wait() }
            if pending.isEmpty {
                condition.unlock()
                return
            }
            let job = pending.removeFirst()
            busy = true
            metrics.setQueue(waiting: pending.count, running: 1)
            condition.unlock()

            run(job)

            condition.lock()
            busy = false
            metrics.setQueue(waiting: pending.count, running: 0)
            condition.unlock()
        }
    }

    /// Prepares and generates one job, reporting through its start signal and event stream.
    func run(_ job: GenerationJob) {
        if job.cancellation.isCancelled {
            metrics.requestCancelled()
            logger.info("queued request dropped: the client disconnected")
            job.fail(APIError(status: .init(code: 499, reasonPhrase: "Client Closed Request"),
                              message: "The client disconnected", type: "cancelled"))
            return
        }
        let sizes = FirstImageSize()
        var options = job.prepareOptions
        options.onImage = { index, image in if index == 0 { sizes.set(image.originalWidth, image.originalHeight) } }
        let input: ModelInput
        do {
            input = try runBlocking { [model, options] in try await model.prepare(messages: job.messages, options: options) }
        } catch {
            job.fail(Self.apiError(error))
            return
        }
        guard input.tokenIDs.count <= job.maxPromptTokens else {
            job.fail(.invalidRequest("The prompt has \(input.tokenIDs.count) tokens, more than this server's limit of \(job.maxPromptTokens)",
                                     param: "messages", code: "context_length_exceeded"))
            return
        }
        let context = model.configuration.text.maxPositionEmbeddings
        guard input.tokenIDs.count < context else {
            job.fail(.invalidRequest("The prompt has \(input.tokenIDs.count) tokens, more than the model's context of \(context) tokens",
                                     param: "messages", code: "context_length_exceeded"))
            return
        }
        metrics.addPromptTokens(input.tokenIDs.count)
        job.start.resolve(.success(GenerationStart(promptTokenCount: input.tokenIDs.count, firstImageSize: sizes.value)))

        var state = model.makeState()
        var last: ContinuousClock.Instant?
        var count = 0
        do {
            let result = try model.generate(input, parameters: job.parameters, state: &state) { [metrics] chunk in
                let now = ContinuousClock.now
                if let last {
                    metrics.observeTimePerOutputToken(Self.seconds(now - last))
                } else {
                    metrics.observeTimeToFirstToken(Self.seconds(now - job.arrival))
                }
                last = now
                metrics.addCompletionToken()
                job.continuation.yield(.chunk(chunk))
                count += 1
                job.tokenObserver?(count)
                return !job.cancellation.isCancelled
            }
            if result.finishReason == .cancelled {
                metrics.requestCancelled()
                logger.info("generation cancelled after \(result.tokenIDs.count) tokens: the client disconnected")
            }
            job.continuation.yield(.finished(result))
        } catch {
            job.continuation.yield(.failed(Self.apiError(error)))
        }
        job.continuation.finish()
    }

    /// The API error for a failure while preparing or generating (input problems are 400s).
    static func apiError(_ error: Error) -> APIError {
        switch error {
        case let error as APIError: return error
        case let error as QwenVLError: return .invalidRequest(error.description, param: "messages")
        default: return .internalError("\(error)")
        }
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    /// Runs async work to completion from this (non-async) worker thread.
    private func runBlocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let box = OneShot<Result<T, Error>>()
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            do { box.resolve(.success(try await body())) } catch { box.resolve(.failure(error)) }
            done.signal()
        }
        done.wait()
        guard let result = box.peek() else { throw APIError.internalError("preparation ended without a result") }
        return try result.get()
    }
}

/// The first image's original size, written from the prepare callback.
private final class FirstImageSize: @unchecked Sendable {
    private let lock = NSLock()
    private var size: (width: Int, height: Int)?

    func set(_ width: Int, _ height: Int) {
        lock.lock()
        size = (width, height)
        lock.unlock()
    }

    var value: (width: Int, height: Int)? {
        lock.lock()
        defer { lock.unlock() }
        return size
    }
}
