import Foundation
import Hummingbird
import QwenVL
import QwenVLTokenizer

/// `POST /tokenize`: the prompt tokens a chat request would use, images and videos included (as vLLM's route).
///
/// Body: `{"messages": [...], "add_generation_prompt": true, "mm_processor_kwargs": {...}}` or `{"prompt": "text"}`;
/// answer: `{"count": N, "max_model_len": L, "tokens": [ids]}`. Media go through the same policy and pixel limits
/// as chat completions, so the count is exactly the prompt length a completion of the same messages has.
struct TokenizeHandler: Sendable {
    let model: QwenVLModel
    let modelName: String
    let options: ServerOptions
    let policy: MediaPolicy

    func handle(_ request: Request, context: ServerRequestContext) async throws -> Response {
        let body = try await ChatCompletionsHandler.readBody(request, limit: options.maxBodyBytes)
        let json: JSONValue
        do { json = try JSONValue.parse(body, source: "request body") } catch {
            throw APIError.invalidRequest("The request body is not valid JSON: \(error)", code: "invalid_json")
        }
        guard json.objectValue != nil else { throw APIError.invalidRequest("The request body must be a JSON object") }
        if let name = json["model"]?.stringValue, name != modelName { throw APIError.modelNotFound(name) }
        let tokens: [Int32]
        if let prompt = json["prompt"] {
            guard let text = prompt.stringValue else { throw APIError.invalidRequest("\"prompt\" must be a string", param: "prompt") }
            tokens = model.tokenizer.encode(text)
        } else {
            var body = json.objectValue!
            if body.first(where: { $0.key == "stream" }) == nil { body.append(.init(key: "stream", value: .bool(false))) }
            let completion = try ChatCompletionRequest(json: .object(body))
            var prepare = try ChatCompletionsHandler.prepareOptions(completion, options: options)
            if let flag = json["add_generation_prompt"], !flag.isNull {
                guard let value = flag.boolValue else {
                    throw APIError.invalidRequest("\"add_generation_prompt\" must be a boolean", param: "add_generation_prompt")
                }
                prepare.addGenerationPrompt = value
            }
            do {
                tokens = try await model.prepare(messages: try policy.apply(to: completion.messages), options: prepare).tokenIDs
            } catch {
                throw GenerationWorker.apiError(error)
            }
        }
        return ChatCompletionsHandler.json(.obj(["count": .int(tokens.count),
                                                 "max_model_len": .int(model.configuration.text.maxPositionEmbeddings),
                                                 "tokens": .array(tokens.map { .int(Int($0)) })]))
    }
}
