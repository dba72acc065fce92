import Foundation
import QwenVLTokenizer

/// One function call the model made: an OpenAI `tool_calls` item.
public struct ToolCall: Sendable, Equatable {
    /// A unique id (`call_` + 24 random characters).
    public var id: String
    public var name: String
    /// The arguments object as JSON text (Python `json.dumps` layout, as vLLM returns it).
    public var argumentsJSON: String

    public init(id: String, name: String, argumentsJSON: String) {
        self.id = id
        self.name = name
        self.argumentsJSON = argumentsJSON
    }

    /// A fresh `call_…` id.
    public static func makeID() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        return "call_" + String((0..<24).map { _ in alphabet.randomElement() ?? "0" })
    }
}

/// An answer split into its plain text and its tool calls.
public struct ParsedToolCalls: Sendable, Equatable {
    /// Text outside the calls; whitespace just before a call and at the end is dropped ("" when only calls).
    public var content: String
    public var toolCalls: [ToolCall]

    public init(content: String, toolCalls: [ToolCall]) {
        self.content = content
        self.toolCalls = toolCalls
    }
}

/// Finds the Hermes / Qwen2.5 `<tool_call>\n{"name": …, "arguments": {…}}\n</tool_call>` blocks in generated text.
///
/// A block counts when it is closed and its body is one JSON object with a string `name` and an object `arguments`
/// (also accepted: `arguments` left out, meaning `{}`, or a string holding a JSON object). Anything else — an
/// unclosed (truncated) block, a body that is not such an object — stays in `content` verbatim; parsing never
/// fails. ``ToolCallStreamParser`` gives the same result from text deltas.
///
///     let parsed = ToolCallParser.parse("<tool_call>\n{\"name\": \"click\", \"arguments\": {\"x\": 1}}\n</tool_call>")
///     // parsed.toolCalls[0].name == "click", .argumentsJSON == "{\"x\": 1}", parsed.content == ""
public enum ToolCallParser {
    static let open = Array("<tool_call>".utf8)
    static let close = Array("</tool_call>".utf8)

    /// Splits `text` into content and calls; ids come from `makeID`.
    public static func parse(_ text: String, makeID: () -> String = ToolCall.makeID) -> ParsedToolCalls {
        let bytes = Array(text.utf8)
        var content: [UInt8] = []
        var calls: [ToolCall] = []
        var position = 0
        while let start = find(open, in: bytes, from: position) {
            content += bytes[position..<start]
            let bodyStart = start + open.count
            guard let end = find(close, in: bytes, from: bodyStart) else {
                position = start   // truncated: the rest is content
                break
            }
            if let call = parseBody(bytes[bodyStart..<end]) {
                trimTrailingWhitespace(&content)
                calls.append(ToolCall(id: makeID(), name: call.name, argumentsJSON: call.arguments))
            } else {
                content += bytes[start..<(end + close.count)]
            }
            position = end + close.count
        }
        content += bytes[min(position, bytes.count)...]
        trimTrailingWhitespace(&content)
        return ParsedToolCalls(content: String(decoding: content, as: UTF8.self), toolCalls: calls)
    }

    /// The name and arguments JSON of a block body, or nil when it is not a well-formed call.
    static func parseBody<C: Collection>(_ body: C) -> (name: String, arguments: String)? where C.Element == UInt8 {
        guard let value = try? JSONValue.parse(Array(body), source: "tool call"), value.objectValue != nil,
              let name = value["name"]?.stringValue, !name.isEmpty else { return nil }
        switch value["arguments"] {
        case nil, .null?:
            return (name, "{}")
        case .object(let members)?:
            return (name, PythonJSON.dumps(.object(members)))
        case .string(let text)?:
            guard let inner = try? JSONValue.parse(text), inner.objectValue != nil else { return nil }
            return (name, PythonJSON.dumps(inner))
        default:
            return nil
        }
    }

    /// The first index of `needle` in `haystack` at or after `from`.
    static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        var i = max(0, from)
        while i + needle.count <= haystack.count {
            if haystack[i] == needle[0] && haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    static func isWhitespace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }

    static func trimTrailingWhitespace(_ bytes: inout [UInt8]) {
        while let last = bytes.last, isWhitespace(last) { bytes.removeLast() }
    }
}
