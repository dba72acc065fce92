import Foundation
import QwenVL
import QwenVLTokenizer

/// A decoded `POST /v1/chat/completions` body (OpenAI schema plus the vLLM extras we accept).
///
/// Sampling fields left out keep the checkpoint's `generation_config.json` values, as `qwenvl generate` does;
/// `temperature: 0` means greedy. Extras: `mm_processor_kwargs: {min_pixels, max_pixels}`, `ignore_eos`,
/// `return_token_ids` (adds `prompt_token_ids` and per-choice `token_ids` to the answer).
public struct ChatCompletionRequest: Sendable {
    /// The model id sent by the client (nil when absent).
    public var model: String?
    public var messages: [ChatMessage]
    public var stream = false
    /// `stream_options.include_usage`: end the stream with a chunk carrying `usage`.
    public var includeUsage = false
    public var maxTokens: Int?
    public var temperature: Float?
    public var topP: Float?
    public var topK: Int?
    public var minP: Float?
    public var repetitionPenalty: Float?
    public var seed: UInt64?
    public var stop: [String] = []
    public var ignoreEOS = false
    public var returnTokenIDs = false
    /// `mm_processor_kwargs.min_pixels` / `.max_pixels`: the image budget for this request.
    public var minPixels: Int?
    public var maxPixels: Int?
    /// `tools`, `tool_choice`, `parallel_tool_calls`, `response_format`.
    public var tools: [Tool] = []
    public var toolChoice: ToolChoice?
    public var parallelToolCalls = true
    public var responseFormat: ResponseFormat = .text
    /// What those four fields mean for this generation (prompt tools, call parsing, decoding constraint).
    public var toolPlan: ToolCallingPlan

    /// Parses a JSON body; every problem is an ``APIError`` (400) naming the field.
    public init(body: [UInt8]) throws {
        let json: JSONValue
        do { json = try JSONValue.parse(body, source: "request body") } catch {
            throw APIError.invalidRequest("The request body is not valid JSON: \(error)", code: "invalid_json")
        }
        guard json.objectValue != nil else { throw APIError.invalidRequest("The request body must be a JSON object") }
        try self.init(json: json)
    }

