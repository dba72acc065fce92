import Foundation
import QwenVL
import QwenVLTokenizer
import XCTest
@testable import QwenVLServer

/// Request decoding, grounding boxes, JSON output and cancellation, below the HTTP layer.
final class ServerUnitTests: XCTestCase {
    func testRequestFieldsOverrideGenerationConfig() throws {
        let model = try ServerFixtures.model()
        let defaults = model.generationDefaults   // tiny-f32: do_sample, temperature 0.1, top_k 1, top_p 0.001, penalty 1.05
        let plain = try ChatCompletionRequest(body: Array(#"{"messages":[{"role":"user","content":"x"}]}"#.utf8))
        XCTAssertEqual(plain.parameters(defaults: defaults), { var p = defaults; p.seed = nil; return p }())
        XCTAssertTrue(defaults.doSample)
        XCTAssertEqual(defaults.temperature, 0.1)

        let body = #"""
        {"messages":[{"role":"user","content":"x"}],"temperature":0,"top_p":0.5,"top_k":-1,"min_p":0.1,"seed":-1,
         "repetition_penalty":1.2,"stop":"END","max_tokens":7,"ignore_eos":true,"n":1}
        """#
        let p = try ChatCompletionRequest(body: Array(body.utf8)).parameters(defaults: defaults)
        XCTAssertTrue(p.isGreedy)
        XCTAssertEqual(p.topP, 0.5)
        XCTAssertEqual(p.topK, 0, "top_k -1 (vLLM) disables top-k")
        XCTAssertEqual(p.minP, 0.1)
        XCTAssertEqual(p.seed, UInt64.max)
        XCTAssertEqual(p.repetitionPenalty, 1.2)
        XCTAssertEqual(p.stopStrings, ["END"])
        XCTAssertEqual(p.maxTokens, 7)
        XCTAssertEqual(p.eosTokenIDs, [])
        let sampled = try ChatCompletionRequest(body: Array(#"{"messages":[{"role":"user","content":"x"}],"temperature":0.7,"stop":["a","b"]}"#.utf8))
            .parameters(defaults: defaults)
        XCTAssertTrue(sampled.doSample)
        XCTAssertEqual(sampled.temperature, 0.7)
        XCTAssertEqual(sampled.stopStrings, ["a", "b"])
    }

    func testMessagesKeepByteOrderMarksAndParts() throws {
        let body = "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\u{FEFF}b\"},"
            + "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,AAAA\"}},{\"type\":\"video\",\"video\":[\"f1.jpg\",\"f2.jpg\"],\"fps\":2}]}],"
            + "\"stream\":true,\"stream_options\":{\"include_usage\":true},\"mm_processor_kwargs\":{\"min_pixels\":3136,\"max_pixels\":50176}}"
        let request = try ChatCompletionRequest(body: Array(body.utf8))
        XCTAssertEqual(request.messages[0].parts[0], .text("a\u{FEFF}b"))
        XCTAssertEqual(request.messages[0].parts[1], .image(ImageInput(source: "data:image/png;base64,AAAA")))
        guard case .video(let video) = request.messages[0].parts[2] else { return XCTFail("video part") }
        XCTAssertEqual(video.source, .frames(["f1.jpg", "f2.jpg"]))
        XCTAssertEqual(request.imageCount, 1)
        XCTAssertTrue(request.stream)
        XCTAssertTrue(request.includeUsage)
        XCTAssertEqual(request.minPixels, 3136)
        XCTAssertEqual(request.maxPixels, 50176)
    }

    func testMediaPolicyChecksVideoFramesToo() throws {
        let messages = [ChatMessage(role: "user", content: .parts([.video(VideoInput(source: .frames(["data:image/png;base64,AA", "/etc/hosts"])))]))]
        XCTAssertThrowsError(try MediaPolicy(allowLocalMedia: nil, allowRemote: true).apply(to: messages)) { error in
            XCTAssertEqual((error as? APIError)?.status.code, 403)
            XCTAssertEqual((error as? APIError)?.param, "messages[0].content[0]")
        }
        let remote = [ChatMessage(role: "user", content: .parts([.image(ImageInput(source: "http://127.0.0.1:1/x.png"))]))]
        XCTAssertEqual(try MediaPolicy(allowLocalMedia: nil, allowRemote: true).apply(to: remote), remote)
    }

    func testGroundingBoxesFromTokens() throws {
        let tokenizer = try ServerFixtures.model().tokenizer
        let text = "<|object_ref_start|>the cat<|object_ref_end|><|box_start|>(100,200),(300,400)<|box_end|> and "
            + "<|box_start|>(500,500),(250,750)<|box_end|><|im_end|>"
        let ids = tokenizer.encode(text)
        let boxes = GroundingField.boxes(tokenIDs: ids, tokenizer: tokenizer, firstImageSize: (width: 640, height: 480))
        // Pixels: x/1000·640, y/1000·480; the second box's corners are reordered (x1 ≤ x2).
        XCTAssertEqual(boxes.map(JSONOutput.string),
                       #"[{"label":"the cat","kind":"box","box":[100,200,300,400],"box_pixels":[64.0,96.0,192.0,192.0]},"#
                       + #"{"label":null,"kind":"box","box":[250,500,500,750],"box_pixels":[160.0,240.0,320.0,360.0]}]"#)
        XCTAssertNil(GroundingField.boxes(tokenIDs: tokenizer.encode("no boxes here"), tokenizer: tokenizer, firstImageSize: nil))
        let noImage = GroundingField.boxes(tokenIDs: ids, tokenizer: tokenizer, firstImageSize: nil)
        XCTAssertEqual(noImage?.arrayValue?.first?["box_pixels"], nil)
    }

    func testJSONOutputEscapes() {
        let value: JSONValue = .obj(["a\"b": .string("line\nquote\" back\\ tab\t \u{01} bom\u{FEFF} 😀"), "n": .int(-3), "z": .null])
        XCTAssertEqual(JSONOutput.string(value), "{\"a\\\"b\":\"line\\nquote\\\" back\\\\ tab\\t \\u0001 bom\u{FEFF} 😀\",\"n\":-3,\"z\":null}")
        XCTAssertEqual(try JSONValue.parse(JSONOutput.string(value)), value)
    }

    /// With one sequence slot, jobs run one at a time in the order they were submitted; a full queue refuses more
    /// with 503.
    func testArrivalOrderAndQueueLimit() async throws {
        let model = try ServerFixtures.model()
        let metrics = ServerMetrics()
        var limits = GenerationWorker.Limits()
        limits.maxSequences = 1
        limits.maxQueueLength = 3
        let worker = GenerationWorker(model: model, metrics: metrics, limits: limits)
        defer { worker.shutdown() }
        var parameters = model.generationDefaults
        parameters.maxTokens = 2
        parameters.eosTokenIDs = []
        let order = OrderLog()
        let gate = DispatchSemaphore(value: 0)
        defer { gate.signal() }   // never leave the worker thread parked if an assertion ends the test early
        func job(_ index: Int, text: String) -> GenerationJob {
            GenerationJob(messages: [ChatMessage(role: "user", text: text)], parameters: parameters, prepareOptions: PrepareOptions(),
                          maxPromptTokens: 1000, tokenObserver: { count in
                              guard count == 1 else { return }
                              order.append(index)
                              if index == 0 { gate.wait() }   // hold the worker until the queue is full
                          })
        }
        // Different prompt lengths, so a worker that picked the cheapest job first would show up.
        let jobs = (0..<4).map { job($0, text: String(repeating: "long ", count: 40 - 10 * $0)) }
        try worker.submit(jobs[0])
        guard case .success = await jobs[0].start.wait() else { return XCTFail("start") }
        // `start` resolves when the prompt is prepared; the slot counts as taken once the run has started.
        let deadline = Date().addingTimeInterval(30)
        while worker.load.running < 1 && Date() < deadline { try await Task.sleep(nanoseconds: 1_000_000) }
        XCTAssertEqual(worker.load.running, 1)
        for j in jobs[1...] { try worker.submit(j) }
        XCTAssertEqual(worker.queueLength, 3)
        XCTAssertThrowsError(try worker.submit(job(9, text: "one too many"))) { error in
            XCTAssertEqual((error as? APIError)?.status.code, 503)
            XCTAssertEqual((error as? APIError)?.code, "server_overloaded")
        }
        XCTAssertTrue(metrics.render().contains("qwenvl_queue_length 3\n"))
        gate.signal()
        for j in jobs {
            for await event in j.events { if case .failed(let error) = event { XCTFail("\(error)") } }
        }
        XCTAssertEqual(order.values, [0, 1, 2, 3])
        XCTAssertTrue(metrics.render().contains("qwenvl_queue_length 0\n"))
    }

    /// A raised cancellation flag stops a running generation within one token, and a waiting job never starts.
    func testCancellationStopsWithinOneToken() async throws {
        let model = try ServerFixtures.model()
        let metrics = ServerMetrics()
        var limits = GenerationWorker.Limits()
        limits.maxSequences = 1
        let worker = GenerationWorker(model: model, metrics: metrics, limits: limits)
        defer { worker.shutdown() }
        var parameters = model.generationDefaults
        parameters.maxTokens = 5000
        parameters.eosTokenIDs = []
        let messages = [ChatMessage(role: "user", text: "Count forever")]
        let flag = CancellationFlag()
        let running = GenerationJob(messages: messages, parameters: parameters, prepareOptions: PrepareOptions(), maxPromptTokens: 1000,
                                    cancellation: flag, tokenObserver: { count in if count == 3 { flag.cancel() } })
        let waiting = GenerationJob(messages: messages, parameters: parameters, prepareOptions: PrepareOptions(), maxPromptTokens: 1000)
        try worker.submit(running)
        try worker.submit(waiting)
        waiting.cancellation.cancel()
        guard case .success = await running.start.wait() else { return XCTFail("start") }
        var chunks = 0
        var finish: FinishReason?
        for await event in running.events {
            switch event {
            case .chunk:
                chunks += 1
            case .finished(let result):
                finish = result.finishReason
                XCTAssertEqual(result.tokenIDs.count, 3)
            case .failed(let error): XCTFail("\(error)")
            }
        }
        XCTAssertEqual(chunks, 3)
        XCTAssertEqual(finish, .cancelled)
        guard case .failure(let error) = await waiting.start.wait() else { return XCTFail("the cancelled waiting job started") }
        XCTAssertEqual(error.status.code, 499)
        XCTAssertEqual(metrics.cancelledCount, 2)
        XCTAssertEqual(metrics.completionTokenCount, 3)
    }
}

/// A thread-safe list of integers.
final class OrderLog: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Int] = []

    func append(_ value: Int) {
        lock.lock()
        items.append(value)
        lock.unlock()
    }

    var values: [Int] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }
}
