import Foundation
import Hummingbird
import NIOCore
import QwenVL
import QwenVLTokenizer

/// `POST /v1/chat/completions`: validates a request, queues it on the worker, and answers whole or as a stream.
struct ChatCompletionsHandler: Sendable {
    let model: QwenVLModel
    let modelName: String
    let options: ServerOptions
    let policy: MediaPolicy
    let worker: GenerationWorker
    let metrics: ServerMetrics

    func handle(_ request: Request, context: ServerRequestContext) async throws -> Response {
        let arrival = ContinuousClock.now
        metrics.requestReceived()
        let body = try await readBody(request)
        let completion = try ChatCompletionRequest(body: body)
        if let name = completion.model, name != modelName { throw APIError.modelNotFound(name) }
        let messages = try policy.apply(to: completion.messages)
        var prepare = try Self.prepareOptions(completion, options: options)
        prepare.tools = completion.toolPlan.toolDefinitions
        let job = GenerationJob(messages: messages, parameters: completion.parameters(defaults: model.generationDefaults),
                                prepareOptions: prepare, maxPromptTokens: options.maxPromptTokens, arrival: arrival)
        try worker.submit(job)
        let flag = job.cancellation
        // A client that goes away (even while the request waits in the queue) cancels its job.
        let watcher = await context.disconnectWatcher()
        let token = watcher?.observe { flag.cancel() }
        let release: @Sendable () -> Void = { if let watcher, let token { watcher.remove(token) } }
        var streaming = false
        defer { if !streaming { release() } }

        let start = await withTaskCancellationHandler { await job.start.wait() } onCancel: { flag.cancel() }
        let started: GenerationStart
        switch start {
        case .failure(let error): throw error
        case .success(let value): started = value
        }
        let response = ChatCompletionResponse(model: modelName, returnTokenIDs: completion.returnTokenIDs)
        if completion.stream {
            streaming = true
            return streamingResponse(job: job, started: started, response: response, includeUsage: completion.includeUsage,
                                     toolPlan: completion.toolPlan, release: release)
        }
        return try await wholeResponse(job: job, started: started, response: response, toolPlan: completion.toolPlan)
    }

    /// Reads the body, refusing more than the server's limit (413) before or while reading.
    func readBody(_ request: Request) async throws -> [UInt8] { try await Self.readBody(request, limit: options.maxBodyBytes) }

