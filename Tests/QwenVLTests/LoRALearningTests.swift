import Foundation
import XCTest
@testable import QwenVL
import QwenVLCore

/// LoRA on tiny-f32 memorizes the 4 fixture examples; the saved adapter, merged at load through
/// `LoadOptions.adapter`, then makes greedy generation reproduce each example's first answer exactly.
final class LoRALearningTests: XCTestCase {
    /// Mean token loss the run must reach (from ≈ 20 at the start).
    static let lossThreshold = 0.05

    func testMemorizesFourExamples() throws {
        let model = try Fixtures.model("tiny-f32")
        let examples = try LoRAGradientTests.examples()
        let weights = try LoRAWeights(config: model.languageModel.config, rank: 8, alpha: 16, dropout: 0,
                                      targets: LoRATarget.allCases, seed: 3)
        let steps = Self.steps
        var trainer = try LoRATrainer(model: model, weights: weights, options: TrainingOptions(
            totalSteps: steps, learningRate: Self.learningRate, warmupSteps: 5, gradientAccumulation: 4, maxGradNorm: 1.0, weightDecay: 0))
        var last = TrainingLoss()
        let start = try trainer.evaluate(examples).mean
        for s in 0..<steps {
            last = try trainer.step(examples).loss
            if s % 25 == 0 { print("step \(s + 1): loss \(last.mean)") }
        }
        let final = try trainer.evaluate(examples)
        print("loss \(start) → \(final.mean) after \(steps) steps")
        XCTAssertLessThan(final.mean, Self.lossThreshold)

        // Save in PEFT format, load merged into the weights, generate greedily.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lora-learn-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try trainer.weights.adapter().save(to: folder)
        let adapted = try QwenVLModel.load(from: Fixtures.checkpoint("tiny-f32"),
                                           options: LoadOptions(adapter: try LoRAAdapter.load(from: folder)))
        var parameters = GenerationParameters()
        parameters.maxTokens = 40
        for (i, example) in examples.enumerated() {
            let first = example.labels.firstIndex { $0 != SFTExample.ignoredLabel }!
            var end = first
            while end < example.count, example.labels[end] != SFTExample.ignoredLabel { end += 1 }
            var input = ModelInput(text: "", tokenIDs: Array(example.inputIDs[..<first]))
            input.imageGrids = example.imageGrids
            input.imagePixels = example.imagePixels
            var state = adapted.makeState()
            let result = try adapted.generate(input, parameters: parameters, state: &state)
            XCTAssertEqual(result.tokenIDs, Array(example.inputIDs[first..<end]), "example \(i)")
        }
    }

    static let steps = 150
    static let learningRate = 2e-2
}
