import Foundation
import QwenVLTokenizer

/// A function the model may call: an OpenAI `tools` item (`{"type": "function", "function": {name, description, parameters}}`).
///
/// The definition is kept as the JSON it came in, because the chat template prints it verbatim (`tool | tojson`).
///
///     let click = Tool(name: "click", description: "Click a point", parameters: try JSONValue.parse(
///         #"{"type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}}, "required": ["x", "y"]}"#))
public struct Tool: Sendable, Equatable {
    /// The whole OpenAI tool object, as rendered into the prompt.
    public var definition: JSONValue
    public var name: String
    /// The arguments' JSON schema (`{"type": "object", "properties": {}}` when the tool gives none).
    public var parameters: JSONValue

    /// A tool from its parts, laid out as OpenAI clients send it.
    public init(name: String, description: String? = nil, parameters: JSONValue? = nil) {
        var function: [JSONValue.JSONMember] = [.init(key: "name", value: .string(name))]
        if let description { function.append(.init(key: "description", value: .string(description))) }
        if let parameters { function.append(.init(key: "parameters", value: parameters)) }
        definition = .object([.init(key: "type", value: .string("function")), .init(key: "function", value: .object(function))])
        self.name = name
        self.parameters = parameters ?? Tool.emptyParameters
    }

    /// Reads one OpenAI `tools` item; `path` names it in errors (e.g. `tools[0]`).
    public init(json: JSONValue, path: String = "tool") throws {
        guard json.objectValue != nil else { throw QwenVLError("\(path): expected an object") }
        if let type = json["type"], type.stringValue != "function" {
            throw QwenVLError("\(path).type: only \"function\" tools are supported")
        }
        guard let function = json["function"], function.objectValue != nil else {
            throw QwenVLError("\(path).function: expected an object with \"name\" and \"parameters\"")
        }
        guard let name = function["name"]?.stringValue, !name.isEmpty else {
            throw QwenVLError("\(path).function.name: expected a non-empty string")
        }
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." }) else {
            throw QwenVLError("\(path).function.name: '\(name)' may hold only letters, digits, '_', '-' and '.'")
        }
        if let description = function["description"], !description.isNull, description.stringValue == nil {
            throw QwenVLError("\(path).function.description: expected a string")
        }
        var parameters = Tool.emptyParameters
        if let given = function["parameters"], !given.isNull {
            guard given.objectValue != nil else { throw QwenVLError("\(path).function.parameters: expected a JSON schema object") }
            parameters = given
        }
        definition = json
        self.name = name
        self.parameters = parameters
    }

    /// Reads an OpenAI `tools` list; duplicate names are an error.
    public static func parseList(_ json: JSONValue, path: String = "tools") throws -> [Tool] {
        guard let items = json.arrayValue else { throw QwenVLError("\(path): expected a list of tools") }
        let tools = try items.enumerated().map { index, item in try Tool(json: item, path: "\(path)[\(index)]") }
        var seen = Set<String>()
        for tool in tools where !seen.insert(tool.name).inserted {
            throw QwenVLError("\(path): the function name '\(tool.name)' appears twice")
        }
        return tools
    }

    static let emptyParameters: JSONValue = .object([.init(key: "type", value: .string("object")),
                                                     .init(key: "properties", value: .object([]))])
}
