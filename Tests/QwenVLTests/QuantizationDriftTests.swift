import Foundation
import XCTest
import QwenVL
import QwenVLCore

/// Logit drift of the quantized language-model formats against the HF reference (tiny-bf16, all text cases).
///
/// The tiny checkpoint has hidden size 16 and random weights, so each row is one mostly padded block and the
/// logits are nearly flat: its drift is a pessimistic sample of what q8/q4 do, not a prediction for real
/// models. Bounds are the measured worst case (q8 0.063, q4 0.77 max|Δ|/std) with ≈ 1.5× margin; the greedy
/// count is reported, not asserted, because near-ties in flat logits flip under any drift.
final class QuantizationDriftTests: XCTestCase {
    static let bounds: [(WeightFormat, Float)] = [(.q8, 0.09), (.q4, 1.1)]

    func testQuantizedLogitsStayWithinMeasuredDrift() async throws {
        let cases = try Fixtures.caseMessages("text_cases.json")
        let folder = Fixtures.reference.appendingPathComponent("tiny-bf16")
        let refs = (try Fixtures.json(folder.appendingPathComponent("text.json")) as! [String: Any])["cases"] as! [[String: Any]]
        XCTAssertEqual(refs.count, cases.count)
        for (format, bound) in Self.bounds {
            let model = try QwenVLModel.load(from: Fixtures.checkpoint("tiny-bf16"), options: LoadOptions(languageWeights: format))
            var worst: Float = 0, agreeing = 0, total = 0
            for (messages, ref) in zip(cases, refs) {
                let input = try await model.prepare(messages: messages)
                var greedy = model.generationDefaults
                greedy.doSample = false
                greedy.repetitionPenalty = 1
                greedy.maxTokens = 4
                var state = model.makeState()
                let result = try model.generate(input, parameters: greedy, state: &state)
                let (expected, _) = try NumpyFile.read(folder.appendingPathComponent(ref["logits_file"] as! String))
                let drift = Fixtures.relativeMaxError(result.promptLogits, expected)
                worst = max(worst, drift)
                XCTAssertLessThanOrEqual(drift, bound, "\(format) \(ref["name"] as! String): max|Δ|/std")
                // Greedy agreement: generated tokens equal to HF's before the first difference.
                let reference = Array(Fixtures.ints(ref["greedy_token_ids"]).prefix(greedy.maxTokens))
                agreeing += zip(result.tokenIDs, reference).prefix { $0 == $1 }.count
                total += reference.count
            }
            XCTAssertGreaterThan(worst, 0, "\(format) changes the weights")
            print("drift \(format): worst max|Δ|/std \(worst), greedy prefix agreement \(agreeing)/\(total) tokens")
        }
    }
}