    /// Reads the fields of a parsed JSON object.
    public init(json: JSONValue) throws {
        let r = FieldReader(json)
        (tools, toolChoice, parallelToolCalls) = try ToolCallField.request(json)
        responseFormat = try ResponseFormatField.request(json)
        toolPlan = try ResponseFormatField.plan(tools: tools, choice: toolChoice, parallel: parallelToolCalls, format: responseFormat)
        if let value = json["model"], !value.isNull {
            guard let name = value.stringValue else { throw APIError.invalidRequest("\"model\" must be a string", param: "model") }
            model = name
        }
        guard let list = json["messages"]?.arrayValue else {
            throw APIError.invalidRequest("\"messages\" is required and must be a list of {role, content} objects", param: "messages")
        }
        guard !list.isEmpty else { throw APIError.invalidRequest("\"messages\" must not be empty", param: "messages") }
        messages = try list.enumerated().map { index, item in
            do { return try ChatMessage.parse(item, index: index, baseDirectory: nil) } catch let error as QwenVLError {
                throw APIError.invalidRequest(error.description, param: "messages[\(index)]")
            }
        }
        stream = try r.bool("stream") ?? false
        if let options = json["stream_options"], !options.isNull {
            guard options.objectValue != nil else { throw APIError.invalidRequest("\"stream_options\" must be an object", param: "stream_options") }
            includeUsage = try FieldReader(options, prefix: "stream_options.").bool("include_usage") ?? false
        }
        if let n = try r.int("n"), n != 1 {
            throw APIError.invalidRequest("Only n = 1 is supported (got \(n))", param: "n")
        }
        let maxCompletion = try r.int("max_completion_tokens")
        maxTokens = try maxCompletion ?? r.int("max_tokens")
        if let m = maxTokens, m < 1 {
            throw APIError.invalidRequest("max_tokens must be at least 1 (got \(m))", param: maxCompletion != nil ? "max_completion_tokens" : "max_tokens")
        }
        temperature = try r.float("temperature")
        if let t = temperature, !(t >= 0 && t <= 100) { throw APIError.invalidRequest("temperature must be ≥ 0 (got \(t))", param: "temperature") }
        topP = try r.float("top_p")
        if let p = topP, !(p > 0 && p <= 1) { throw APIError.invalidRequest("top_p must be in (0, 1] (got \(p))", param: "top_p") }
        topK = try r.int("top_k")
        if let k = topK, k < -1 { throw APIError.invalidRequest("top_k must be ≥ 0, or -1 to disable (got \(k))", param: "top_k") }
        if topK == -1 { topK = 0 }
        minP = try r.float("min_p")
        if let p = minP, !(p >= 0 && p <= 1) { throw APIError.invalidRequest("min_p must be in [0, 1] (got \(p))", param: "min_p") }
        repetitionPenalty = try r.float("repetition_penalty")
        if let p = repetitionPenalty, !(p > 0 && p.isFinite) {
            throw APIError.invalidRequest("repetition_penalty must be > 0 (got \(p))", param: "repetition_penalty")
        }
        if let s = try r.int("seed") { seed = UInt64(bitPattern: Int64(s)) }
        switch json["stop"] {
        case nil, .null?: break
        case .string(let s)?: stop = [s]
        case .array(let items)?:
            stop = try items.map { item in
                guard let s = item.stringValue else { throw APIError.invalidRequest("\"stop\" must be a string or a list of strings", param: "stop") }
                return s
            }
        default: throw APIError.invalidRequest("\"stop\" must be a string or a list of strings", param: "stop")
        }
        ignoreEOS = try r.bool("ignore_eos") ?? false
        returnTokenIDs = try r.bool("return_token_ids") ?? false
        if let kwargs = json["mm_processor_kwargs"], !kwargs.isNull {
            guard kwargs.objectValue != nil else {
                throw APIError.invalidRequest("\"mm_processor_kwargs\" must be an object", param: "mm_processor_kwargs")
            }
            let k = FieldReader(kwargs, prefix: "mm_processor_kwargs.")
            minPixels = try k.int("min_pixels")
            maxPixels = try k.int("max_pixels")
            if let v = minPixels, v < 1 { throw APIError.invalidRequest("min_pixels must be ≥ 1 (got \(v))", param: "mm_processor_kwargs.min_pixels") }
            if let v = maxPixels, v < 784 {
                throw APIError.invalidRequest("max_pixels must be ≥ 784, one 28×28 cell (got \(v))", param: "mm_processor_kwargs.max_pixels")
            }
            if let lo = minPixels, let hi = maxPixels, lo > hi {
                throw APIError.invalidRequest("min_pixels (\(lo)) must not exceed max_pixels (\(hi))", param: "mm_processor_kwargs")
            }
        }
    }

    /// Number of image parts over all messages.
    public var imageCount: Int {
        messages.reduce(0) { total, message in
            total + message.parts.filter { if case .image = $0 { true } else { false } }.count
        }
    }

    /// The generation parameters: the checkpoint's defaults overridden by the request's fields.
    public func parameters(defaults: GenerationParameters) -> GenerationParameters {
        var p = defaults
        if let maxTokens { p.maxTokens = maxTokens }
        if let temperature {
            p.temperature = temperature
            p.doSample = temperature > 0
        }
        if let topP { p.topP = topP }
        if let topK { p.topK = topK }
        if let minP { p.minP = minP }
        if let repetitionPenalty { p.repetitionPenalty = repetitionPenalty }
        p.seed = seed
        p.stopStrings = stop.filter { !$0.isEmpty }
        if ignoreEOS { p.eosTokenIDs = [] }
        p.constraint = toolPlan.constraint
        return p
    }
}

/// Typed optional fields of a JSON object, with errors that name the field.
struct FieldReader {
    let json: JSONValue
    var prefix = ""

    init(_ json: JSONValue, prefix: String = "") {
        self.json = json
        self.prefix = prefix
    }

    private func value(_ key: String) -> JSONValue? {
        guard let v = json[key], !v.isNull else { return nil }
        return v
    }

    func bool(_ key: String) throws -> Bool? {
        guard let v = value(key) else { return nil }
        guard let b = v.boolValue else { throw APIError.invalidRequest("\"\(key)\" must be true or false", param: prefix + key) }
        return b
    }

    func int(_ key: String) throws -> Int? {
        guard let v = value(key) else { return nil }
        guard let i = v.intValue else { throw APIError.invalidRequest("\"\(key)\" must be an integer", param: prefix + key) }
        return i
    }

    func float(_ key: String) throws -> Float? {
        guard let v = value(key) else { return nil }
        guard case .number(let text) = v, let d = Double(text), d.isFinite else {
            throw APIError.invalidRequest("\"\(key)\" must be a number", param: prefix + key)
        }
        return Float(d)
    }
}
