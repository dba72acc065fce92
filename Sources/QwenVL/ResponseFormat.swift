import Foundation
import QwenVLTokenizer

/// The shape the answer's text must have (OpenAI `response_format`).
public enum ResponseFormat: Sendable, Equatable {
    /// Free text.
    case text
    /// Any JSON object.
    case jsonObject
    /// JSON valid against `schema` (the supported subset of JSON Schema; see ``ResponseConstraint``).
    case jsonSchema(name: String, schema: JSONValue, strict: Bool?)

    /// Reads `{"type": "text" | "json_object" | "json_schema", "json_schema": {"name", "schema", "strict"}}`.
    public init(json: JSONValue, path: String = "response_format") throws {
        guard json.objectValue != nil else { throw QwenVLError("\(path): expected an object with a \"type\"") }
        switch json["type"]?.stringValue {
        case "text"?: self = .text
        case "json_object"?: self = .jsonObject
        case "json_schema"?:
            guard let spec = json["json_schema"], spec.objectValue != nil else {
                throw QwenVLError("\(path).json_schema: expected {\"name\", \"schema\"}")
            }
            let name = spec["name"]?.stringValue ?? "response"
            guard let schema = spec["schema"], schema.objectValue != nil || schema.boolValue == true else {
                throw QwenVLError("\(path).json_schema.schema: expected a JSON schema object")
            }
            var strict: Bool?
            if let value = spec["strict"], !value.isNull {
                guard let b = value.boolValue else { throw QwenVLError("\(path).json_schema.strict: expected true or false") }
                strict = b
            }
            self = .jsonSchema(name: name, schema: schema.objectValue != nil ? schema : .object([]), strict: strict)
        default:
            throw QwenVLError("\(path).type: expected \"text\", \"json_object\" or \"json_schema\"")
        }
    }
}
