import Foundation
import XCTest
import QwenVL
import QwenVLCore

/// Every kernel set this CPU runs decodes the tiny checkpoints to HF transformers 4.57.6's greedy tokens (decode
/// steps are matrix-vector products, so each set's bf16/f32 kernels produce these tokens).
final class KernelSetParityTests: XCTestCase {
    func testGreedyDecodeMatchesTransformersOnEverySet() async throws {
        let messages = try Fixtures.caseMessages("text_cases.json")[0]
        let original = KernelSet.active.isa
        defer { try? KernelSet.activate(original) }
        for set in KernelSet.supported() {
            try KernelSet.activate(set.isa)
            for (name, tolerance) in Fixtures.checkpoints {
                let model = try Fixtures.model(name)
                let folder = Fixtures.reference.appendingPathComponent(name)
                let ref = ((try Fixtures.json(folder.appendingPathComponent("text.json")) as! [String: Any])["cases"] as! [[String: Any]])[0]
                let input = try await model.prepare(messages: messages)
                var greedy = model.generationDefaults
                greedy.doSample = false
                greedy.repetitionPenalty = 1
                greedy.maxTokens = 16
                var state = model.makeState()
                let result = try model.generate(input, parameters: greedy, state: &state)
                let (expected, _) = try NumpyFile.read(folder.appendingPathComponent(ref["logits_file"] as! String))
                XCTAssertLessThanOrEqual(Fixtures.relativeMaxError(result.promptLogits, expected), tolerance, "\(set) \(name) logits")
                XCTAssertEqual(result.tokenIDs, Fixtures.ints(ref["greedy_token_ids"]), "\(set) \(name) greedy tokens")
            }
        }
    }
}
