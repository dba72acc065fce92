import Foundation
import QwenVLCore

/// A summed training loss: Σ token cross-entropies and the number of supervised tokens.
public struct TrainingLoss: Sendable, Equatable {
    public var sum: Double
    public var tokens: Int
    public init(sum: Double = 0, tokens: Int = 0) { self.sum = sum; self.tokens = tokens }
    /// Mean token loss (0 with no supervised tokens).
    public var mean: Double { tokens > 0 ? sum / Double(tokens) : 0 }
    public static func + (a: TrainingLoss, b: TrainingLoss) -> TrainingLoss { TrainingLoss(sum: a.sum + b.sum, tokens: a.tokens + b.tokens) }
}

/// Loss and LoRA gradients of one supervised example over the frozen model (the ViT and merger are run once,
/// forward only, and their features scattered into the embeddings as for a prompt).
public enum LoRAGradients {
    /// Accumulates `scale · ∂(Σ token losses)/∂(A, B)` of `example` into `gradients` and returns the summed loss.
    ///
    /// HF's Trainer with gradient accumulation divides every micro-batch's summed loss by the supervised tokens of
    /// the whole optimizer step (`num_items_in_batch`): pass `scale = 1 / that count` (for one example alone,
    /// `1 / example.supervisedCount` gives HF's mean loss). `checkpointing` keeps only each layer's input and
    /// recomputes the layer in the backward pass (same gradients, less memory).
    public static func accumulate(model: QwenVLModel, weights: LoRAWeights, example: SFTExample, scale: Float,
                                  checkpointing: Bool = true, dropoutSeed: UInt64 = 0,
                                  into gradients: inout LoRAWeights) throws -> TrainingLoss {
        try run(model: model, weights: weights, example: example, scale: scale, checkpointing: checkpointing,
                dropoutSeed: dropoutSeed, gradients: &gradients)
    }

    /// The summed loss of `example` without gradients (evaluation: LoRA dropout off).
    public static func loss(model: QwenVLModel, weights: LoRAWeights, example: SFTExample) throws -> TrainingLoss {
        var evaluation = weights
        evaluation.dropout = 0
        var unused = evaluation
        return try run(model: model, weights: evaluation, example: example, scale: 0, checkpointing: true, dropoutSeed: 0,
                       training: false, gradients: &unused)
    }

    static func run(model: QwenVLModel, weights: LoRAWeights, example: SFTExample, scale: Float, checkpointing: Bool,
                    dropoutSeed: UInt64, training: Bool = true, gradients: inout LoRAWeights) throws -> TrainingLoss {
        let lm = model.languageModel, c = lm.config, h = c.hiddenSize
        let segments = try validate(example, model: model, weights: weights)
        let targets = try CrossEntropyLoss.targets(labels: example.labels, vocabSize: lm.lmHead.rows)
        let n = example.count

        // Embeddings with the frozen ViT's features scattered in: [n, H].
        var input = ModelInput(text: "", tokenIDs: example.inputIDs)
        input.imageGrids = example.imageGrids
        input.imagePixels = example.imagePixels
        input.videoGrids = example.videoGrids
        input.videoPixels = example.videoPixels
        var embeddings = lm.embed(example.inputIDs)
        if !example.imageGrids.isEmpty || !example.videoGrids.isEmpty {
            try model.scatterVisionFeatures(input, skippingImages: 0, videos: 0, into: &embeddings, tokens: example.inputIDs)
        }
        let decoder = DecoderBackward(lm: lm, weights: weights, positions: example.positions, segments: segments, dropoutSeed: dropoutSeed)

        // Forward: keep each layer's input (checkpointing) or everything.
        var x = TrainingTensor(embeddings)
        var inputs: [TrainingTensor] = []
        var saved: [LayerActivations] = []
        for l in lm.layers.indices {
            let (out, activations) = decoder.forward(layer: l, x)
            if training { if checkpointing { inputs.append(x) } else { saved.append(activations) } }
            x = out
        }
        let final = TrainingTensor(copying: x.pointer, count: n * h)                   // [n, H]
        lm.norm.withUnsafeBufferPointer { Normalization.rmsNorm(final.pointer, rows: n, dim: h, weight: $0.baseAddress!, eps: c.rmsNormEps) }
        guard training, !targets.isEmpty else {
            return TrainingLoss(sum: CrossEntropyLoss.loss(lm: lm, hidden: final, targets: targets, scale: 0, dHidden: nil), tokens: targets.count)
        }
        let dFinal = TrainingTensor(n * h)                                             // [n, H]
        let sum = CrossEntropyLoss.loss(lm: lm, hidden: final, targets: targets, scale: scale, dHidden: dFinal)
        var d = TrainingTensor(n * h)                                                  // [n, H]
        RMSNormBackward.accumulate(x: x.pointer, weight: lm.norm, dy: dFinal.pointer, rows: n, dim: h, eps: c.rmsNormEps, into: d.pointer)
        for l in lm.layers.indices.reversed() {
            let activations = checkpointing ? decoder.forward(layer: l, inputs[l]).1 : saved[l]
            if !checkpointing { saved.removeLast() }
            d = decoder.backward(layer: l, activations, dOut: d, gradients: &gradients)
        }
        return TrainingLoss(sum: sum, tokens: targets.count)
    }

    /// Checks the example against the model and returns its attention segments.
    public static func validate(_ e: SFTExample, model: QwenVLModel, weights: LoRAWeights) throws -> [Range<Int>] {
        let n = e.count, c = model.languageModel.config
        guard n > 0 else { throw QwenVLError("training example is empty") }
        guard e.labels.count == n else { throw QwenVLError("training example has \(n) tokens but \(e.labels.count) labels") }
        guard e.positions.count == n, e.positions.h.count == n, e.positions.w.count == n else {
            throw QwenVLError("training example has \(n) tokens but \(e.positions.count) position triples")
        }
        guard weights.layerCount == c.layerCount else {
            throw QwenVLError("the adapter has \(weights.layerCount) layers, the model \(c.layerCount)")
        }
        for layer in 0..<weights.layerCount {
            for target in LoRATarget.allCases {
                guard let f = weights[layer, target] else { continue }
                let (outF, inF) = target.shape(c)
                guard f.inFeatures == inF, f.outFeatures == outF, f.a.count == weights.rank * inF, f.b.count == outF * weights.rank else {
                    throw QwenVLError("LoRA \(target.modulePath(layer: layer)) has shape [\(f.outFeatures), \(f.inFeatures)], the model [\(outF), \(inF)]")
                }
            }
        }
        if let bad = e.inputIDs.first(where: { $0 < 0 || Int($0) >= c.vocabSize }) {
            throw QwenVLError("token id \(bad) is outside the vocabulary (0..<\(c.vocabSize))")
        }
        let starts = e.sequenceStarts.map(Int.init)
        guard starts.first == 0, zip(starts, starts.dropFirst()).allSatisfy({ $0 < $1 }), starts.last! < n else {
            throw QwenVLError("sequence starts \(e.sequenceStarts) must begin at 0 and increase below \(n)")
        }
        let patchRow = model.configuration.vision.patchValues
        for (grids, pixels, kind) in [(e.imageGrids, e.imagePixels, "image"), (e.videoGrids, e.videoPixels, "video")] {
            let patches = grids.reduce(0) { $0 + $1.patchCount }
            guard pixels.count == patches * patchRow else {
                throw QwenVLError("\(kind) pixels: \(pixels.count) values for \(patches) patches of \(patchRow)")
            }
        }
        return zip(starts, starts.dropFirst() + [n]).map { $0..<$1 }
    }
}

