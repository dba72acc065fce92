import Foundation
import XCTest
import QwenVL
import QwenVLCore
import QwenVLTokenizer

/// Qwen2.5-VL conversations (text, JPEG, two images, many attention windows, video at 1/2/4 fps, image + video,
/// multi-turn) match HF transformers 4.57.6 `Qwen2_5_VLForConditionalGeneration` + qwen-vl-utils on the tiny random
/// checkpoints: prompt ids, grids, absolute-time M-RoPE positions, last-position logits and 16 greedy tokens.
final class Qwen25ParityTests: XCTestCase {
    static let checkpoints: [(name: String, tolerance: Float)] = [("tiny25-f32", 1e-3), ("tiny25-bf16", 5e-3)]

    func testConfigurationReadsBothLayouts() throws {
        for (name, _) in Self.checkpoints {
            let config = try Configuration(directory: Fixtures.checkpoint(name))
            XCTAssertEqual(config.family, .qwen25VL, name)
            XCTAssertEqual(config.vision.embedDim, 32, name)
            XCTAssertEqual(config.vision.outHiddenSize, 16, name)
            XCTAssertEqual(config.vision.mlpHidden, 48, name)
            XCTAssertEqual(config.vision.cellsPerWindow, 2, name)
            XCTAssertEqual(config.vision.fullAttentionBlocks, [1], name)
            XCTAssertEqual(config.vision.tokensPerSecond, 2, name)
        }
        XCTAssertEqual(try Configuration(directory: Fixtures.checkpoint("tiny-f32")).family, .qwen2VL)
    }

    func testAbsoluteTimeStepTruncates() {
        // trunc(2 / fps) · tokens_per_second, as get_rope_index casts second_per_grid_t to int64.
        XCTAssertEqual(AbsoluteTimePositions.temporalStep(sampleFPS: 1, temporalPatchSize: 2, tokensPerSecond: 2), 4)
        XCTAssertEqual(AbsoluteTimePositions.temporalStep(sampleFPS: 2, temporalPatchSize: 2, tokensPerSecond: 2), 2)
        XCTAssertEqual(AbsoluteTimePositions.temporalStep(sampleFPS: 1.5, temporalPatchSize: 2, tokensPerSecond: 2), 2)
        XCTAssertEqual(AbsoluteTimePositions.temporalStep(sampleFPS: 3, temporalPatchSize: 2, tokensPerSecond: 2), 0)
        XCTAssertEqual(AbsoluteTimePositions.temporalStep(sampleFPS: 0.5, temporalPatchSize: 2, tokensPerSecond: 2), 8)
    }

    func testWindowPartitionMatchesGetWindowIndex() {
        // grid 1×6×10 → 3×5 merged cells, windows of 2×2 cells: 2×3 windows, ragged right column and bottom row.
        let windows = VisionWindows(grids: [VisionGrid(t: 1, h: 6, w: 10)], mergeSize: 2, cellsPerWindow: 2)
        XCTAssertEqual(Array(windows.cellOrder.prefix(9)), [0, 1, 5, 6, 2, 3, 7, 8, 4])
        XCTAssertEqual(windows.windowBoundaries, [0, 16, 32, 40, 48, 56, 60])
        XCTAssertEqual(windows.frameBoundaries, [0, 60])
        XCTAssertEqual(windows.cellOrder.sorted(), Array(0..<15))
    }

