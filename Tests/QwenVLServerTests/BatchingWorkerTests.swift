import Foundation
import QwenVL
import QwenVLTokenizer
import XCTest
@testable import QwenVLServer

/// The continuous-batching worker: concurrent requests decode together yet answer as they would alone; a cancelled
/// one leaves within one step; the prefix and vision caches skip work already done.
final class BatchingWorkerTests: XCTestCase {
    func greedy(_ model: QwenVLModel, maxTokens: Int = 6) -> GenerationParameters {
        var p = GenerationParameters()
        p.maxTokens = maxTokens
        p.eosTokenIDs = model.generationDefaults.eosTokenIDs
        return p
    }

    /// Eight conversations: four text, four with fixture images.
    func conversations() throws -> [[ChatMessage]] {
        let text = try ServerFixtures.caseMessages("text_cases.json").prefix(4)
        let image = try ServerFixtures.caseMessages("image_cases.json").prefix(4)
        return try (Array(text) + Array(image)).map { c in
            try (c["messages"]?.arrayValue ?? []).enumerated().map {
                try ChatMessage.parse($1, index: $0, baseDirectory: ServerFixtures.images)
            }
        }
    }

    func collect(_ job: GenerationJob) async -> (chunks: [Int32], result: GenerationResult?) {
        var ids: [Int32] = []
        var result: GenerationResult?
        for await event in job.events {
            switch event {
            case .chunk(let chunk): ids.append(chunk.tokenID)
            case .finished(let r): result = r
            case .failed(let error): XCTFail("\(error)")
            }
        }
        return (ids, result)
    }

    func testEightConcurrentRequestsMatchSoloGeneration() async throws {
        let model = try ServerFixtures.model()
        let conversations = try conversations()
        var solo: [GenerationResult] = []
        for messages in conversations { solo.append(try await model.generate(messages: messages, parameters: greedy(model))) }

        let metrics = ServerMetrics()
        let running = MaxGauge()
        let worker = GenerationWorker(model: model, metrics: metrics)
        defer { worker.shutdown() }
        let jobs = conversations.map {
            GenerationJob(messages: $0, parameters: greedy(model), prepareOptions: PrepareOptions(), maxPromptTokens: 4096,
                          tokenObserver: { [worker] _ in running.observe(worker.load.running) })
        }
        for job in jobs { try worker.submit(job) }
        for (k, job) in jobs.enumerated() {
            let (chunks, result) = await collect(job)
            XCTAssertEqual(result?.tokenIDs, solo[k].tokenIDs, "request \(k)")
            XCTAssertEqual(result?.text, solo[k].text, "request \(k)")
            XCTAssertEqual(chunks, solo[k].tokenIDs, "request \(k) streamed ids")
        }
        XCTAssertGreaterThanOrEqual(running.value, 6, "requests were not decoded together")
        XCTAssertEqual(metrics.completionTokenCount, solo.reduce(0) { $0 + $1.tokenIDs.count })
    }

    func testCancelledRequestLeavesTheBatchWithinOneStep() async throws {
        let model = try ServerFixtures.model()
        let conversations = try conversations()
        let metrics = ServerMetrics()
        let worker = GenerationWorker(model: model, metrics: metrics)
        defer { worker.shutdown() }
        var long = greedy(model, maxTokens: 10)
        long.eosTokenIDs = []
        let flag = CancellationFlag()
        let doomed = GenerationJob(messages: conversations[0], parameters: long, prepareOptions: PrepareOptions(), maxPromptTokens: 4096,
                                   cancellation: flag, tokenObserver: { count in if count == 4 { flag.cancel() } })
        let others = conversations[1...3].map {
            GenerationJob(messages: $0, parameters: long, prepareOptions: PrepareOptions(), maxPromptTokens: 4096)
        }
        try worker.submit(doomed)
        for job in others { try worker.submit(job) }
        let (chunks, result) = await collect(doomed)
        XCTAssertEqual(chunks.count, 4)
        XCTAssertEqual(result?.finishReason, .cancelled)
        XCTAssertEqual(result?.tokenIDs.count, 4)
        for (k, job) in others.enumerated() {
            let (_, r) = await collect(job)
            let alone = try await model.generate(messages: conversations[k + 1], parameters: long)
            XCTAssertEqual(r?.tokenIDs, alone.tokenIDs, "request \(k + 1) continued unchanged")
        }
        XCTAssertEqual(metrics.cancelledCount, 1)
    }

