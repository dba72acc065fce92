import Foundation
import XCTest
import QwenVL
import QwenVLCore
import QwenVLTokenizer

/// Image conversations match HF transformers 4.57.6 + qwen-vl-utils: prompt ids, grids, pixel values, M-RoPE
/// positions, last-position logits and generated tokens.
final class ImageParityTests: XCTestCase {
    func testImageConversationsMatchTransformers() async throws {
        let images = Fixtures.root.appendingPathComponent("images")
        let caseMessages = try Fixtures.caseMessages("image_cases.json", baseDirectory: images)
        let caseObjects = try JSONValue.parse(Array(Data(contentsOf: Fixtures.reference.appendingPathComponent("image_cases.json")))).arrayValue!
        XCTAssertGreaterThanOrEqual(caseMessages.count, 6)
        for (name, tolerance) in Fixtures.checkpoints {
            let model = try Fixtures.model(name)
            let folder = Fixtures.reference.appendingPathComponent(name)
            let root = try Fixtures.json(folder.appendingPathComponent("image.json")) as! [String: Any]
            let prefix = root["logits_prefix"] as? Int
            let refs = root["cases"] as! [[String: Any]]
            XCTAssertEqual(refs.count, caseMessages.count)
            for (index, ref) in refs.enumerated() {
                let label = "\(name)/\(ref["name"] as! String)"
                let addVisionID = caseObjects[index]["add_vision_id"]?.boolValue ?? false
                let input = try await model.prepare(messages: caseMessages[index], options: PrepareOptions(addVisionID: addVisionID))
                XCTAssertEqual(input.text, ref["text"] as? String, label)
                XCTAssertEqual(input.tokenIDs, Fixtures.ints(ref["prompt_token_ids"]), label)
                let grids = (ref["image_grid_thw"] as! [[Int]]).map { VisionGrid(t: $0[0], h: $0[1], w: $0[2]) }
                XCTAssertEqual(input.imageGrids, grids, label)
                let sizes = (ref["resized_sizes"] as! [[Int]])
                XCTAssertEqual(input.imageGrids.map { [$0.h * 14, $0.w * 14] }, sizes, label)
                let shape = ref["pixel_values_shape"] as! [Int]
                XCTAssertEqual(input.imagePixels.count, shape[0] * shape[1], label)
                if let sum = ref["pixel_values_sum"] as? Double {
                    XCTAssertEqual(input.imagePixels.reduce(0.0) { $0 + Double($1) }, sum, accuracy: 1e-3, "\(label) pixel sum")
                }
                if let file = ref["pixel_values_file"] as? String {
                    let (expected, _) = try NumpyFile.read(folder.appendingPathComponent(file))
                    let worst = zip(input.imagePixels, expected).map { abs($0 - $1) }.max() ?? 0
                    XCTAssertLessThanOrEqual(worst, 1e-6, "\(label) pixel_values")
                }
                // M-RoPE positions and delta (get_rope_index).
                let (positions, delta) = try RopeIndex.compute(tokens: input.tokenIDs, imageTokenID: model.configuration.imageTokenID,
                                                               videoTokenID: model.configuration.videoTokenID, imageGrids: input.imageGrids,
                                                               videoGrids: [], mergeSize: 2)
                XCTAssertEqual(delta, ref["rope_deltas"] as? Int, label)
                if let head = ref["position_ids_head"] as? [[Int]] {
                    let k = head[0].count
                    XCTAssertEqual([Array(positions.t.prefix(k)), Array(positions.h.prefix(k)), Array(positions.w.prefix(k))], head, label)
                }
                if let tail = ref["position_ids_tail"] as? [[Int]] {
                    let k = tail[0].count
                    XCTAssertEqual([Array(positions.t.suffix(k)), Array(positions.h.suffix(k)), Array(positions.w.suffix(k))], tail, label)
                }

                var greedy = GenerationParameters()
                greedy.maxTokens = 16
                greedy.eosTokenIDs = model.generationDefaults.eosTokenIDs
                var state = model.makeState()
                let result = try model.generate(input, parameters: greedy, state: &state)
                var (expected, _) = try NumpyFile.read(folder.appendingPathComponent(ref["logits_file"] as! String))
                let std = Float(ref["logits_std"] as! Double)
                var ours = result.promptLogits
                if let prefix { ours = Array(ours.prefix(prefix)); expected = Array(expected.prefix(prefix)) }
                let error = zip(ours, expected).map { abs($0 - $1) }.max()! / std
                XCTAssertLessThanOrEqual(error, tolerance, "\(label): logits max|Δ|/std = \(error)")
                print("parity \(label): \(input.tokenIDs.count) tokens, grids \(input.imageGrids.map { "\($0.t)x\($0.h)x\($0.w)" }), logits max|Δ|/std = \(error)")
                XCTAssertEqual(result.tokenIDs, Fixtures.ints(ref["greedy_token_ids"]), "\(label) greedy")
                var penalized = greedy
                penalized.repetitionPenalty = 1.3
                state = model.makeState()
                XCTAssertEqual(try model.generate(input, parameters: penalized, state: &state).tokenIDs,
                               Fixtures.ints(ref["penalized_token_ids"]), "\(label) repetition penalty 1.3")
            }
        }
    }
}
