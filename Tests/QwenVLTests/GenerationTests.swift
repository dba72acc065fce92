import Foundation
import XCTest
import QwenVL

/// Stopping rules, streaming and limits of the generator, checked against the reference token sequences.
final class GenerationTests: XCTestCase {
    func reference(_ checkpoint: String, case index: Int) async throws -> (input: ModelInput, greedy: [Int32], model: QwenVLModel) {
        let model = try Fixtures.model(checkpoint)
        let messages = try Fixtures.caseMessages("text_cases.json")[index]
        let refs = (try Fixtures.json(Fixtures.reference.appendingPathComponent("\(checkpoint)/text.json")) as! [String: Any])["cases"] as! [[String: Any]]
        return (try await model.prepare(messages: messages), Fixtures.ints(refs[index]["greedy_token_ids"]), model)
    }

    var greedy: GenerationParameters {
        var p = GenerationParameters()
        p.maxTokens = 16
        return p
    }

    func testStopsOnEOSTokenAndIncludesIt() async throws {
        let (input, expected, model) = try await reference("tiny-bf16", case: 0)
        var p = greedy
        p.eosTokenIDs = [expected[5]]
        var state = model.makeState()
        let result = try model.generate(input, parameters: p, state: &state)
        let firstStop = expected.firstIndex(of: expected[5])!
        XCTAssertEqual(result.tokenIDs, Array(expected[...firstStop]))
        XCTAssertEqual(result.finishReason, .stop)
    }

    func testMaxTokensEndsWithLength() async throws {
        let (input, expected, model) = try await reference("tiny-bf16", case: 1)
        var p = greedy
        p.maxTokens = 3
        var state = model.makeState()
        let result = try model.generate(input, parameters: p, state: &state)
        XCTAssertEqual(result.tokenIDs, Array(expected.prefix(3)))
        XCTAssertEqual(result.finishReason, .length)
    }

    func testStopStringCutsTextAndStreamNeverShowsIt() async throws {
        let (input, expected, model) = try await reference("tiny-bf16", case: 2)
        let full = model.tokenizer.decode(expected, skipSpecialTokens: true)
        let characters = Array(full)
        XCTAssertGreaterThan(characters.count, 8)
        let stop = String(characters[(characters.count / 2)..<(characters.count / 2 + 3)])
        var p = greedy
        p.stopStrings = [stop]
        var state = model.makeState()
        var streamed = ""
        let result = try model.generate(input, parameters: p, state: &state) { chunk in
            streamed += chunk.text
            return true
        }
        let cut = full.range(of: stop)!.lowerBound
        XCTAssertEqual(result.text, String(full[..<cut]))
        XCTAssertEqual(streamed, result.text)
        XCTAssertEqual(result.finishReason, .stop)
        XCTAssertFalse(streamed.contains(stop))
    }

    func testAsyncStreamMatchesSynchronousResult() async throws {
        let (_, expected, model) = try await reference("tiny-bf16", case: 4)
        let messages = try Fixtures.caseMessages("text_cases.json")[4]
        var ids: [Int32] = []
        var text = ""
        for try await chunk in model.stream(messages: messages, parameters: greedy) {
            ids.append(chunk.tokenID)
            text += chunk.text
        }
        XCTAssertEqual(ids, expected)
        XCTAssertEqual(text, model.tokenizer.decode(expected, skipSpecialTokens: true))
    }

    func testMultiTurnReusesCacheAndMatchesFreshRun() async throws {
        let model = try Fixtures.model("tiny-f32")
        var turn = [ChatMessage(role: "user", text: "First question?")]
        var state = model.makeState()
        var p = greedy
        p.maxTokens = 5
        let first = try model.generate(await model.prepare(messages: turn), parameters: p, state: &state)
        turn.append(ChatMessage(role: "assistant", text: first.text))
        turn.append(ChatMessage(role: "user", text: "And a second one?"))
        let input = try await model.prepare(messages: turn)
        let reused = try model.generate(input, parameters: p, state: &state)
        XCTAssertLessThan(reused.timings.prefillTokens, input.tokenIDs.count, "only the new turn is prefilled")
        var fresh = model.makeState()
        let recomputed = try model.generate(input, parameters: p, state: &fresh)
        XCTAssertEqual(reused.tokenIDs, recomputed.tokenIDs)
        XCTAssertEqual(fresh.ropeDelta, 0)
    }

    func testPromptLongerThanContextIsRefused() async throws {
        let model = try Fixtures.model("tiny-f32")
        var input = try await model.prepare(messages: [ChatMessage(role: "user", text: "hi")])
        input.tokenIDs = Array(repeating: 872, count: 32_768)
        var state = model.makeState()
        XCTAssertThrowsError(try model.generate(input, parameters: greedy, state: &state)) { error in
            XCTAssertTrue("\(error)".contains("more than the model's context of 32768 tokens"), "\(error)")
        }
    }
}
