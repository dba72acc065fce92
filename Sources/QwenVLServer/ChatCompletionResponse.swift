import Foundation
import QwenVL
import QwenVLTokenizer

/// Builds the JSON of `chat.completion` answers and `chat.completion.chunk` stream events.
struct ChatCompletionResponse: Sendable {
    let id: String
    let created: Int
    let model: String
    let returnTokenIDs: Bool

    init(model: String, returnTokenIDs: Bool) {
        id = "chatcmpl-" + (0..<24).map { _ in String("0123456789abcdef".randomElement() ?? "0") }.joined()
        created = Int(Date().timeIntervalSince1970)
        self.model = model
        self.returnTokenIDs = returnTokenIDs
    }

    /// OpenAI's `finish_reason` for a generator outcome (a cancelled request has no reader; "stop" as the CLI says).
    static func finishReason(_ reason: FinishReason) -> String {
        switch reason {
        case .stop, .cancelled: "stop"
        case .length: "length"
        }
    }

    /// OpenAI's usage object; `prompt_tokens_details.cached_tokens` counts prompt tokens served from the prefix cache.
    static func usage(prompt: Int, completion: Int, cached: Int = 0) -> JSONValue {
        .obj(["prompt_tokens": .int(prompt), "completion_tokens": .int(completion), "total_tokens": .int(prompt + completion),
              "prompt_tokens_details": .obj(["cached_tokens": .int(cached)])])
    }

    /// `finish_reason` once tool calls are known: "tool_calls" when the answer made calls and ended on its own.
    static func finishReason(_ reason: FinishReason, toolCallCount: Int) -> String {
        reason == .length || toolCallCount == 0 ? finishReason(reason) : "tool_calls"
    }

    /// The whole answer: `{"id", "object": "chat.completion", "choices": [{message, finish_reason}], "usage"}`.
    ///
    /// With `toolCalling`, `message.content` is the text outside the calls (null when there is none) and
    /// `message.tool_calls` lists the calls.
    func completion(_ result: GenerationResult, boxes: JSONValue?,
                    toolCalling: (content: String?, toolCalls: [ToolCall])? = nil) -> JSONValue {
        let content = toolCalling.map { $0.content } ?? result.text
        let calls = toolCalling?.toolCalls ?? []
        var message: [JSONValue.JSONMember] = [
            .init(key: "role", value: .string("assistant")),
            .init(key: "content", value: .str(content)),
        ]
        if !calls.isEmpty { message.append(.init(key: "tool_calls", value: .array(calls.map(ToolCallField.call)))) }
        if let boxes { message.append(.init(key: "boxes", value: boxes)) }
        var choice: [JSONValue.JSONMember] = [
            .init(key: "index", value: .int(0)),
            .init(key: "message", value: .object(message)),
            .init(key: "logprobs", value: .null),
            .init(key: "finish_reason", value: .string(Self.finishReason(result.finishReason, toolCallCount: calls.count))),
        ]
        if returnTokenIDs { choice.append(.init(key: "token_ids", value: .ints(result.tokenIDs))) }
        var members: [JSONValue.JSONMember] = [
            .init(key: "id", value: .string(id)),
            .init(key: "object", value: .string("chat.completion")),
            .init(key: "created", value: .int(created)),
            .init(key: "model", value: .string(model)),
            .init(key: "choices", value: .array([.object(choice)])),
            .init(key: "usage", value: Self.usage(prompt: result.promptTokenIDs.count, completion: result.tokenIDs.count,
                                                                cached: result.cachedPromptTokens)),
        ]
        if returnTokenIDs { members.append(.init(key: "prompt_token_ids", value: .ints(result.promptTokenIDs))) }
        return .object(members)
    }

    /// One stream event with a single choice: `delta` members, the finish reason (null until the last),
    /// the token ids since the previous event when requested, and `usage: null` when usage will follow.
    func chunk(delta: [JSONValue.JSONMember], finishReason: String?, tokenIDs: [Int32], includeUsage: Bool) -> JSONValue {
        var choice: [JSONValue.JSONMember] = [
            .init(key: "index", value: .int(0)),
            .init(key: "delta", value: .object(delta)),
            .init(key: "logprobs", value: .null),
            .init(key: "finish_reason", value: .str(finishReason)),
        ]
        if returnTokenIDs { choice.append(.init(key: "token_ids", value: .ints(tokenIDs))) }
        var members = header(object: "chat.completion.chunk")
        members.append(.init(key: "choices", value: .array([.object(choice)])))
        if includeUsage { members.append(.init(key: "usage", value: .null)) }
        return .object(members)
    }

    /// The last stream event when `stream_options.include_usage` is set: no choices, only `usage`.
    func usageChunk(prompt: Int, completion: Int, cached: Int = 0) -> JSONValue {
        var members = header(object: "chat.completion.chunk")
        members.append(.init(key: "choices", value: .array([])))
        members.append(.init(key: "usage", value: Self.usage(prompt: prompt, completion: completion, cached: cached)))
        return .object(members)
    }

    private func header(object: String) -> [JSONValue.JSONMember] {
        [.init(key: "id", value: .string(id)), .init(key: "object", value: .string(object)),
         .init(key: "created", value: .int(created)), .init(key: "model", value: .string(model))]
    }

    /// One server-sent event line pair: `data: <json>\n\n`.
    static func event(_ value: JSONValue) -> String { "data: " + JSONOutput.string(value) + "\n\n" }

    /// The stream's terminator.
    static let done = "data: [DONE]\n\n"
}