    func testQwen25ConversationsMatchTransformers() async throws {
        let videoDir = Fixtures.root.appendingPathComponent("video")
        let caseMessages = try Fixtures.caseMessages("qwen25_cases.json", baseDirectory: videoDir)
        XCTAssertGreaterThanOrEqual(caseMessages.count, 9)
        for (name, tolerance) in Self.checkpoints {
            let model = try Fixtures.model(name)
            XCTAssertEqual(model.configuration.family, .qwen25VL)
            let folder = Fixtures.reference.appendingPathComponent(name)
            let root = try Fixtures.json(folder.appendingPathComponent("qwen25.json")) as! [String: Any]
            let prefix = root["logits_prefix"] as! Int
            let refs = root["cases"] as! [[String: Any]]
            XCTAssertEqual(refs.count, caseMessages.count)
            for (index, ref) in refs.enumerated() {
                let label = "\(name)/\(ref["name"] as! String)"
                let input = try await model.prepare(messages: caseMessages[index])
                XCTAssertEqual(input.text, ref["text"] as? String, label)
                XCTAssertEqual(input.tokenIDs, Fixtures.ints(ref["prompt_token_ids"]), label)
                XCTAssertEqual(input.imageGrids.map { [$0.t, $0.h, $0.w] }, ref["image_grid_thw"] as? [[Int]], label)
                XCTAssertEqual(input.videoGrids.map { [$0.t, $0.h, $0.w] }, ref["video_grid_thw"] as? [[Int]], label)
                let fps = (ref["video_sample_fps"] as? [Double]) ?? []
                XCTAssertEqual(input.videoSampleFPS.count, fps.count, label)
                for (a, b) in zip(input.videoSampleFPS, fps) { XCTAssertEqual(a, b, accuracy: 1e-9, label) }
                let (positions, delta) = try model.ropePositions(input)
                XCTAssertEqual(delta, ref["rope_deltas"] as? Int, label)
                XCTAssertEqual([positions.t, positions.h, positions.w], ref["position_ids"] as? [[Int]], "\(label) positions")

                var greedy = GenerationParameters()
                greedy.maxTokens = 16
                greedy.eosTokenIDs = model.generationDefaults.eosTokenIDs
                var state = model.makeState()
                let result = try model.generate(input, parameters: greedy, state: &state)
                let (expected, _) = try NumpyFile.read(folder.appendingPathComponent(ref["logits_file"] as! String))
                let std = Float(ref["logits_std"] as! Double)
                let ours = Array(result.promptLogits.prefix(prefix))
                XCTAssertEqual(ours.count, expected.count, label)
                let error = zip(ours, expected).map { abs($0 - $1) }.max()! / std
                XCTAssertLessThanOrEqual(error, tolerance, "\(label): logits max|Δ|/std = \(error)")
                print("parity \(label): \(input.tokenIDs.count) tokens, logits max|Δ|/std = \(error)")
                XCTAssertEqual(result.tokenIDs, Fixtures.ints(ref["greedy_token_ids"]), "\(label) greedy")
            }
        }
    }

    /// q8 / q4 language weights on Qwen2.5-VL (tiny25-bf16, every case incl. images and video): logit drift against
    /// the HF reference stays within the bounds measured for the tiny Qwen2-VL checkpoint (q8 0.09, q4 1.1 × std).
    func testQuantizedFormatsRunAllCases() async throws {
        let videoDir = Fixtures.root.appendingPathComponent("video")
        let caseMessages = try Fixtures.caseMessages("qwen25_cases.json", baseDirectory: videoDir)
        let folder = Fixtures.reference.appendingPathComponent("tiny25-bf16")
        let root = try Fixtures.json(folder.appendingPathComponent("qwen25.json")) as! [String: Any]
        let prefix = root["logits_prefix"] as! Int
        let refs = root["cases"] as! [[String: Any]]
        for (format, bound) in [(WeightFormat.q8, Float(0.09)), (.q4, 1.1)] {
            let model = try QwenVLModel.load(from: Fixtures.checkpoint("tiny25-bf16"), options: LoadOptions(languageWeights: format))
            var worst: Float = 0
            for (messages, ref) in zip(caseMessages, refs) {
                let input = try await model.prepare(messages: messages)
                var greedy = GenerationParameters()
                greedy.maxTokens = 2
                var state = model.makeState()
                let result = try model.generate(input, parameters: greedy, state: &state)
                let (expected, _) = try NumpyFile.read(folder.appendingPathComponent(ref["logits_file"] as! String))
                let std = Float(ref["logits_std"] as! Double)
                let drift = zip(result.promptLogits.prefix(prefix), expected).map { abs($0 - $1) }.max()! / std
                worst = max(worst, drift)
                XCTAssertLessThanOrEqual(drift, bound, "\(format) \(ref["name"] as! String)")
            }
            XCTAssertGreaterThan(worst, 0, "\(format) changes the weights")
            print("drift qwen25 \(format): worst max|Δ|/std \(worst)")
        }
    }
}
