import Foundation
import XCTest
@testable import QwenVL
import QwenVLTokenizer

/// The constraint automaton on hand-picked strings, its token masks against a brute-force check over the whole
/// vocabulary, schema errors, and the property test: random schemas decoded by the tiny checkpoints always
/// validate (here with a Swift validator; scripts/validate_constrained.py re-checks the outputs with jsonschema).
final class ConstrainedDecodingTests: XCTestCase {
    func schema(_ text: String) throws -> ResponseConstraint { try .jsonSchema(JSONValue.parse(text)) }

    func assertAccepts(_ c: ResponseConstraint, _ valid: [String], _ invalid: [String], file: StaticString = #filePath, line: UInt = #line) {
        for text in valid { XCTAssertTrue(c.accepts(text), "should accept \(text)", file: file, line: line) }
        for text in invalid { XCTAssertFalse(c.accepts(text), "should reject \(text)", file: file, line: line) }
    }

    // MARK: - The automaton

    func testObjectPropertiesInSchemaOrderWithBoundedWhitespace() throws {
        let c = try schema(#"""
            {"type": "object", "properties": {"name": {"type": "string", "maxLength": 5}, "age": {"type": "integer"},
             "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 2}},
             "required": ["name"], "additionalProperties": false}
            """#)
        assertAccepts(c, [
            #"{"name": "Bob"}"#, #"{"name":"Bob","age":3}"#, #"{"name": "Bob", "age": -12, "tags": ["a", "b"]}"#,
            #"{"name":"","tags":[]}"#, #"{"name": "Bobby", "tags": ["b"]}"#, #"{"name":"é😀","age":0}"#,
        ], [
            "{}", #"{"age":3,"name":"Bob"}"#, #"{"name":"Bobbyy"}"#, #"{"name": "Bob",  "age": 3}"#,
            #"{"name":"Bob","age":3.5}"#, #"{"name":"Bob","age":03}"#, #"{"name":"Bob","tags":["c"]}"#,
            #"{"name":"Bob","tags":["a","b","a"]}"#, #"{"name":"Bob","extra":1}"#, #" {"name":"Bob"}"#,
            #"{"name":"Bob"} "#, #"{"name":"Bob",}"#, #"{ "name":"Bob"}"#, #"{"name" :"Bob"}"#, #"{"name":"Bob""#,
        ])
        XCTAssertTrue(c.acceptsPrefix(#"{"name": "B"#))
        XCTAssertFalse(c.accepts(#"{"name": "B"#))
        XCTAssertFalse(c.acceptsPrefix(#"{"nam "#))
    }

    func testOptionalPropertiesMaySkipButRequiredCannot() throws {
        let c = try schema(#"{"properties": {"a": {"type": "null"}, "b": {"type": "null"}, "c": {"type": "null"}}, "required": ["b"]}"#)
        assertAccepts(c, [#"{"b":null}"#, #"{"a":null,"b":null}"#, #"{"b":null,"c":null}"#, #"{"a":null,"b":null,"c":null}"#],
                      ["{}", #"{"a":null}"#, #"{"c":null}"#, #"{"a":null,"c":null}"#, #"{"b":null,"a":null}"#])
        // Keys sharing a prefix are told apart by the closing quote.
        let p = try schema(#"{"properties": {"ab": {"type": "integer"}, "a": {"type": "string"}}}"#)
        assertAccepts(p, [#"{"ab":1}"#, #"{"a":"x"}"#, #"{"ab":1,"a":"x"}"#, "{}"], [#"{"a":1}"#, #"{"ab":"x"}"#, #"{"a":"x","ab":1}"#])
    }

    func testNumbersAndIntegers() throws {
        let number = try schema(#"{"type": "number"}"#)
        assertAccepts(number, ["0", "-0", "12", "-0.5", "3.25", "123456789012345", "1.12345678"],
                      ["01", "1.", ".5", "+1", "1e5", "-", "1234567890123456", "1.123456789", "NaN", "1 "])
        let integer = try schema(#"{"type": "integer"}"#)
        assertAccepts(integer, ["0", "-7", "42"], ["1.0", "1.5", "00", "-"])
        XCTAssertTrue(number.acceptsPrefix("1."))
    }

    func testStringsEscapesUnicodeAndLengthInCharacters() throws {
        let s = try schema(#"{"type": "string", "minLength": 2, "maxLength": 3}"#)
        assertAccepts(s, [#""ab""#, #""abc""#, #""éé""#, #""日本語""#, #""😀😀😀""#, #""a\"""#, #""\\\n\t""#, #""a\/""#],
                      [#""a""#, #""abcd""#, #""éééé""#, #""😀""#, "\"a\nb\"", #""a\x""#, #""\u0041b""#, #""ab"#, "ab"])
        // Invalid UTF-8 never enters a string (bytes fed directly: a Swift String cannot hold them).
        let any = try schema(#"{"type": "string"}"#)
        for bytes: [UInt8] in [[0x22, 0xC0, 0x80, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xE2, 0x82, 0x22], [0x22, 0xF5, 0x22]] {
            var state = JSONGrammarState(grammar: any.grammar)
            for b in bytes { state.advance(b) }
            XCTAssertFalse(state.isComplete, "\(bytes)")
        }
    }

    func testEnumConstAnyOfAndTypeLists() throws {
        assertAccepts(try schema(#"{"enum": ["red", 1, null, true, "say \"hi\""]}"#),
                      [#""red""#, "1", "null", "true", #""say \"hi\"""#], [#""blue""#, "2", "false", #""Red""#, "1.0"])
        assertAccepts(try schema(#"{"const": {"a": [1, 2]}}"#), [#"{"a":[1,2]}"#], [#"{"a": [1, 2]}"#, #"{"a":[2,1]}"#])
        assertAccepts(try schema(#"{"anyOf": [{"type": "string", "maxLength": 1}, {"type": "integer"}, {"type": "object", "properties": {"k": {"type": "boolean"}}, "required": ["k"]}]}"#),
                      [#""x""#, "5", #"{"k":true}"#], [#""xy""#, "true", "5.5", "{}"])
        assertAccepts(try schema(#"{"type": ["string", "null"], "maxLength": 2}"#), ["null", #""ok""#], [#""okk""#, "0"])
        // enum values of another type than `type` are dropped.
        assertAccepts(try schema(#"{"type": "string", "enum": ["a", 1]}"#), [#""a""#], ["1"])
    }

    func testArraysAndFreeValues() throws {
        assertAccepts(try schema(#"{"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 3}"#),
                      ["[1]", "[1,2]", "[1, 2, 3]"], ["[]", "[1,2,3,4]", "[1 ,2]", "[ 1]", "[1,]", #"["1"]"#])
        let object = ResponseConstraint.jsonObject()
        assertAccepts(object, ["{}", #"{"a": {"b": [1, "x", null, true, false, 2.5]}}"#, #"{"k":[]}"#],
                      ["[1]", #""x""#, "null", #"{"a":}"#, #"{a:1}"#])
        assertAccepts(try schema(#"{"type": "object", "additionalProperties": {"type": "integer"}}"#),
                      [#"{"x": 1, "y": 2}"#, "{}"], [#"{"x": "1"}"#])
        assertAccepts(try schema("{}"), ["1", #""s""#, "[]", "{}", "null"], ["", "nul"])
        assertAccepts(try schema(#"{"type": "object", "additionalProperties": false}"#), ["{}"], [#"{"a":1}"#])
    }

    func testToolCallsFormat() throws {
        let weather = FunctionSchema(name: "get_weather", parameters: try JSONValue.parse(
            #"{"type": "object", "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}}, "required": ["city"]}"#))
        let done = FunctionSchema(name: "done", parameters: try JSONValue.parse("{}"))
        let one = try ResponseConstraint.toolCalls([weather, done], parallel: false)
        let call = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"
        let doneCall = "<tool_call>\n{\"name\": \"done\", \"arguments\": {}}\n</tool_call>"
        assertAccepts(one, [call, doneCall, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\":\"x\",\"unit\":\"f\"}}\n</tool_call>"], [
            call + "\n" + doneCall, "<tool_call>\n{\"name\": \"click\", \"arguments\": {}}\n</tool_call>",
            "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {}}\n</tool_call>",
            "<tool_call>{\"name\": \"done\", \"arguments\": {}}</tool_call>", "{\"name\": \"done\", \"arguments\": {}}",
        ])
        let parallel = try ResponseConstraint.toolCalls([weather, done], parallel: true)
        assertAccepts(parallel, [call, call + "\n" + doneCall, doneCall + "\n" + doneCall + "\n" + call], [call + "\n", call + doneCall])
        // Every output parses back into its name and arguments.
        let body = call.dropFirst("<tool_call>\n".count).dropLast("\n</tool_call>".count)
        let value = try JSONValue.parse(String(body))
        XCTAssertEqual(value["name"], .string("get_weather"))
        XCTAssertNil(SchemaValidator.violation(value["arguments"]!, weather.parameters))
    }

    // MARK: - Schema errors

    func testUnsupportedKeywordsAreNamed() throws {
        func keywords(_ text: String) -> [String] {
            do { _ = try schema(text); return [] } catch let e as ResponseConstraintError { return e.unsupportedKeywords } catch { return ["?"] }
        }
        XCTAssertEqual(keywords(##"{"type": "object", "patternProperties": {"x": {}}, "properties": {"a": {"$ref": "#/x"}}}"##),
                       ["patternProperties", "$ref"])
        XCTAssertEqual(keywords(#"{"type": "string", "pattern": "^a", "format": "date", "title": "t", "description": "d"}"#),
                       ["pattern", "format"])
        XCTAssertEqual(keywords(#"{"type": "array", "items": [{"type": "string"}], "uniqueItems": true}"#), ["uniqueItems", "items (array form)"])
        XCTAssertEqual(keywords(#"{"type": "integer", "minimum": 0, "default": 1, "examples": [1], "$schema": "x"}"#), ["minimum"])
        XCTAssertEqual(keywords(#"{"oneOf": [{"type": "string"}], "allOf": []}"#), ["oneOf", "allOf"])
        XCTAssertThrowsError(try schema(#"{"type": "object", "properties": {"f": {"not": {}}}}"#)) { error in
            XCTAssertEqual((error as? ResponseConstraintError)?.description, "unsupported JSON schema keywords: not")
        }
        XCTAssertThrowsError(try ResponseConstraint.toolCalls([FunctionSchema(name: "f", parameters: try JSONValue.parse(#"{"$defs": {}}"#))], parallel: false)) {
            XCTAssertEqual(($0 as? ResponseConstraintError)?.unsupportedKeywords, ["$defs"])
        }
    }

    func testUnsatisfiableOrMalformedSchemasThrow() throws {
        for text in [#"{"type": "string", "minLength": 3, "maxLength": 2}"#, #"{"enum": []}"#, #"{"type": "string", "enum": [1]}"#,
                     #"{"type": "object", "required": ["a"], "additionalProperties": false}"#, #"{"type": "array", "minItems": 2, "maxItems": 1}"#,
                     #"{"type": "strin"}"#, "false", "[]", #"{"anyOf": []}"#, #"{"type": "string", "maxLength": -1}"#] {
            XCTAssertThrowsError(try schema(text), text) { XCTAssertTrue($0 is ResponseConstraintError, text) }
        }
        XCTAssertThrowsError(try ResponseConstraint.toolCalls([], parallel: false))
    }

    // MARK: - Token masks

    /// The trie walk allows exactly the tokens whose bytes the automaton accepts from the state (every id checked).
    func testMasksEqualBruteForceOverTheVocabulary() throws {
        let tokenizer = try Fixtures.model("tiny-f32").tokenizer
        let vocabulary = TokenVocabulary.shared(for: tokenizer)
        let c = try schema(#"""
            {"type": "object", "properties": {"s": {"type": "string", "minLength": 2, "maxLength": 140}, "n": {"type": "number"},
             "a": {"type": "array", "items": {"anyOf": [{"type": "integer"}, {"enum": ["x", "y"]}]}}}, "required": ["s"]}
            """#)
        // Object start, string start, inside a string (short / near the cap), after a backslash, inside a split
        // character, inside a number, array items.
        let prefixes = [#"{"#, #"{"s": "#, #"{"s": "a"#, #"{"s": "\"#, "{\"s\": \"\u{E6}", "{\"s\": \"" + String(repeating: "é", count: 100),
                        #"{"s": "ab", "n": 1"#, #"{"s": "ab", "a": [1, "#]
        let ends = Set(tokenizer.specialTokens.values)
        for prefix in prefixes {
            var state = JSONGrammarState(grammar: c.grammar)
            // "\u{E6}" stands for a lone lead byte 0xE6 (a character split across tokens).
            let bytes: [UInt8] = prefix.hasSuffix("\u{E6}") ? Array(prefix.dropLast().utf8) + [0xE6] : Array(prefix.utf8)
            for b in bytes { state.advance(b) }
            var walked = TokenMask(size: vocabulary.size)
            for stack in state.stacks { walked.formUnion(TokenMaskWalker.mask(for: stack, grammar: c.grammar, vocabulary: vocabulary).0) }
            var brute = TokenMask(size: vocabulary.size)
            for id in 0..<Int32(vocabulary.size) where !ends.contains(id) {
                let token = vocabulary.tokenBytes(id)
                guard !token.isEmpty else { continue }
                var s = state
                for b in token { s.advance(b); if s.isDead { break } }
                if !s.isDead { brute.insert(id) }
            }
            XCTAssertEqual(walked.count, brute.count, "prefix \(prefix)")
            XCTAssertTrue(walked == brute, "prefix \(prefix)")
            XCTAssertGreaterThan(brute.count, 0, "prefix \(prefix)")
        }
    }

    /// Masked decoding with the tiny checkpoint: greedy and sampled outputs end with <|im_end|> and validate.
    func testDecodingEndsWithTheEndTokenAndValidates() async throws {
        let model = try Fixtures.model("tiny-f32")
        let schemaValue = try JSONValue.parse(#"{"type": "object", "properties": {"name": {"type": "string", "maxLength": 12}, "ok": {"type": "boolean"}}, "required": ["name", "ok"]}"#)
        let input = try await model.prepare(messages: [ChatMessage(role: "user", text: "Answer in JSON.")])
        for seed: UInt64? in [nil, 1] {
            var p = GenerationParameters()
            p.maxTokens = 256
            p.constraint = try .jsonSchema(schemaValue)
            if let seed { p.doSample = true; p.temperature = 1; p.seed = seed }
            var state = model.makeState()
            let result = try model.generate(input, parameters: p, state: &state)
            XCTAssertEqual(result.finishReason, .stop, result.text)
            XCTAssertTrue(p.eosTokenIDs.contains(result.tokenIDs.last ?? -1))
            let value = try JSONValue.parse(result.text)
            XCTAssertNil(SchemaValidator.violation(value, schemaValue), result.text)
            XCTAssertEqual(result.constraintStatistics?.steps, result.tokenIDs.count)
        }
    }

    // MARK: - Property test

    /// Random schemas × {tiny-f32, tiny-bf16} × {greedy, sampled at temperature 1 with a per-case seed}: every
    /// output finishes with an end token, parses and validates; the outputs go to .build/constrained-outputs.jsonl
    /// for scripts/validate_constrained.py (Python jsonschema).
    ///
    /// Decoding a 151,936-token vocabulary in a debug build costs ~0.1 s per token (the LM head, the arg-max and the
    /// sampler's sort), so by default 3 of the 240 schemas run (every 80th, 12 outputs). `QWENVL_CONSTRAINED_SCHEMAS=all` runs
    /// all 240 (960 outputs): scripts/test-constrained.sh does that in a release build, then validates them.
    func testRandomSchemasDecodeToValidJSON() async throws {
        let url = Fixtures.reference.appendingPathComponent("random_schemas.json")
        let all = try JSONValue.parse(Array(Data(contentsOf: url)), source: url.path).arrayValue ?? []
        XCTAssertGreaterThanOrEqual(all.count, 200)
        let full = ProcessInfo.processInfo.environment["QWENVL_CONSTRAINED_SCHEMAS"] == "all"
        let cases = Array(all.enumerated()).filter { full || $0.offset % 80 == 0 }
        let outURL = Fixtures.root.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".build/constrained-outputs.jsonl")
        var lines: [String] = []
        var failures = 0
        var statistics = ConstraintStatistics()
        for checkpoint in ["tiny-f32", "tiny-bf16"] {
            let model = try Fixtures.model(checkpoint)
            let input = try await model.prepare(messages: [ChatMessage(role: "user", text: "Reply with JSON.")])
            for (index, c) in cases {
                guard let name = c["name"]?.stringValue, let schemaValue = c["schema"] else { XCTFail("bad case \(index)"); continue }
                let constraint = try ResponseConstraint.jsonSchema(schemaValue)
                for sampled in [false, true] {
                    var p = GenerationParameters()
                    p.maxTokens = 400
                    p.constraint = constraint
                    let seed = UInt64(index * 2 + (checkpoint == "tiny-f32" ? 0 : 1))
                    if sampled { p.doSample = true; p.temperature = 1; p.seed = seed }
                    var state = model.makeState()
                    let result = try model.generate(input, parameters: p, state: &state)
                    if let s = result.constraintStatistics { statistics.add(s) }
                    let mode = sampled ? "sampled" : "greedy"
                    var problem: String? = result.finishReason == .stop ? nil : "finished by \(result.finishReason)"
                    if problem == nil {
                        do { problem = SchemaValidator.violation(try JSONValue.parse(result.text), schemaValue) } catch { problem = "\(error)" }
                    }
                    if let problem {
                        failures += 1
                        if failures <= 10 { XCTFail("\(name) \(checkpoint) \(mode): \(problem): \(result.text)") }
                    }
                    let record: JSONValue = .object([
                        .init(key: "name", value: .string(name)), .init(key: "checkpoint", value: .string(checkpoint)),
                        .init(key: "mode", value: .string(mode)), .init(key: "seed", value: .number(String(seed))),
                        .init(key: "schema", value: schemaValue), .init(key: "output", value: .string(result.text)),
                        .init(key: "finish", value: .string(result.finishReason.rawValue)),
                    ])
                    lines.append(JSONText.string(record))
                }
            }
        }
        XCTAssertEqual(failures, 0)
        try FileManager.default.createDirectory(at: outURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        try (lines.joined(separator: "\n") + "\n").write(to: outURL, atomically: true, encoding: .utf8)
        print(String(format: "constrained decoding: %d outputs, %d tokens, %.3f ms mask+advance per token, %d cache misses",
                     lines.count, statistics.steps, statistics.secondsPerToken * 1000, statistics.cacheMisses))
    }
}

/// Near the token limit a constrained output is steered to its shortest valid completion (TokenBudget).
final class TokenBudgetTests: XCTestCase {
    func testShortestCompletionOfAnOpenValue() throws {
        let schema = try JSONValue.parse(#"{"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "array", "items": {"type": "integer"}, "minItems": 1}, "c": {"type": "boolean"}}, "required": ["a", "b"]}"#)
        let grammar = try ResponseConstraint.jsonSchema(schema).grammar
        var state = JSONGrammarState(grammar: grammar)
        XCTAssertEqual(state.shortestCompletion(limit: 64).map { String(decoding: $0, as: UTF8.self) }, #"{"a":"","b":[0]}"#)
        for byte in Array(#"{"a":"xy"#.utf8) { state.advance(byte) }
        XCTAssertEqual(state.shortestCompletion(limit: 64).map { String(decoding: $0, as: UTF8.self) }, #"","b":[0]}"#)
        XCTAssertNil(state.shortestCompletion(limit: 5), "12 bytes do not fit in 5")
        for byte in Array(#"","b":[12"#.utf8) { state.advance(byte) }
        XCTAssertEqual(state.shortestCompletion(limit: 64).map { String(decoding: $0, as: UTF8.self) }, "]}")
        for byte in Array("]}".utf8) { state.advance(byte) }
        XCTAssertEqual(state.shortestCompletion(limit: 64), [])
    }

    /// Tight limits on the tiny checkpoint: every output stops with an end token within the limit and validates,
    /// where without steering the random weights keep the first string open until the limit cuts it.
    func testTightLimitsEndValid() async throws {
        let model = try Fixtures.model("tiny-f32")
        let schema = try JSONValue.parse(#"{"type": "object", "properties": {"name": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}, "n": {"type": "integer"}}, "required": ["name", "tags", "n"]}"#)
        let input = try await model.prepare(messages: [ChatMessage(role: "user", text: "Reply with JSON.")])
        var cutWithoutSteering = 0
        for limit in [24, 40, 64] {
            for seed: UInt64? in [nil, 3] {
                var p = GenerationParameters()
                p.maxTokens = limit
                p.constraint = try .jsonSchema(schema)
                if let seed { p.doSample = true; p.temperature = 1; p.seed = seed }
                var state = model.makeState()
                let result = try model.generate(input, parameters: p, state: &state)
                XCTAssertEqual(result.finishReason, .stop, "limit \(limit): \(result.text)")
                XCTAssertLessThanOrEqual(result.tokenIDs.count, limit)
                XCTAssertNil(SchemaValidator.violation(try JSONValue.parse(result.text), schema), result.text)
                // The same request with a far limit: its output runs past `limit`, so the tight limit would cut it.
                var far = p
                far.maxTokens = limit * 2
                var farState = model.makeState()
                let long = try model.generate(input, parameters: far, state: &farState)
                if long.tokenIDs.count > limit { cutWithoutSteering += 1 }
            }
        }
        XCTAssertGreaterThan(cutWithoutSteering, 0, "the case should need steering")
    }
}
