import Foundation
@testable import QwenVL
import QwenVLTokenizer
import XCTest
@testable import QwenVLServer

/// `tools`, `tool_choice`, `parallel_tool_calls`, `response_format` and tool turns below the HTTP layer, and a
/// constrained call from the tiny checkpoint through `QwenVLModel.generate(messages:tools:toolChoice:…)`.
final class ToolRequestTests: XCTestCase {
    static let tools = #"""
    [{"type": "function", "function": {"name": "click", "description": "Click", "parameters": {"type": "object",
       "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}}, "required": ["x", "y"]}}},
     {"type": "function", "function": {"name": "done", "parameters": {"type": "object", "properties": {}}}}]
    """#

    func request(_ extra: String) throws -> ChatCompletionRequest {
        try ChatCompletionRequest(body: Array(#"{"messages": [{"role": "user", "content": "go"}], "tools": \#(Self.tools)\#(extra)}"#.utf8))
    }

    func assertBadRequest(_ body: String, param: String, mentions: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try ChatCompletionRequest(body: Array(body.utf8)), file: file, line: line) { error in
            guard let error = error as? APIError else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertEqual(error.status.code, 400, file: file, line: line)
            XCTAssertEqual(error.param, param, file: file, line: line)
            XCTAssertTrue(error.message.contains(mentions), error.message, file: file, line: line)
        }
    }

    func testToolChoiceDecidesParsingAndConstraint() throws {
        let auto = try request("")
        XCTAssertEqual(auto.tools.map(\.name), ["click", "done"])
        XCTAssertTrue(auto.toolPlan.parsesToolCalls)
        XCTAssertNil(auto.toolPlan.constraint)
        XCTAssertEqual(auto.toolPlan.toolDefinitions.count, 2)

        let none = try request(#", "tool_choice": "none""#)
        XCTAssertFalse(none.toolPlan.parsesToolCalls)
        XCTAssertNil(none.toolPlan.constraint)
        XCTAssertEqual(none.toolPlan.toolDefinitions.count, 2, "tool_choice none still shows the tools")

        let required = try request(#", "tool_choice": "required", "parallel_tool_calls": false"#)
        XCTAssertEqual(required.toolPlan.constraint?.source, .toolCalls(
            required.tools.map { FunctionSchema(name: $0.name, parameters: $0.parameters) }, parallel: false))

        let named = try request(#", "tool_choice": {"type": "function", "function": {"name": "done"}}"#)
        guard case .toolCalls(let functions, true)? = named.toolPlan.constraint?.source else {
            return XCTFail("\(String(describing: named.toolPlan.constraint?.source))")
        }
        XCTAssertEqual(functions.map(\.name), ["done"])
        XCTAssertEqual(named.parameters(defaults: GenerationParameters()).constraint, named.toolPlan.constraint)
    }

    func testResponseFormats() throws {
        let body = #"{"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_schema", "json_schema": {"name": "p", "schema": {"type": "object", "properties": {"a": {"type": "string"}}}, "strict": true}}}"#
        let schema = try ChatCompletionRequest(body: Array(body.utf8))
        guard case .jsonSchema("p", _, true?) = schema.responseFormat, case .jsonSchema? = schema.toolPlan.constraint?.source else {
            return XCTFail("\(schema.responseFormat)")
        }
        let object = try ChatCompletionRequest(body: Array(#"{"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}}"#.utf8))
        XCTAssertEqual(object.toolPlan.constraint?.source, .jsonObject)
        let text = try ChatCompletionRequest(body: Array(#"{"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "text"}}"#.utf8))
        XCTAssertNil(text.toolPlan.constraint)
    }

    func testValidationErrorsNameTheField() {
        let user = #"{"messages": [{"role": "user", "content": "x"}]"#
        assertBadRequest(user + #", "tools": \#(Self.tools), "tool_choice": {"type": "function", "function": {"name": "fly"}}}"#,
                         param: "tool_choice", mentions: "fly")
        assertBadRequest(user + #", "tool_choice": "required"}"#, param: "tool_choice", mentions: "required")
        assertBadRequest(user + #", "tool_choice": "sometimes"}"#, param: "tool_choice", mentions: "auto")
        assertBadRequest(user + #", "tools": {"name": "x"}}"#, param: "tools", mentions: "list")
        assertBadRequest(user + #", "tools": [{"type": "function", "function": {"description": "no name"}}]}"#, param: "tools", mentions: "name")
        assertBadRequest(user + #", "tools": [{"type": "retrieval"}]}"#, param: "tools", mentions: "function")
        assertBadRequest(user + #", "response_format": {"type": "yaml"}}"#, param: "response_format", mentions: "json_schema")
        assertBadRequest(user + #", "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "string", "pattern": "a+", "format": "email"}}}}"#,
                         param: "response_format.json_schema.schema", mentions: "pattern")
        assertBadRequest(user + #", "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}}}}], "tool_choice": "required"}"#,
                         param: "tools", mentions: "minimum")
        assertBadRequest(#"{"messages": [{"role": "assistant", "content": null, "tool_calls": [{"type": "function", "function": {"arguments": "{}"}}]}]}"#,
                         param: "messages[0]", mentions: "tool_calls")
    }

    func testToolTurnsRenderIntoThePrompt() throws {
        let body = #"""
        {"messages": [{"role": "user", "content": "go"},
          {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "click", "arguments": "{\"x\": 5, \"y\": 6}"}}]},
          {"role": "tool", "tool_call_id": "call_1", "content": "clicked"}], "tools": \#(Self.tools)}
        """#
        let request = try ChatCompletionRequest(body: Array(body.utf8))
        XCTAssertEqual(request.messages[1].toolCalls, [ToolCall(id: "call_1", name: "click", argumentsJSON: #"{"x": 5, "y": 6}"#)])
        XCTAssertEqual(request.messages[2].toolCallID, "call_1")
        let model = try ServerFixtures.model()
        let rendered = model.chatTemplate.render(request.messages.map(\.templateMessage), tools: request.toolPlan.toolDefinitions,
                                                 addGenerationPrompt: true)
        XCTAssertTrue(rendered.contains("<|im_start|>assistant\n<tool_call>\n{\"name\": \"click\", \"arguments\": {\"x\": 5, \"y\": 6}}\n</tool_call><|im_end|>\n"
                                        + "<|im_start|>user\n<tool_response>\nclicked\n</tool_response><|im_end|>\n<|im_start|>assistant\n"), rendered)
        XCTAssertTrue(rendered.hasPrefix("<|im_start|>system\nYou are a helpful assistant.\n\n# Tools\n"), rendered)
    }

    func testAnswerAndDeltaShapes() throws {
        let response = ChatCompletionResponse(model: "m", returnTokenIDs: false)
        let result = GenerationResult(promptTokenIDs: [1], tokenIDs: [2, 3], text: "x", finishReason: .stop,
                                      timings: GenerationTimings(), promptLogits: [])
        let call = ToolCall(id: "call_7", name: "click", argumentsJSON: #"{"x": 1}"#)
        let json = JSONOutput.string(response.completion(result, boxes: nil, toolCalling: (nil, [call])))
        XCTAssertTrue(json.contains(#""message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_7","type":"function","function":{"name":"click","arguments":"{\"x\": 1}"}}]}"#), json)
        XCTAssertTrue(json.contains(#""finish_reason":"tool_calls""#), json)
        let plain = JSONOutput.string(response.completion(result, boxes: nil))
        XCTAssertTrue(plain.contains(#""content":"x"},"#) && plain.contains(#""finish_reason":"stop""#), plain)
        XCTAssertEqual(JSONOutput.string(.object(ToolCallField.delta(.toolCallStart(index: 0, id: "call_7", name: "click")))),
                       #"{"tool_calls":[{"index":0,"id":"call_7","type":"function","function":{"name":"click","arguments":""}}]}"#)
        XCTAssertEqual(JSONOutput.string(.object(ToolCallField.delta(.toolCallArguments(index: 0, fragment: "{}")))),
                       #"{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}"#)
    }

    func testConstrainedCallFromTheTinyCheckpoint() async throws {
        // Small argument bounds keep the random checkpoint's answer short (it favours long tokenizations).
        let model = try ServerFixtures.model()
        let tools = try Tool.parseList(JSONValue.parse(#"""
            [{"type": "function", "function": {"name": "click", "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}}}},
             {"type": "function", "function": {"name": "press", "parameters": {"type": "object",
               "properties": {"key": {"enum": ["ok", "cancel"]}, "twice": {"type": "boolean"}}, "required": ["key", "twice"],
               "additionalProperties": false}}}]
            """#))
        var parameters = model.generationDefaults
        parameters.maxTokens = 96
        parameters.doSample = true
        parameters.temperature = 1
        parameters.topK = 0
        parameters.topP = 1
        parameters.seed = 5
        let result = try await model.generate(messages: [ChatMessage(role: "user", text: "Press OK.")], tools: tools,
                                              toolChoice: .function("press"), parallelToolCalls: false, parameters: parameters)
        XCTAssertEqual(result.toolCalls.count, 1, result.generation.text)
        XCTAssertEqual(result.toolCalls.first?.name, "press")
        XCTAssertNil(result.content)
        XCTAssertEqual(result.finishReason, "tool_calls")
        let arguments = try XCTUnwrap(result.toolCalls.first.flatMap { try? JSONValue.parse($0.argumentsJSON) })
        XCTAssertTrue(["ok", "cancel"].contains(arguments["key"]?.stringValue ?? ""), result.generation.text)
        XCTAssertNotNil(arguments["twice"]?.boolValue, result.generation.text)
        XCTAssertEqual(arguments.objectValue?.count, 2)
    }
}
