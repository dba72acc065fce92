import Foundation
import Logging
import QwenVL

/// Runs chat completions with continuous batching on its own thread.
///
/// Up to `maxSequences` requests are in flight at once. Every step the worker admits waiting requests (in arrival
/// order, while the KV budget allows), runs one prompt chunk (≤ ``LanguageModel/prefillChunk`` tokens) of the oldest
/// request still prefilling — in one pass with the next chunks of later prefilling requests while their rows fit in
/// one chunk (``QwenVLModel/prefillGroup(_:rowLimit:)``: requests arriving together share each weight tile's
/// decode) — samples one token for every request with logits ready, and feeds all of those
/// tokens through one batched decoder step (``QwenVLModel/decodeStep(_:)``: each weight matrix read once for the
/// whole batch). Requests that finish or whose client goes away leave between steps. A sequence's tokens do not
/// depend on the batch it runs in. Prompts that share a prefix with an earlier request reuse its keys and values
/// (``PrefixCache``) and images seen before reuse their encoder outputs (``VisionFeatureCache``).
///
/// Generation is synchronous CPU work; keeping it on a dedicated thread leaves the NIO event loops and the Swift
/// concurrency pool free to accept requests, stream answers and notice disconnects.
final class GenerationWorker: @unchecked Sendable {
    /// Limits of the scheduler.
    struct Limits: Sendable {
        /// Sequences decoded together.
        var maxSequences = 8
        /// Requests waiting for a slot; more are refused with 503.
        var maxQueueLength = 64
        /// Keys and values all running sequences may hold at their longest (prompt + max tokens), in bytes.
        var kvBudgetBytes = 4 << 30
    }

    /// A request being generated (its ``SequenceRun`` sits at the same index of the run list).
    private struct Active {
        let job: GenerationJob
        var last: ContinuousClock.Instant?
        var count = 0
        /// Bytes its keys and values may reach (admission budget).
        let reservedBytes: Int
    }

    let model: QwenVLModel
    let metrics: ServerMetrics
    let limits: Limits
    let prefixCache: PrefixCache
    let featureCache: VisionFeatureCache
    let logger = Logger(label: "qwenvl.generation")

    private let condition = NSCondition()
    private var pending: [GenerationJob] = []
    private var runningCount = 0
    /// Prepared jobs waiting for KV budget: they hold a sequence slot but are not running yet.
    private var heldCount = 0
    /// KV bytes reserved by running sequences (worker thread only).
    private var reservedBytes = 0
    private var started = false
    private var stopping = false

    init(model: QwenVLModel, metrics: ServerMetrics, limits: Limits = Limits(), prefixCacheBytes: Int = 1 << 30,
         visionCacheBytes: Int = 256 << 20) {
        self.model = model
        self.metrics = metrics
        self.limits = limits
        prefixCache = PrefixCache(budgetBytes: prefixCacheBytes)
        featureCache = VisionFeatureCache(budgetBytes: visionCacheBytes)
        metrics.attachCaches(prefix: prefixCache, vision: featureCache)
    }

    /// Jobs waiting for a slot.
    var queueLength: Int {
        condition.lock()
        defer { condition.unlock() }
        return pending.count
    }

    /// Requests waiting or running.
    var load: (waiting: Int, running: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (pending.count + heldCount, runningCount)
    }

    /// Bytes of keys and values one token holds across the decoder's layers.
    var kvBytesPerToken: Int {
        let c = model.configuration.text
        return c.layerCount * 2 * c.kvHeadCount * c.headDim * MemoryLayout<Float>.size
    }

    /// Queues `job`; throws 503 when the queue is full or the server stops.
    func submit(_ job: GenerationJob) throws {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { throw APIError.overloaded("The server is shutting down") }
        let freeSlots = max(0, limits.maxSequences - runningCount - heldCount)
        guard pending.count < limits.maxQueueLength + freeSlots else {
            throw APIError.overloaded("The request queue is full (\(limits.maxQueueLength) waiting); retry later")
        }
        if !started {
            started = true
            let thread = Thread { [self] in loop() }
            thread.name = "qwenvl-generation"
            thread.stackSize = 16 << 20
            thread.start()
        }
        pending.append(job)
        metrics.setQueue(waiting: pending.count + heldCount, running: runningCount)
        condition.signal()
    }

