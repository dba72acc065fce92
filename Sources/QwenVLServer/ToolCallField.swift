import Foundation
import QwenVL
import QwenVLTokenizer

/// The JSON shapes of tool calling in the chat API: the `tools` / `tool_choice` / `parallel_tool_calls` request
/// fields, `message.tool_calls` in an answer and `delta.tool_calls` in a stream.
enum ToolCallField {
    /// Reads `tools`, `tool_choice`, `parallel_tool_calls` (errors are 400s naming the field).
    static func request(_ json: JSONValue) throws -> (tools: [Tool], choice: ToolChoice?, parallel: Bool) {
        var tools: [Tool] = []
        if let value = json["tools"], !value.isNull {
            do { tools = try Tool.parseList(value) } catch let error as QwenVLError {
                throw APIError.invalidRequest(error.description, param: "tools")
            }
        }
        var choice: ToolChoice?
        if let value = json["tool_choice"], !value.isNull {
            do { choice = try ToolChoice(json: value) } catch let error as QwenVLError {
                throw APIError.invalidRequest(error.description, param: "tool_choice")
            }
        }
        let parallel = try FieldReader(json).bool("parallel_tool_calls") ?? true
        return (tools, choice, parallel)
    }

    /// One `message.tool_calls` item: `{"id", "type": "function", "function": {"name", "arguments"}}`.
    static func call(_ call: ToolCall) -> JSONValue {
        .obj(["id": .string(call.id), "type": .string("function"),
              "function": .obj(["name": .string(call.name), "arguments": .string(call.argumentsJSON)])])
    }

    /// The `delta` members for one stream event of the tool-call parser (nil for content events).
    static func delta(_ event: ToolCallStreamEvent) -> [JSONValue.JSONMember] {
        switch event {
        case .content(let text):
            return [.init(key: "content", value: .string(text))]
        case .toolCallStart(let index, let id, let name):
            return [.init(key: "tool_calls", value: .array([.obj([
                "index": .int(index), "id": .string(id), "type": .string("function"),
                "function": .obj(["name": .string(name), "arguments": .string("")]),
            ])]))]
        case .toolCallArguments(let index, let fragment):
            return [.init(key: "tool_calls", value: .array([.obj([
                "index": .int(index), "function": .obj(["arguments": .string(fragment)]),
            ])]))]
        }
    }
}
