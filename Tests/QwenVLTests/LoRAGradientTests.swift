import Foundation
import XCTest
@testable import QwenVL
import QwenVLCore

/// LoRA gradients and optimizer steps against PyTorch + PEFT (`scripts/fixtures/lora_references.py`).
final class LoRAGradientTests: XCTestCase {
    static let directory = Fixtures.root.appendingPathComponent("lora")

    /// Every F32 tensor of a safetensors file by name.
    static func tensors(_ file: String) throws -> [String: [Float]] {
        let f = try SafeTensorsFile(url: directory.appendingPathComponent(file))
        var out: [String: [Float]] = [:]
        for (name, info) in f.tensors {
            out[name] = [Float](unsafeUninitializedCapacity: info.elementCount) { buffer, count in
                convertToFloat(info.dtype, f.pointer(for: info), buffer.baseAddress!, count: info.elementCount)
                count = info.elementCount
            }
        }
        return out
    }

    static func examples() throws -> [SFTExample] {
        try SFTShard.read(directory.appendingPathComponent("examples.safetensors"))
    }

    /// The reference's initial adapter (r 4, alpha 8, all 7 targets).
    static func initialWeights(_ model: QwenVLModel, file: String = "initial_adapter.safetensors") throws -> LoRAWeights {
        let t = try tensors(file)
        var factors: [String: (a: [Float], b: [Float])] = [:]
        for name in t.keys where name.hasSuffix(".lora_A") {
            let path = String(name.dropLast(".lora_A".count))
            factors[path] = (t[name]!, t[path + ".lora_B"]!)
        }
        return try LoRAWeights(config: model.languageModel.config, rank: 4, alpha: 8, dropout: 0, factors: factors)
    }

    /// max |a − b| / max |b|.
    static func relativeError(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count)
        let scale = b.reduce(0) { max($0, abs($1)) }
        return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) } / scale
    }

    func checkGradients(_ checkpoint: String, checkpointing: Bool) throws {
        let model = try Fixtures.model(checkpoint)
        let example = try Self.examples()[0]
        XCTAssertFalse(example.imageGrids.isEmpty)
        // The positions in the shard are HF's get_rope_index; ours agree.
        let (positions, _) = try RopeIndex.compute(tokens: example.inputIDs, imageTokenID: Int32(model.configuration.imageTokenID),
                                                   videoTokenID: Int32(model.configuration.videoTokenID), imageGrids: example.imageGrids,
                                                   videoGrids: [], mergeSize: 2)
        XCTAssertEqual(positions, example.positions)
        let weights = try Self.initialWeights(model)
        XCTAssertEqual(weights.modules.count, 2 * 7)
        var gradients = weights.zeros
        let loss = try LoRAGradients.accumulate(model: model, weights: weights, example: example,
                                                scale: 1 / Float(example.supervisedCount - (example.labels[0] == -100 ? 0 : 1)),
                                                checkpointing: checkpointing, into: &gradients)
        let reference = try Self.tensors("\(checkpoint).gradients.safetensors")
        let referenceLoss = reference["loss"]![0]
        XCTAssertEqual(Float(loss.mean), referenceLoss, accuracy: 1e-5 * referenceLoss, "\(checkpoint) loss")
        var worst: (String, Float) = ("", 0)
        for (path, g) in gradients.modules {
            for (which, values) in [("lora_A", g.a), ("lora_B", g.b)] {
                let expected = try XCTUnwrap(reference["\(path).\(which)"], "\(path).\(which) missing")
                let error = Self.relativeError(values, expected)
                XCTAssertLessThan(error, 1e-4, "\(checkpoint) \(path).\(which)")
                if error > worst.1 { worst = ("\(path).\(which)", error) }
            }
        }
        print("\(checkpoint) checkpointing \(checkpointing): loss \(loss.mean) vs \(referenceLoss) (rel \(abs(Float(loss.mean) - referenceLoss) / referenceLoss)); worst gradient \(worst.0) rel \(worst.1)")
    }

    func testGradientsF32Checkpointed() throws { try checkGradients("tiny-f32", checkpointing: true) }
    func testGradientsF32KeepingActivations() throws { try checkGradients("tiny-f32", checkpointing: false) }
    func testGradientsBF16Checkpointed() throws { try checkGradients("tiny-bf16", checkpointing: true) }

    /// Checkpointing recomputes each layer: the gradients are bit-identical to keeping every activation.
    func testCheckpointingGivesIdenticalGradients() throws {
        let model = try Fixtures.model("tiny-f32")
        let example = try Self.examples()[0]
        var weights = try Self.initialWeights(model)
        weights.dropout = 0.1   // masks are regenerated on recompute
        var a = weights.zeros, b = weights.zeros
        let la = try LoRAGradients.accumulate(model: model, weights: weights, example: example, scale: 0.1, checkpointing: true, dropoutSeed: 9, into: &a)
        let lb = try LoRAGradients.accumulate(model: model, weights: weights, example: example, scale: 0.1, checkpointing: false, dropoutSeed: 9, into: &b)
        XCTAssertEqual(la, lb)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, weights.zeros)
    }

    /// A packed run (an image example then a text one, `sequenceStarts` [0, n₁], positions restarting) gives the sum
    /// of the two examples' losses and gradients: attention never crosses the boundary.
    func testPackedExamplesMatchSeparateOnes() throws {
        let model = try Fixtures.model("tiny-f32")
        let all = try Self.examples()
        let (a, b) = (all[2], all[3])
        let packed = SFTExample(inputIDs: a.inputIDs + b.inputIDs, labels: a.labels + b.labels,
                                positions: PositionIDs(t: a.positions.t + b.positions.t, h: a.positions.h + b.positions.h,
                                                       w: a.positions.w + b.positions.w),
                                sequenceStarts: [0, Int32(a.count)], imageGrids: a.imageGrids, imagePixels: a.imagePixels)
        let weights = try Self.initialWeights(model)
        var separate = weights.zeros, together = weights.zeros
        let la = try LoRAGradients.accumulate(model: model, weights: weights, example: a, scale: 0.05, into: &separate)
        let lb = try LoRAGradients.accumulate(model: model, weights: weights, example: b, scale: 0.05, into: &separate)
        let lp = try LoRAGradients.accumulate(model: model, weights: weights, example: packed, scale: 0.05, into: &together)
        XCTAssertEqual(lp.tokens, la.tokens + lb.tokens)
        XCTAssertEqual(lp.sum, la.sum + lb.sum, accuracy: 1e-5 * lp.sum)
        for ((path, g), (_, h)) in zip(together.modules, separate.modules) {
            XCTAssertLessThan(Self.relativeError(g.a, h.a), 1e-5, path)
            XCTAssertLessThan(Self.relativeError(g.b, h.b), 1e-5, path)
        }
        // Without the boundary the second example would see the first: the loss differs.
        var unbounded = packed
        unbounded.sequenceStarts = [0]
        var ignored = weights.zeros
        let lu = try LoRAGradients.accumulate(model: model, weights: weights, example: unbounded, scale: 0.05, into: &ignored)
        XCTAssertGreaterThan(abs(lu.sum - lp.sum), 1e-3)
    }
}
