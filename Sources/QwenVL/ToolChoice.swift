import Foundation
import QwenVLTokenizer

/// Whether and which tool the model must call (OpenAI `tool_choice`).
///
/// - `none`: the tools are still shown in the prompt, but nothing is parsed into calls and nothing is constrained.
/// - `auto`: free text; `<tool_call>` blocks in it become calls.
/// - `required`: decoding is constrained to one or more calls of the given tools (valid arguments).
/// - `function(name)`: constrained to calls of that one tool.
public enum ToolChoice: Sendable, Equatable {
    case none
    case auto
    case required
    case function(String)

    /// Reads `"none" | "auto" | "required" | {"type": "function", "function": {"name": …}}`; `path` names it in errors.
    public init(json: JSONValue, path: String = "tool_choice") throws {
        switch json {
        case .string("none"): self = .none
        case .string("auto"): self = .auto
        case .string("required"): self = .required
        case .object:
            guard let name = json["function"]?["name"]?.stringValue, !name.isEmpty else {
                throw QwenVLError("\(path): expected {\"type\": \"function\", \"function\": {\"name\": …}}")
            }
            if let type = json["type"], type.stringValue != "function" {
                throw QwenVLError("\(path).type: only \"function\" is supported")
            }
            self = .function(name)
        default:
            throw QwenVLError("\(path): expected \"none\", \"auto\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": …}}")
        }
    }

    /// Reads the command-line form: `none`, `auto`, `required` or a function name.
    public init(argument: String) {
        switch argument {
        case "none": self = .none
        case "auto": self = .auto
        case "required": self = .required
        default: self = .function(argument)
        }
    }
}
