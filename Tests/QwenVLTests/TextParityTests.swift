import Foundation
import XCTest
import QwenVL
import QwenVLCore

/// Text conversations match HF transformers 4.57.6: template text, prompt ids, last-position logits and
/// generated tokens (greedy, with repetition penalty, and with the checkpoint's generation defaults).
final class TextParityTests: XCTestCase {
    func testTextConversationsMatchTransformers() async throws {
        let cases = try Fixtures.caseMessages("text_cases.json")
        XCTAssertGreaterThanOrEqual(cases.count, 6)
        for (name, tolerance) in Fixtures.checkpoints {
            let model = try Fixtures.model(name)
            let folder = Fixtures.reference.appendingPathComponent(name)
            let refs = (try Fixtures.json(folder.appendingPathComponent("text.json")) as! [String: Any])["cases"] as! [[String: Any]]
            XCTAssertEqual(refs.count, cases.count)
            for (messages, ref) in zip(cases, refs) {
                let label = "\(name)/\(ref["name"] as! String)"
                let input = try await model.prepare(messages: messages)
                XCTAssertEqual(input.text, ref["text"] as? String, label)
                XCTAssertEqual(input.tokenIDs, Fixtures.ints(ref["prompt_token_ids"]), label)

                var greedy = model.generationDefaults
                greedy.doSample = false
                greedy.repetitionPenalty = 1
                greedy.maxTokens = 16
                var state = model.makeState()
                let result = try model.generate(input, parameters: greedy, state: &state)
                let (expected, _) = try NumpyFile.read(folder.appendingPathComponent(ref["logits_file"] as! String))
                let error = Fixtures.relativeMaxError(result.promptLogits, expected)
                XCTAssertLessThanOrEqual(error, tolerance, "\(label): logits max|Δ|/std = \(error)")
                print("parity \(label): prompt \(input.tokenIDs.count) tokens, logits max|Δ|/std = \(error)")
                XCTAssertEqual(result.tokenIDs, Fixtures.ints(ref["greedy_token_ids"]), "\(label) greedy")

                var penalized = greedy
                penalized.repetitionPenalty = 1.3
                state = model.makeState()
                XCTAssertEqual(try model.generate(input, parameters: penalized, state: &state).tokenIDs,
                               Fixtures.ints(ref["penalized_token_ids"]), "\(label) repetition penalty 1.3")

                var defaults = model.generationDefaults
                defaults.maxTokens = 16
                defaults.seed = 1
                state = model.makeState()
                XCTAssertEqual(try model.generate(input, parameters: defaults, state: &state).tokenIDs,
                               Fixtures.ints(ref["default_token_ids"]), "\(label) generation_config defaults")
            }
        }
    }

    /// Decoding with the cache gives the same logits as re-running the whole sequence (positions continue).
    func testCachedDecodeEqualsFullRecompute() async throws {
        let model = try Fixtures.model("tiny-f32")
        let input = try await model.prepare(messages: [ChatMessage(role: "user", text: "Count: one two three")])
        var p = GenerationParameters()
        p.maxTokens = 4
        p.eosTokenIDs = []
        var state = model.makeState()
        let result = try model.generate(input, parameters: p, state: &state)
        var longer = input
        longer.tokenIDs += result.tokenIDs.dropLast()
        var fresh = model.makeState()
        p.maxTokens = 1
        let full = try model.generate(longer, parameters: p, state: &fresh)
        XCTAssertEqual(full.tokenIDs.first, result.tokenIDs.last)
    }
}
