import ArgumentParser
import Foundation
import QwenVL
import QwenVLTokenizer

/// `--tools FILE`, `--tool-choice`, `--parallel-tool-calls`, `--json-schema FILE`, `--json-object`: tool calling and
/// constrained output for `qwenvl generate` (the same rules as the server's `tools` / `response_format`).
struct ToolOptions: ParsableArguments {
    @Option(help: "JSON file with an OpenAI `tools` list ([{\"type\": \"function\", \"function\": {name, description, parameters}}]).")
    var tools: String?
    @Option(name: .customLong("tool-choice"), help: "none | auto | required | FUNCTION_NAME (default: auto with --tools).")
    var toolChoice: String?
    @Flag(name: .customLong("parallel-tool-calls"), help: "Allow several calls in one answer when decoding is constrained.")
    var parallelToolCalls = false
    @Option(name: .customLong("json-schema"), help: "JSON file with a JSON schema the answer must satisfy (constrained decoding).")
    var jsonSchema: String?
    @Flag(name: .customLong("json-object"), help: "Constrain the answer to a JSON object.")
    var jsonObject = false

    func validate() throws {
        if jsonSchema != nil && jsonObject { throw ValidationError("give at most one of --json-schema and --json-object") }
        if toolChoice != nil && tools == nil { throw ValidationError("--tool-choice needs --tools FILE") }
    }

    /// Whether any of the flags is set.
    var isActive: Bool { tools != nil || jsonSchema != nil || jsonObject }

    /// The tools from `--tools` (empty without it).
    func loadTools() throws -> [Tool] {
        guard let tools else { return [] }
        return try Tool.parseList(try Self.readJSON(tools, flag: "--tools"), path: "--tools")
    }

    /// The plan for these flags; errors name the flag.
    func plan() throws -> ToolCallingPlan {
        let format: ResponseFormat
        if let jsonSchema {
            format = .jsonSchema(name: "response", schema: try Self.readJSON(jsonSchema, flag: "--json-schema"), strict: true)
        } else {
            format = jsonObject ? .jsonObject : .text
        }
        do {
            return try ToolCallingPlan(tools: try loadTools(), toolChoice: toolChoice.map(ToolChoice.init(argument:)),
                                       parallelToolCalls: parallelToolCalls, responseFormat: format)
        } catch let error as ToolRequestError {
            let flag = error.field.hasPrefix("response_format") ? "--json-schema" : error.field == "tool_choice" ? "--tool-choice" : "--tools"
            throw QwenVLError("\(flag): \(error.message)")
        }
    }

    static func readJSON(_ path: String, flag: String) throws -> JSONValue {
        guard let data = FileManager.default.contents(atPath: path) else { throw QwenVLError("\(flag): cannot read \(path)") }
        do { return try JSONValue.parse(Array(data), source: path) } catch {
            throw QwenVLError("\(flag): \(path) is not valid JSON (\(error))")
        }
    }

    /// `→ name(arguments)`: how a call is shown in the terminal.
    static func describe(_ call: ToolCall) -> String { "→ \(call.name)(\(call.argumentsJSON))" }

    /// The `--json` form of the calls: OpenAI `tool_calls` items.
    static func jsonCalls(_ calls: [ToolCall]) -> [[String: Any]] {
        calls.map { ["id": $0.id, "type": "function", "function": ["name": $0.name, "arguments": $0.argumentsJSON]] }
    }
}
