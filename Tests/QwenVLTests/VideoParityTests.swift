import Foundation
import XCTest
import QwenVL
import QwenVLCore
import QwenVLTokenizer

/// Video conversations match qwen-vl-utils 0.0.14 + HF transformers 4.57.6: sampled frames, grids, pixel values,
/// prompt ids, M-RoPE positions (the 4.x rule after a video), last-position logits and greedy tokens.
final class VideoParityTests: XCTestCase {
    func testVideoConversationsMatchTransformers() async throws {
        let videoDir = Fixtures.root.appendingPathComponent("video")
        let caseMessages = try Fixtures.caseMessages("video_cases.json", baseDirectory: videoDir)
        XCTAssertGreaterThanOrEqual(caseMessages.count, 5)
        for (name, tolerance) in Fixtures.checkpoints {
            let model = try Fixtures.model(name)
            let folder = Fixtures.reference.appendingPathComponent(name)
            let root = try Fixtures.json(folder.appendingPathComponent("video.json")) as! [String: Any]
            let refs = root["cases"] as! [[String: Any]]
            XCTAssertEqual(refs.count, caseMessages.count)
            for (index, ref) in refs.enumerated() {
                let caseName = ref["name"] as! String
                let label = "\(name)/\(caseName)"
                // Lossy codecs may decode with small differences between FFmpeg front ends (spec §4.1).
                let lossy = caseName.contains("h264")
                let input = try await model.prepare(messages: caseMessages[index])
                XCTAssertEqual(input.text, ref["text"] as? String, label)
                XCTAssertEqual(input.tokenIDs, Fixtures.ints(ref["prompt_token_ids"]), label)
                XCTAssertEqual(input.videoGrids.map { [$0.t, $0.h, $0.w] }, ref["video_grid_thw"] as? [[Int]], label)
                XCTAssertEqual(input.imageGrids.map { [$0.t, $0.h, $0.w] }, ref["image_grid_thw"] as? [[Int]] ?? [], label)
                if let sum = ref["pixel_values_videos_sum"] as? Double, let absSum = ref["pixel_values_videos_abs_sum"] as? Double {
                    let ours = input.videoPixels.reduce(0.0) { $0 + Double($1) }
                    let oursAbs = input.videoPixels.reduce(0.0) { $0 + Double(abs($1)) }
                    let slack = lossy ? 0.02 * absSum : 1e-3
                    XCTAssertEqual(ours, sum, accuracy: slack, "\(label) pixel sum")
                    XCTAssertEqual(oursAbs, absSum, accuracy: slack, "\(label) pixel |sum|")
                }
                let (positions, delta) = try RopeIndex.compute(
                    tokens: input.tokenIDs, imageTokenID: model.configuration.imageTokenID, videoTokenID: model.configuration.videoTokenID,
                    imageGrids: input.imageGrids, videoGrids: input.videoGrids, mergeSize: 2)
                XCTAssertEqual(delta, ref["rope_deltas"] as? Int, label)
                if let tail = ref["position_ids_tail"] as? [[Int]] {
                    let k = tail[0].count
                    XCTAssertEqual([Array(positions.t.suffix(k)), Array(positions.h.suffix(k)), Array(positions.w.suffix(k))], tail, label)
                }
                var greedy = GenerationParameters()
                greedy.maxTokens = 16
                greedy.eosTokenIDs = model.generationDefaults.eosTokenIDs
                var state = model.makeState()
                let result = try model.generate(input, parameters: greedy, state: &state)
                let (expected, _) = try NumpyFile.read(folder.appendingPathComponent(ref["logits_file"] as! String))
                let std = Float(ref["logits_std"] as! Double)
                let error = zip(result.promptLogits, expected).map { abs($0 - $1) }.max()! / std
                XCTAssertLessThanOrEqual(error, lossy ? 5e-2 : tolerance, "\(label): logits max|Δ|/std = \(error)")
                print("parity \(label): \(input.tokenIDs.count) tokens, video grids \(input.videoGrids.map { "\($0.t)x\($0.h)x\($0.w)" }), logits max|Δ|/std = \(error)")
                if !lossy {
                    XCTAssertEqual(result.tokenIDs, Fixtures.ints(ref["greedy_token_ids"]), "\(label) greedy")
                }
            }
        }
    }
}
