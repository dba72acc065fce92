import Foundation
import XCTest
import QwenVLTokenizer

/// `ChatTemplate.render(_:tools:…)` against HF `apply_chat_template(messages, tools=…)` with the merged template
/// (`reference/tool_template.json`), and `PythonJSON` against Python's `json.dumps`.
final class ToolTemplateTests: XCTestCase {
    func testEveryReferenceCaseRendersIdenticallyWithIdenticalTokenIDs() throws {
        let cases = try XCTUnwrap(Fixtures.json(Fixtures.reference.appendingPathComponent("tool_template.json")).arrayValue)
        XCTAssertGreaterThanOrEqual(cases.count, 12)
        let tokenizer = try Fixtures.tokenizer()
        for entry in cases {
            let name = try XCTUnwrap(entry["name"]?.stringValue)
            let messages = try TemplateMessage.parseMessages(json: try XCTUnwrap(entry["messages_json"]?.stringValue))
            var tools: [JSONValue] = []
            if let text = entry["tools_json"]?.stringValue {
                tools = try XCTUnwrap(JSONValue.parse(text).arrayValue, "case \(name)")
            }
            let rendered = ChatTemplate.qwen2VL.render(
                messages, tools: tools,
                addGenerationPrompt: try XCTUnwrap(entry["add_generation_prompt"]?.boolValue),
                addVisionID: try XCTUnwrap(entry["add_vision_id"]?.boolValue))
            let expected = try XCTUnwrap(entry["text"]?.stringValue)
            assertSameText(rendered, expected, "case \(name)")
            XCTAssertEqual(try tokenizer.encode(rendered), try Fixtures.ids(entry["ids"]), "token ids of case \(name)")
        }
    }

    func testWithoutToolsEveryQwen2VLCaseIsUnchanged() throws {
        let cases = try XCTUnwrap(Fixtures.json(Fixtures.reference.appendingPathComponent("chat_template.json")).arrayValue)
        for entry in cases {
            let messages = try TemplateMessage.parseMessages(try XCTUnwrap(entry["messages"]))
            let addGenerationPrompt = try XCTUnwrap(entry["add_generation_prompt"]?.boolValue)
            let addVisionID = try XCTUnwrap(entry["add_vision_id"]?.boolValue)
            let rendered = ChatTemplate.qwen2VL.render(messages, tools: [], addGenerationPrompt: addGenerationPrompt,
                                                       addVisionID: addVisionID)
            assertSameText(rendered, try XCTUnwrap(entry["text"]?.stringValue), "case \(entry["name"]?.stringValue ?? "?")")
        }
    }

    func testNumbersPrintAsPythonJSONDumps() throws {
        let cases = try XCTUnwrap(Fixtures.json(Fixtures.reference.appendingPathComponent("python_json_numbers.json")).arrayValue)
        XCTAssertGreaterThanOrEqual(cases.count, 300)
        var mismatches: [String] = []
        for entry in cases {
            let literal = try XCTUnwrap(entry["literal"]?.stringValue)
            let expected = try XCTUnwrap(entry["dumps"]?.stringValue)
            let value = try JSONValue.parse(literal)
            let got = PythonJSON.dumps(value)
            if got != expected { mismatches.append("\(literal): \(got) vs \(expected)") }
        }
        XCTAssertEqual(mismatches, [])
    }

    func testStringsAndObjectsPrintAsPythonJSONDumps() throws {
        // json.dumps({"a": 1, "b": [True, None], "a": 2} as parsed, "\x01\b\f\u2028\x7f é😀 \"\\/") in Python 3.
        let value = try JSONValue.parse(#"{"a": 1, "b": [true, null, {}], "a": 2, "s": "\u0001\b\f\u2028\u007f é😀 \"\\\/"}"#)
        XCTAssertEqual(PythonJSON.dumps(value), "{\"a\": 2, \"b\": [true, null, {}], \"s\": \"\\u0001\\b\\f\u{2028}\u{7f} é😀 \\\"\\\\/\"}")
    }

    func testToolCallsParseFromOpenAIAndBareShapes() throws {
        let messages = try TemplateMessage.parseMessages(json: """
            [{"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "click", "arguments": {"x": 1}}},
                {"name": "done", "arguments": "{}"}]},
             {"role": "assistant", "tool_calls": [{"function": {"name": "done", "arguments": {}}}]},
             {"role": "tool", "content": null}]
            """)
        XCTAssertEqual(messages[0].toolCalls, [
            .init(name: "click", arguments: .object([.init(key: "x", value: .number("1"))])),
            .init(name: "done", arguments: .string("{}"))])
        XCTAssertEqual(messages[0].content, .string(""))
        XCTAssertEqual(messages[1].toolCalls.count, 1)
        XCTAssertEqual(messages[2].content, .string(""))
        XCTAssertThrowsError(try TemplateMessage.parseMessages(json: #"[{"role": "assistant", "tool_calls": [{"arguments": {}}]}]"#)) { error in
            XCTAssertTrue("\(error)".contains("name"), "\(error)")
        }
        XCTAssertThrowsError(try TemplateMessage.parseMessages(json: #"[{"role": "assistant", "content": "x", "tool_calls": {}}]"#))
    }
}
