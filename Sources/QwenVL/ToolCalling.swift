import Foundation
import QwenVLTokenizer

/// A request field that cannot be honoured: which field, and why (the server answers 400 with `param: field`).
public struct ToolRequestError: Error, CustomStringConvertible, Sendable {
    public var field: String
    public var message: String
    /// The JSON Schema keywords the constrained decoder does not support, when that is the problem.
    public var unsupportedKeywords: [String]

    public init(field: String, message: String, unsupportedKeywords: [String] = []) {
        self.field = field
        self.message = message
        self.unsupportedKeywords = unsupportedKeywords
    }

    public var description: String { "\(field): \(message)" }
}

/// How `tools`, `tool_choice`, `parallel_tool_calls` and `response_format` steer one generation.
///
/// OpenAI's rules: without `tool_choice`, `auto` when tools are given, else `none`. `none` still shows the tools to
/// the model but parses no calls and constrains nothing; `auto` parses `<tool_call>` blocks out of free text;
/// `required` and a named function constrain decoding to valid calls (``ResponseConstraint/toolCalls(_:parallel:)``).
/// A JSON `response_format` constrains the text when no tool constraint applies.
public struct ToolCallingPlan: Sendable {
    /// Tool definitions rendered into the prompt.
    public var toolDefinitions: [JSONValue]
    /// Whether the answer's `<tool_call>` blocks become ``ToolCall``s.
    public var parsesToolCalls: Bool
    /// The decoding constraint (nil: free text).
    public var constraint: ResponseConstraint?

    /// Checks the combination and builds the constraint; errors name the field at fault.
    public init(tools: [Tool], toolChoice: ToolChoice?, parallelToolCalls: Bool = true,
                responseFormat: ResponseFormat = .text) throws {
        toolDefinitions = tools.map(\.definition)
        let choice = toolChoice ?? (tools.isEmpty ? .none : .auto)
        constraint = nil
        parsesToolCalls = false
        switch choice {
        case .none:
            break
        case .auto:
            parsesToolCalls = !tools.isEmpty
        case .required:
            guard !tools.isEmpty else {
                throw ToolRequestError(field: "tool_choice", message: "\"required\" needs at least one tool in \"tools\"")
            }
            parsesToolCalls = true
            constraint = try Self.toolConstraint(tools, parallel: parallelToolCalls)
        case .function(let name):
            guard let tool = tools.first(where: { $0.name == name }) else {
                let known = tools.map(\.name).joined(separator: ", ")
                throw ToolRequestError(field: "tool_choice",
                                       message: "the function '\(name)' is not in \"tools\"" + (known.isEmpty ? "" : " (\(known))"))
            }
            parsesToolCalls = true
            constraint = try Self.toolConstraint([tool], parallel: parallelToolCalls)
        }
        let format: ResponseConstraint?
        switch responseFormat {
        case .text: format = nil
        case .jsonObject: format = ResponseConstraint.jsonObject()
        case .jsonSchema(_, let schema, _):
            do { format = try ResponseConstraint.jsonSchema(schema) } catch let error as ResponseConstraintError {
                throw ToolRequestError(field: "response_format.json_schema.schema", message: error.description,
                                       unsupportedKeywords: error.unsupportedKeywords)
            }
        }
        if constraint == nil { constraint = format }
    }

    static func toolConstraint(_ tools: [Tool], parallel: Bool) throws -> ResponseConstraint {
        do {
            return try ResponseConstraint.toolCalls(tools.map { FunctionSchema(name: $0.name, parameters: $0.parameters) },
                                                    parallel: parallel)
        } catch let error as ResponseConstraintError {
            throw ToolRequestError(field: "tools", message: error.description, unsupportedKeywords: error.unsupportedKeywords)
        }
    }

    /// The answer's content and calls (content nil when the answer is only calls). When calls are parsed the
    /// content is ``ToolCallParser``'s (trailing whitespace dropped), as a stream through ``ToolCallStreamParser`` gives.
    public func interpret(_ text: String) -> (content: String?, toolCalls: [ToolCall]) {
        guard parsesToolCalls else { return (text, []) }
        let parsed = ToolCallParser.parse(text)
        return (parsed.content.isEmpty && !parsed.toolCalls.isEmpty ? nil : parsed.content, parsed.toolCalls)
    }
}

/// A generation with tools: the raw result plus its content and tool calls.
public struct ToolCallingResult: Sendable {
    public var generation: GenerationResult
    /// The text outside the calls (nil when the answer is only calls).
    public var content: String?
    public var toolCalls: [ToolCall]

    /// OpenAI's `finish_reason`: `tool_calls` when the answer made calls and ended on its own.
    public var finishReason: String {
        switch generation.finishReason {
        case .length: "length"
        case .stop, .cancelled: toolCalls.isEmpty ? "stop" : "tool_calls"
        }
    }
}

extension QwenVLModel {
    /// Generates an answer that may call `tools`: the prompt shows them, `toolChoice` / `responseFormat` constrain
    /// decoding, and the answer's `<tool_call>` blocks come back as ``ToolCall``s.
    ///
    ///     let result = try await model.generate(messages: messages, tools: [click, done], toolChoice: .required)
    ///     for call in result.toolCalls { print(call.name, call.argumentsJSON) }
    public func generate(messages: [ChatMessage], tools: [Tool], toolChoice: ToolChoice? = nil, parallelToolCalls: Bool = true,
                         responseFormat: ResponseFormat = .text, parameters: GenerationParameters? = nil,
                         options: PrepareOptions = PrepareOptions(),
                         onChunk: ((GenerationChunk) -> Bool)? = nil) async throws -> ToolCallingResult {
        let plan = try ToolCallingPlan(tools: tools, toolChoice: toolChoice, parallelToolCalls: parallelToolCalls,
                                       responseFormat: responseFormat)
        var p = parameters ?? generationDefaults
        p.constraint = plan.constraint
        var o = options
        o.tools = plan.toolDefinitions
        let result = try await generate(messages: messages, parameters: p, options: o, onChunk: onChunk)
        let (content, calls) = plan.interpret(result.text)
        return ToolCallingResult(generation: result, content: content, toolCalls: calls)
    }
}