    /// Turn two of a conversation (turn one's prompt + answer + a new question) prefills only the new turn, and the
    /// image is not encoded again; the answer equals a fresh, uncached run's.
    func testSecondTurnReusesCachedPrefixAndImageFeatures() async throws {
        let model = try ServerFixtures.model()
        let metrics = ServerMetrics()
        let worker = GenerationWorker(model: model, metrics: metrics)
        defer { worker.shutdown() }
        let first = try conversations()[4]                       // an image conversation
        let job1 = GenerationJob(messages: first, parameters: greedy(model), prepareOptions: PrepareOptions(), maxPromptTokens: 4096)
        try worker.submit(job1)
        let (_, r1) = await collect(job1)
        let answer = try XCTUnwrap(r1)
        XCTAssertEqual(answer.cachedPromptTokens, 0)
        let second = first + [ChatMessage(role: "assistant", text: answer.text), ChatMessage(role: "user", text: "And what else?")]
        let job2 = GenerationJob(messages: second, parameters: greedy(model), prepareOptions: PrepareOptions(), maxPromptTokens: 4096)
        try worker.submit(job2)
        let (_, r2) = await collect(job2)
        let turnTwo = try XCTUnwrap(r2)
        let fresh = try await model.generate(messages: second, parameters: greedy(model))
        XCTAssertEqual(turnTwo.tokenIDs, fresh.tokenIDs)
        // The cached prefix is at least turn one's prompt (the answer's tokens may re-tokenize differently).
        XCTAssertGreaterThanOrEqual(turnTwo.cachedPromptTokens, answer.promptTokenIDs.count)
        let newTurn = try await model.prepare(messages: [ChatMessage(role: "user", text: "And what else?")])
        XCTAssertLessThanOrEqual(turnTwo.promptTokenIDs.count - turnTwo.cachedPromptTokens, newTurn.tokenIDs.count + answer.tokenIDs.count)
        XCTAssertEqual(turnTwo.timings.visionSeconds, 0, "the image was encoded again")
        XCTAssertEqual(worker.prefixCache.statistics.hits, 1)
        XCTAssertEqual(metrics.cachedPromptTokenCount, turnTwo.cachedPromptTokens)

        // A new request with the same image but another question misses the KV prefix past the image's position
        // in its prompt only if the text before differs; here the image comes first, so the features come from
        // the vision cache either way.
        let third = [ChatMessage(role: "system", text: "Be brief.")] + first
        let job3 = GenerationJob(messages: third, parameters: greedy(model), prepareOptions: PrepareOptions(), maxPromptTokens: 4096)
        try worker.submit(job3)
        let (_, r3) = await collect(job3)
        let alone = try await model.generate(messages: third, parameters: greedy(model))
        XCTAssertEqual(r3?.tokenIDs, alone.tokenIDs)
        XCTAssertGreaterThanOrEqual(worker.featureCache.statistics.hits, 1)
    }

    func testPrefixCacheEvictsBeyondItsBudget() async throws {
        let model = try ServerFixtures.model()
        let metrics = ServerMetrics()
        // Room for about one short conversation: 2 layers · 2 · 8 floats · 4 bytes = 128 bytes per token.
        let worker = GenerationWorker(model: model, metrics: metrics, prefixCacheBytes: 128 * 40)
        defer { worker.shutdown() }
        for text in ["first question about apples", "second question about pears", "third about plums"] {
            let job = GenerationJob(messages: [ChatMessage(role: "user", text: text)], parameters: greedy(model, maxTokens: 4),
                                    prepareOptions: PrepareOptions(), maxPromptTokens: 4096)
            try worker.submit(job)
            _ = await collect(job)
        }
        let stats = worker.prefixCache.statistics
        XCTAssertEqual(stats.entries, 1)
        XCTAssertEqual(stats.evictions, 2, "\(stats)")
        XCTAssertLessThanOrEqual(stats.bytes, 128 * 40)
        XCTAssertTrue(metrics.render().contains("qwenvl_prefix_cache_evictions_total 2\n"))
    }
}

/// The largest value observed, thread-safe.
final class MaxGauge: @unchecked Sendable {
    private let lock = NSLock()
    private var maximum = 0
    func observe(_ v: Int) { lock.lock(); maximum = max(maximum, v); lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return maximum }
}