    /// Reads a request body of at most `limit` bytes (413 before or while reading).
    static func readBody(_ request: Request, limit: Int) async throws -> [UInt8] {
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit {
            throw APIError.bodyTooLarge(limit: limit)
        }
        do {
            let buffer = try await request.body.collect(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch is NIOTooManyBytesError {
            throw APIError.bodyTooLarge(limit: limit)   // a chunked body without Content-Length
        }
    }

    /// The server's image limits for a request: its image count checked, its pixel budget capped by the server's.
    static func prepareOptions(_ completion: ChatCompletionRequest, options: ServerOptions) throws -> PrepareOptions {
        let images = completion.imageCount
        guard images <= options.maxImagesPerRequest else {
            throw APIError.invalidRequest("The request has \(images) images, more than this server's limit of \(options.maxImagesPerRequest)",
                                          param: "messages", code: "too_many_images")
        }
        var prepare = PrepareOptions(maxPixelsCap: min(options.maxPixelsPerImage, completion.maxPixels ?? .max))
        prepare.minPixels = completion.minPixels
        return prepare
    }

    /// Waits for the whole answer and returns it as one `chat.completion` object.
    func wholeResponse(job: GenerationJob, started: GenerationStart, response: ChatCompletionResponse,
                       toolPlan: ToolCallingPlan) async throws -> Response {
        let flag = job.cancellation
        let outcome: Result<GenerationResult, APIError> = await withTaskCancellationHandler {
            for await event in job.events {
                switch event {
                case .chunk: continue
                case .finished(let result): return .success(result)
                case .failed(let error): return .failure(error)
                }
            }
            return .failure(.internalError("generation ended without a result"))
        } onCancel: { flag.cancel() }
        let result = try outcome.get()
        let boxes = GroundingField.boxes(tokenIDs: result.tokenIDs, tokenizer: model.tokenizer, family: model.configuration.family,
                                         firstImageSize: started.firstImageSize, resizedImageSize: started.firstImageResizedSize)
        let toolCalling = toolPlan.parsesToolCalls ? toolPlan.interpret(result.text) : nil
        return Self.json(response.completion(result, boxes: boxes, toolCalling: toolCalling))
    }

    /// A `text/event-stream` of `chat.completion.chunk` events ending with `data: [DONE]`.
    ///
    /// A failed write or a closed connection raises the job's cancellation flag, so generation stops within a token.
    /// When the request parses tool calls, text goes through ``ToolCallStreamParser``: content deltas, then
    /// `delta.tool_calls` items (start with id and name, then arguments) as each `<tool_call>` block closes.
    func streamingResponse(job: GenerationJob, started: GenerationStart, response: ChatCompletionResponse,
                           includeUsage: Bool, toolPlan: ToolCallingPlan, release: @escaping @Sendable () -> Void) -> Response {
        let tokenizer = model.tokenizer
        let family = model.configuration.family
        let body = ResponseBody { writer in
            let flag = job.cancellation
            defer {
                flag.cancel()   // whatever ends the body also ends the generation
                release()
            }
            func send(_ text: String) async throws {
                do { try await writer.write(ByteBuffer(string: text)) } catch {
                    flag.cancel()
                    throw error
                }
            }
            try await send(ChatCompletionResponse.event(response.chunk(
                delta: [.init(key: "role", value: .string("assistant")), .init(key: "content", value: .string(""))],
                finishReason: nil, tokenIDs: [], includeUsage: includeUsage)))
            var pendingIDs: [Int32] = []
            var streamed = ""
            var toolParser = toolPlan.parsesToolCalls ? ToolCallStreamParser() : nil
            /// Sends the tool parser's events, the first one carrying the pending token ids.
            func sendToolEvents(_ events: [ToolCallStreamEvent]) async throws {
                for toolEvent in events {
                    try await send(ChatCompletionResponse.event(response.chunk(
                        delta: ToolCallField.delta(toolEvent), finishReason: nil, tokenIDs: pendingIDs, includeUsage: includeUsage)))
                    pendingIDs = []
                }
            }
            for await event in job.events {
                switch event {
                case .chunk(let chunk):
                    pendingIDs.append(chunk.tokenID)
                    guard !chunk.text.isEmpty else { continue }
                    streamed += chunk.text
                    if toolParser != nil {
                        let events = toolParser!.feed(chunk.text)
                        try await sendToolEvents(events)
                        continue
                    }
                    try await send(ChatCompletionResponse.event(response.chunk(
                        delta: [.init(key: "content", value: .string(chunk.text))], finishReason: nil, tokenIDs: pendingIDs,
                        includeUsage: includeUsage)))
                    pendingIDs = []
                case .finished(let result):
                    var delta: [JSONValue.JSONMember] = []
                    // Text the generator adds after its last chunk (an incomplete UTF-8 tail flushed as U+FFFD at the
                    // token limit) goes out with the final event, so the stream adds up to the whole answer.
                    let whole = result.text.utf8
                    var rest = ""
                    if whole.count > streamed.utf8.count, whole.starts(with: streamed.utf8) {
                        rest = String(decoding: whole.dropFirst(streamed.utf8.count), as: UTF8.self)
                    }
                    var toolCallCount = 0
                    if toolParser != nil {
                        var events = toolParser!.feed(rest)
                        events += toolParser!.finish()
                        try await sendToolEvents(events)
                        toolCallCount = toolParser!.toolCallCount
                    } else if !rest.isEmpty {
                        delta.append(.init(key: "content", value: .string(rest)))
                    }
                    if let boxes = GroundingField.boxes(tokenIDs: result.tokenIDs, tokenizer: tokenizer, family: family,
                                                            firstImageSize: started.firstImageSize, resizedImageSize: started.firstImageResizedSize) {
                        delta.append(.init(key: "boxes", value: boxes))
                    }
                    try await send(ChatCompletionResponse.event(response.chunk(
                        delta: delta, finishReason: ChatCompletionResponse.finishReason(result.finishReason, toolCallCount: toolCallCount),
                        tokenIDs: pendingIDs,
                        includeUsage: includeUsage)))
                    if includeUsage {
                        try await send(ChatCompletionResponse.event(response.usageChunk(
                            prompt: result.promptTokenIDs.count, completion: result.tokenIDs.count, cached: result.cachedPromptTokens)))
                    }
                case .failed(let error):
                    try await send(ChatCompletionResponse.event(error.json))
                }
            }
            try await send(ChatCompletionResponse.done)
            try await writer.finish(nil)
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: body)
    }

    /// A JSON response with `status`.
    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: JSONOutput.string(value))))
    }
}
