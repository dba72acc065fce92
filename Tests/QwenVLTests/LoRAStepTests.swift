import Foundation
import XCTest
@testable import QwenVL
import QwenVLCore

/// 20 AdamW steps against PyTorch (steps.json from `scripts/fixtures/lora_references.py`).
final class LoRAStepTests: XCTestCase {
    func testTwentyStepsTrackPyTorch() throws {
        let model = try Fixtures.model("tiny-f32")
        let examples = try LoRAGradientTests.examples()
        let document = try Fixtures.json(LoRAGradientTests.directory.appendingPathComponent("steps.json")) as! [String: Any]
        let records = document["records"] as! [[String: Any]]
        XCTAssertEqual(records.count, 20)
        let weights = try LoRAGradientTests.initialWeights(model)
        var trainer = try LoRATrainer(model: model, weights: weights, options: TrainingOptions(
            totalSteps: 20, learningRate: 1e-3, warmupSteps: 2, gradientAccumulation: 2, maxGradNorm: 1.0, weightDecay: 0.01))
        var worst: Float = 0
        for record in records {
            let batch = (record["examples"] as! [Int]).map { examples[$0] }
            let report = try trainer.step(batch)
            let loss = Float((record["loss"] as! NSNumber).doubleValue)
            let error = abs(Float(report.loss.mean) - loss) / loss
            worst = max(worst, error)
            XCTAssertLessThan(error, 1e-3, "step \(record["step"]!): loss \(report.loss.mean) vs \(loss)")
            XCTAssertEqual(report.learningRate, (record["lr"] as! NSNumber).doubleValue, accuracy: 1e-12)
            XCTAssertEqual(report.gradientNorm, Float((record["grad_norm"] as! NSNumber).doubleValue), accuracy: 1e-4 * report.gradientNorm)
            XCTAssertEqual(report.loss.tokens, record["supervised_tokens"] as! Int)
        }
        // The adapter after 20 steps matches PyTorch's.
        let final = try LoRAGradientTests.tensors("final_adapter.safetensors")
        var worstWeight: Float = 0
        for (path, f) in trainer.weights.modules {
            worstWeight = max(worstWeight, LoRAGradientTests.relativeError(f.a, final[path + ".lora_A"]!),
                              LoRAGradientTests.relativeError(f.b, final[path + ".lora_B"]!))
        }
        XCTAssertLessThan(worstWeight, 1e-3)
        print("20 steps: worst loss error \(worst), worst final weight error \(worstWeight)")
    }

    /// A checkpoint written mid-run and resumed gives the same steps as the uninterrupted run.
    func testCheckpointResumesExactly() throws {
        let model = try Fixtures.model("tiny-f32")
        let examples = try LoRAGradientTests.examples()
        var weights = try LoRAGradientTests.initialWeights(model)
        weights.dropout = 0.1
        let options = TrainingOptions(totalSteps: 6, learningRate: 1e-3, warmupSteps: 1, gradientAccumulation: 2)
        var straight = try LoRATrainer(model: model, weights: weights, options: options)
        for s in 0..<6 { _ = try straight.step([examples[(2 * s) % 4], examples[(2 * s + 1) % 4]]) }
        var first = try LoRATrainer(model: model, weights: weights, options: options)
        for s in 0..<3 { _ = try first.step([examples[(2 * s) % 4], examples[(2 * s + 1) % 4]]) }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lora-ckpt-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try TrainingCheckpoint.save(first, to: folder)
        var resumed = try TrainingCheckpoint.load(from: folder, model: model, options: options)
        XCTAssertEqual(resumed.step, 3)
        for s in 3..<6 { _ = try resumed.step([examples[(2 * s) % 4], examples[(2 * s + 1) % 4]]) }
        XCTAssertEqual(resumed.weights, straight.weights)
        XCTAssertEqual(resumed.optimizer, straight.optimizer)
    }

    func testSchedule() {
        // transformers get_cosine_schedule_with_warmup(num_warmup_steps=2, num_training_steps=20), lr 1e-3.
        let s = LearningRateSchedule(peak: 1e-3, warmupSteps: 2, totalSteps: 20)
        XCTAssertEqual(s.rate(atStep: 0), 0)
        XCTAssertEqual(s.rate(atStep: 1), 5e-4, accuracy: 1e-15)
        XCTAssertEqual(s.rate(atStep: 2), 1e-3, accuracy: 1e-15)
        XCTAssertEqual(s.rate(atStep: 11), 5e-4, accuracy: 1e-15)
        XCTAssertEqual(s.rate(atStep: 20), 0, accuracy: 1e-15)
    }

    func testBadInputIsRejected() throws {
        let model = try Fixtures.model("tiny-f32")
        let config = model.languageModel.config
        XCTAssertThrowsError(try LoRAWeights(config: config, rank: 0, alpha: 8, dropout: 0, targets: [.q], seed: 0))
        XCTAssertThrowsError(try LoRATarget.parse("q_proj,qkv"))
        let weights = try LoRAWeights(config: config, rank: 2, alpha: 4, dropout: 0, targets: [.q, .v], seed: 1)
        var example = try LoRAGradientTests.examples()[1]
        example.labels.removeLast()
        var g = weights.zeros
        XCTAssertThrowsError(try LoRAGradients.accumulate(model: model, weights: weights, example: example, scale: 1, into: &g)) {
            XCTAssertTrue("\($0)".contains("labels"), "\($0)")
        }
    }
}
