import Foundation
import XCTest
@testable import QwenVL

/// `ToolCallParser` on well-formed, several, nested, unicode, truncated and malformed calls, and
/// `ToolCallStreamParser` fed the same texts in random chunks (seeded) against the non-streamed result.
final class ToolCallParserTests: XCTestCase {
    /// Deterministic ids (`call_0`, `call_1`, …) so streamed and non-streamed results compare whole.
    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var next = 0
        func id() -> String {
            lock.lock(); defer { lock.unlock() }
            next += 1
            return "call_\(next - 1)"
        }
    }

    static let cases: [(name: String, text: String, content: String, calls: [(String, String)])] = [
        ("plain text", "Hello there.", "Hello there.", []),
        ("one call", "<tool_call>\n{\"name\": \"click\", \"arguments\": {\"x\": 10, \"y\": 20}}\n</tool_call>", "",
         [("click", "{\"x\": 10, \"y\": 20}")]),
        ("several calls", "<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n</tool_call>\n<tool_call>\n{\"name\": \"b\", \"arguments\": {\"k\": [1, 2]}}\n</tool_call>",
         "", [("a", "{}"), ("b", "{\"k\": [1, 2]}")]),
        ("text around calls", "Let me click.\n<tool_call>\n{\"name\": \"click\", \"arguments\": {\"x\": 1, \"y\": 2}}\n</tool_call>\nDone clicking.",
         "Let me click.\nDone clicking.", [("click", "{\"x\": 1, \"y\": 2}")]),
        ("nested json", "<tool_call>{\"name\": \"f\", \"arguments\": {\"a\": {\"b\": {\"c\": [1, {\"d\": null}]}}, \"s\": \"</tool_call\"}}</tool_call>",
         "", [("f", "{\"a\": {\"b\": {\"c\": [1, {\"d\": null}]}}, \"s\": \"</tool_call\"}")]),
        ("unicode", "好的 🌸\n<tool_call>\n{\"name\": \"type\", \"arguments\": {\"text\": \"こんにちは \\u00e9 👨‍👩‍👧\"}}\n</tool_call>",
         "好的 🌸", [("type", "{\"text\": \"こんにちは é 👨‍👩‍👧\"}")]),
        ("compact spacing normalised", "<tool_call>{\"name\":\"f\",\"arguments\":{\"x\":1.50,\"y\":[true,false]}}</tool_call>", "",
         [("f", "{\"x\": 1.5, \"y\": [true, false]}")]),
        ("arguments as string", "<tool_call>{\"name\": \"f\", \"arguments\": \"{\\\"q\\\": \\\"cats\\\"}\"}</tool_call>", "",
         [("f", "{\"q\": \"cats\"}")]),
        ("arguments left out", "<tool_call>{\"name\": \"done\"}</tool_call>", "", [("done", "{}")]),
        ("truncated in arguments", "Sure <tool_call>\n{\"name\": \"click\", \"arguments\": {\"x\": 1",
         "Sure <tool_call>\n{\"name\": \"click\", \"arguments\": {\"x\": 1", []),
        ("truncated after closing brace", "<tool_call>\n{\"name\": \"click\", \"arguments\": {}}\n",
         "<tool_call>\n{\"name\": \"click\", \"arguments\": {}}", []),
        ("truncated tag", "Thinking <tool_ca", "Thinking <tool_ca", []),
        ("malformed json", "<tool_call>{\"name\": \"f\", \"arguments\": {x: 1}}</tool_call> after",
         "<tool_call>{\"name\": \"f\", \"arguments\": {x: 1}}</tool_call> after", []),
        ("name missing", "<tool_call>{\"arguments\": {}}</tool_call>", "<tool_call>{\"arguments\": {}}</tool_call>", []),
        ("arguments not an object", "<tool_call>{\"name\": \"f\", \"arguments\": [1]}</tool_call>",
         "<tool_call>{\"name\": \"f\", \"arguments\": [1]}</tool_call>", []),
        ("malformed then good", "<tool_call>oops</tool_call>\n<tool_call>{\"name\": \"g\", \"arguments\": {\"v\": \"<tool_call>\"}}</tool_call>",
         "<tool_call>oops</tool_call>", [("g", "{\"v\": \"<tool_call>\"}")]),
        ("nested open tag makes the block malformed", "<tool_call> <tool_call>{\"name\": \"g\", \"arguments\": {}}</tool_call>",
         "<tool_call> <tool_call>{\"name\": \"g\", \"arguments\": {}}</tool_call>", []),
        ("lone closing tag", "a </tool_call> b", "a </tool_call> b", []),
        ("whitespace only around calls", "  \n<tool_call>{\"name\": \"a\", \"arguments\": {}}</tool_call>\n \n", "", [("a", "{}")]),
        ("angle brackets in text", "x < y and <b>bold</b> <tool_c and <tool_callx>", "x < y and <b>bold</b> <tool_c and <tool_callx>", []),
    ]

    func testNonStreamedCases() {
        for c in Self.cases {
            let counter = Counter()
            let parsed = ToolCallParser.parse(c.text, makeID: counter.id)
            XCTAssertEqual(parsed.content, c.content, c.name)
            XCTAssertEqual(parsed.toolCalls.map(\.name), c.calls.map { $0.0 }, c.name)
            XCTAssertEqual(parsed.toolCalls.map(\.argumentsJSON), c.calls.map { $0.1 }, c.name)
            XCTAssertEqual(parsed.toolCalls.map(\.id), (0..<c.calls.count).map { "call_\($0)" }, c.name)
            for call in parsed.toolCalls {   // arguments are always a JSON object
                XCTAssertNotNil(try? JSONSerialization.jsonObject(with: Data(call.argumentsJSON.utf8)) as? [String: Any], c.name)
            }
        }
    }

    func testRandomIDsAreUnique() {
        let parsed = ToolCallParser.parse(String(repeating: "<tool_call>{\"name\": \"a\", \"arguments\": {}}</tool_call>", count: 50))
        XCTAssertEqual(Set(parsed.toolCalls.map(\.id)).count, 50)
        XCTAssertTrue(parsed.toolCalls.allSatisfy { $0.id.hasPrefix("call_") && $0.id.count == 29 })
    }

    /// Splits `text` at random character boundaries (1-12 characters a piece, a seeded generator).
    static func chunks(_ text: String, rng: inout SplitMix) -> [String] {
        var out: [String] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            let n = Int(rng.next() % 12) + 1
            let piece = rest.prefix(n)
            out.append(String(piece))
            rest = rest.dropFirst(piece.count)
        }
        return out
    }

    struct SplitMix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Rebuilds the non-streamed shape from stream events, checking the OpenAI delta order on the way.
    static func collect(_ events: [ToolCallStreamEvent], file: StaticString = #filePath, line: UInt = #line) -> ParsedToolCalls {
        var content = ""
        var calls: [ToolCall] = []
        for event in events {
            switch event {
            case .content(let text):
                XCTAssertFalse(text.isEmpty, file: file, line: line)
                content += text
            case .toolCallStart(let index, let id, let name):
                XCTAssertEqual(index, calls.count, "indices run 0, 1, …", file: file, line: line)
                calls.append(ToolCall(id: id, name: name, argumentsJSON: ""))
            case .toolCallArguments(let index, let fragment):
                XCTAssertEqual(index, calls.count - 1, "arguments follow their start", file: file, line: line)
                calls[index].argumentsJSON += fragment
            }
        }
        return ParsedToolCalls(content: content, toolCalls: calls)
    }

    func testStreamedEqualsNonStreamedForRandomChunkBoundaries() {
        var rng = SplitMix(state: 16)
        // Every case alone, and every case glued to two others (so blocks and text meet at many offsets).
        var texts = Self.cases.map(\.text)
        for i in 0..<Self.cases.count {
            texts.append(Self.cases[i].text + Self.cases[(i + 3) % Self.cases.count].text + " " + Self.cases[(i + 7) % Self.cases.count].text)
        }
        for text in texts {
            let expected = ToolCallParser.parse(text, makeID: Counter().id)
            for round in 0..<25 {
                let counter = Counter()
                var parser = ToolCallStreamParser(makeID: { counter.id() })
                var events: [ToolCallStreamEvent] = []
                for piece in Self.chunks(text, rng: &rng) { events += parser.feed(piece) }
                events += parser.finish()
                XCTAssertEqual(Self.collect(events), expected, "round \(round) of \(text.debugDescription)")
            }
        }
    }

    func testStreamReleasesContentEarlyAndHoldsATagPrefix() {
        var parser = ToolCallStreamParser()
        XCTAssertEqual(parser.feed("Hello "), [.content("Hello")])           // trailing space held
        XCTAssertEqual(parser.feed("wor"), [.content(" wor")])
        XCTAssertEqual(parser.feed("ld <tool"), [.content("ld")])            // " " held, "<tool" could start a tag
        XCTAssertEqual(parser.feed("_call>{\"name\": \"f\", \"argu"), [])      // inside a block: held
        let events = parser.feed("ments\": {\"a\": 1}}</tool_call>")
        guard events.count == 2, case .toolCallStart(0, let id, "f") = events[0] else { return XCTFail("\(events)") }
        XCTAssertTrue(id.hasPrefix("call_"))
        XCTAssertEqual(events[1], .toolCallArguments(index: 0, fragment: "{\"a\": 1}"))
        XCTAssertEqual(parser.feed(" bye"), [.content(" bye")])
        XCTAssertEqual(parser.finish(), [])
        XCTAssertEqual(parser.toolCallCount, 1)
    }
}