    /// Stops the thread after the running step; waiting and running jobs fail with 503.
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
        var active: [Active] = []
        var runs: [SequenceRun] = []          // runs[i] belongs to active[i]
        var ready: [(job: GenerationJob, input: ModelInput)] = []   // prepared, waiting for KV budget
        while true {
            var taken: [GenerationJob] = []
            condition.lock()
            while pending.isEmpty && active.isEmpty && ready.isEmpty && !stopping { condition.wait() }
            if stopping {
                condition.unlock()
                for job in active.map(\.job) + ready.map(\.job) {
                    job.continuation.yield(.failed(.overloaded("The server is shutting down")))
                    job.continuation.finish()
                }
                return
            }
            // Take waiting jobs (oldest first) into free slots.
            while !pending.isEmpty && active.count + ready.count + taken.count < limits.maxSequences {
                taken.append(pending.removeFirst())
            }
            condition.unlock()

            for job in taken { if let input = prepare(job) { ready.append((job, input)) } }
            // Start prepared jobs while the KV budget holds their longest sequence (the oldest is never overtaken;
            // with nothing running the oldest starts whatever its size: its context bounds it).
            while let next = ready.first {
                let bytes = reservation(next.input, next.job)
                guard reservedBytes + bytes <= limits.kvBudgetBytes || active.isEmpty else { break }
                ready.removeFirst()
                if let run = start(next.job, next.input) {
                    reservedBytes += bytes
                    active.append(Active(job: next.job, reservedBytes: bytes))
                    runs.append(run)
                }
            }
            setQueue(held: ready.count, running: active.count)
            step(&active, &runs)
            // Finished, failed and cancelled requests leave between steps.
            for i in active.indices.reversed() where runs[i].isFinished {
                finish(active.remove(at: i), runs.remove(at: i))
            }
            setQueue(held: ready.count, running: active.count)
        }
    }

    /// Publishes the queue gauges (`held`: prepared jobs waiting for KV budget, counted as waiting).
    private func setQueue(held: Int, running: Int) {
        condition.lock()
        runningCount = running
        heldCount = held
        metrics.setQueue(waiting: pending.count + held, running: running)
        condition.unlock()
    }

    /// One scheduler step over the running requests.
    private func step(_ active: inout [Active], _ runs: inout [SequenceRun]) {
        // Cancelled requests (client gone) stop before any more work is spent on them.
        for i in active.indices where active[i].job.cancellation.isCancelled { runs[i].cancel() }
        // One prompt chunk of the oldest request still prefilling, in one pass with the next chunks of the other
        // prefilling requests that fit in the same rows (requests arriving together are prefilled together).
        model.prefill(&runs, members: QwenVLModel.prefillGroup(runs.map(model.nextPrefillChunk)))
        // One token for every request whose logits are ready.
        for i in active.indices where runs[i].canSample {
            let chunk = runs[i].sampleNext()
            let now = ContinuousClock.now
            if let last = active[i].last {
                metrics.observeTimePerOutputToken(Self.seconds(now - last))
            } else {
                metrics.observeTimeToFirstToken(Self.seconds(now - active[i].job.arrival))
            }
            active[i].last = now
            metrics.addCompletionToken()
            active[i].job.continuation.yield(.chunk(chunk))
            active[i].count += 1
            active[i].job.tokenObserver?(active[i].count)
            if active[i].job.cancellation.isCancelled { runs[i].cancel() }
        }
        // Feed the sampled tokens through the decoder together (each weight matrix read once for all of them).
        model.decodeStep(&runs)
    }

    /// Bytes of keys and values a prepared job may hold at its longest (prompt + max tokens, within the context).
    private func reservation(_ input: ModelInput, _ job: GenerationJob) -> Int {
        let context = model.configuration.text.maxPositionEmbeddings
        return min(context, input.tokenIDs.count + job.parameters.maxTokens) * kvBytesPerToken
    }

    /// Loads the job's media and tokenizes its prompt; nil (the job answered with its error) when that fails.
    private func prepare(_ job: GenerationJob) -> ModelInput? {
        if job.cancellation.isCancelled {
            metrics.requestCancelled()
            logger.info("queued request dropped: the client disconnected")
            job.fail(APIError(status: .init(code: 499, reasonPhrase: "Client Closed Request"),
                              message: "The client disconnected", type: "cancelled"))
            return nil
        }
        let sizes = FirstImageSize()
        var options = job.prepareOptions
        options.onImage = { index, image in if index == 0 { sizes.set(image.originalWidth, image.originalHeight) } }
        let input: ModelInput
        do {
            input = try runBlocking { [model, options] in try await model.prepare(messages: job.messages, options: options) }
        } catch {
            job.fail(Self.apiError(error))
            return nil
        }
        guard input.tokenIDs.count <= job.maxPromptTokens else {
            job.fail(.invalidRequest("The prompt has \(input.tokenIDs.count) tokens, more than this server's limit of \(job.maxPromptTokens)",
                                     param: "messages", code: "context_length_exceeded"))
            return nil
        }
        let context = model.configuration.text.maxPositionEmbeddings
        guard input.tokenIDs.count < context else {
            job.fail(.invalidRequest("The prompt has \(input.tokenIDs.count) tokens, more than the model's context of \(context) tokens",
                                     param: "messages", code: "context_length_exceeded"))
            return nil
        }
        job.start.resolve(.success(GenerationStart(promptTokenCount: input.tokenIDs.count, firstImageSize: sizes.value,
                                                           firstImageResizedSize: input.firstImageResizedSize(patchSize: model.configuration.vision.patchSize))))
        return input
    }

    /// Starts the run of a prepared job from the longest cached prefix (vision features from the cache too).
    private func start(_ job: GenerationJob, _ input: ModelInput) -> SequenceRun? {
        guard !job.cancellation.isCancelled else {
            metrics.requestCancelled()
            job.continuation.yield(.failed(APIError(status: .init(code: 499, reasonPhrase: "Client Closed Request"),
                                                    message: "The client disconnected", type: "cancelled")))
            job.continuation.finish()
            return nil
        }
        metrics.addPromptTokens(input.tokenIDs.count)
        let state = prefixCache.lookup(input, model: model) ?? model.makeState()
        do {
            let run = try model.startRun(input, parameters: job.parameters, state: state, featureCache: featureCache)
            metrics.addCachedPromptTokens(run.promptTokenIDs.count - run.newPromptTokens)
            return run
        } catch {
            job.continuation.yield(.failed(Self.apiError(error)))
            job.continuation.finish()
            return nil
        }
    }

    /// Reports a finished request and keeps its state for later requests sharing its prefix.
    private func finish(_ a: Active, _ run: SequenceRun) {
        reservedBytes -= a.reservedBytes
        let result = run.result
        if result.finishReason == .cancelled {
            metrics.requestCancelled()
            logger.info("generation cancelled after \(result.tokenIDs.count) tokens: the client disconnected")
        }
        // Cached before the client hears of the end, so its next turn finds the prefix.
        prefixCache.insert(run.state)
        a.job.continuation.yield(.finished(result))
        a.job.continuation.finish()
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
