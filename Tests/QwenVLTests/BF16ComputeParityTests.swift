import Foundation
import XCTest
import QwenVL
import QwenVLCore
import QwenVLTokenizer

/// With every product on the bf16 path (``BF16GEMM/Mode/always``: prefill and vision activations rounded to bf16,
/// f32 accumulation), the bf16 fixture still tracks HF's float32 reference: logits within the stated bound and the
/// greedy tokens of most cases identical. (Real checkpoints take this path by the size rule on CPUs with bf16 dot
/// products; the tiny fixtures' 16/32-wide layers would not, so it is forced here.)
final class BF16ComputeParityTests: XCTestCase {
    /// max|Δ|/std of the last-position logits allowed with bf16 activations (f32 compute: 5e-3 for this fixture).
    static let tolerance: Float = 3e-2

    func testTextAndImagesWithBF16Products() async throws {
        guard BF16GEMM.isSupported else { throw XCTSkip("no bf16 dot products on this CPU (oneDNN ISA \(BF16GEMM.libraryISA))") }
        let saved = BF16GEMM.mode
        BF16GEMM.mode = .always
        defer { BF16GEMM.mode = saved }
        let name = "tiny-bf16"
        let model = try Fixtures.model(name)
        let folder = Fixtures.reference.appendingPathComponent(name)
        let images = Fixtures.root.appendingPathComponent("images")
        var runs: [(label: String, messages: [ChatMessage], ref: [String: Any], addVisionID: Bool)] = []
        let textRefs = (try Fixtures.json(folder.appendingPathComponent("text.json")) as! [String: Any])["cases"] as! [[String: Any]]
        for (messages, ref) in zip(try Fixtures.caseMessages("text_cases.json"), textRefs) {
            runs.append(("text/\(ref["name"] as! String)", messages, ref, false))
        }
        let imageRoot = try Fixtures.json(folder.appendingPathComponent("image.json")) as! [String: Any]
        let imageObjects = try JSONValue.parse(Array(Data(contentsOf: Fixtures.reference.appendingPathComponent("image_cases.json")))).arrayValue!
        for (index, (messages, ref)) in zip(try Fixtures.caseMessages("image_cases.json", baseDirectory: images),
                                            imageRoot["cases"] as! [[String: Any]]).enumerated() {
            runs.append(("image/\(ref["name"] as! String)", messages, ref, imageObjects[index]["add_vision_id"]?.boolValue ?? false))
        }
        let prefix = imageRoot["logits_prefix"] as? Int
        var sameGreedy = 0, worst: Float = 0
        for run in runs {
            let input = try await model.prepare(messages: run.messages, options: PrepareOptions(addVisionID: run.addVisionID))
            XCTAssertEqual(input.tokenIDs, Fixtures.ints(run.ref["prompt_token_ids"]), run.label)
            var greedy = GenerationParameters()
            greedy.maxTokens = 16
            greedy.eosTokenIDs = model.generationDefaults.eosTokenIDs
            var state = model.makeState()
            let result = try model.generate(input, parameters: greedy, state: &state)
            var (expected, _) = try NumpyFile.read(folder.appendingPathComponent(run.ref["logits_file"] as! String))
            var ours = result.promptLogits
            if run.label.hasPrefix("image/"), let prefix { ours = Array(ours.prefix(prefix)); expected = Array(expected.prefix(prefix)) }
            let error = Fixtures.relativeMaxError(ours, expected)
            worst = max(worst, error)
            XCTAssertLessThanOrEqual(error, Self.tolerance, "\(run.label): logits max|Δ|/std = \(error)")
            if result.tokenIDs == Fixtures.ints(run.ref["greedy_token_ids"]) { sameGreedy += 1 }
            print("bf16 products \(run.label): \(input.tokenIDs.count) tokens, logits max|Δ|/std = \(error)")
        }
        print("bf16 products: \(sameGreedy) of \(runs.count) greedy sequences identical, worst logits max|Δ|/std = \(worst)")
        // Rounded activations may flip a near-tie on random weights, but not most of them.
        XCTAssertGreaterThanOrEqual(sameGreedy * 4, runs.count * 3, "greedy sequences identical: \(sameGreedy) of \(runs.count)")
    }
}
