import Foundation
import QwenVLCore

/// Hyper-parameters of a LoRA fine-tune.
public struct TrainingOptions: Sendable, Equatable {
    public var learningRate: Double = 2e-4
    public var warmupSteps: Int = 0
    /// Optimizer steps of the whole run (the cosine decay reaches zero there).
    public var totalSteps: Int
    /// Examples per optimizer step (each one a micro-batch).
    public var gradientAccumulation: Int = 1
    /// Global-norm clipping threshold; nil disables clipping.
    public var maxGradNorm: Float? = 1.0
    public var weightDecay: Float = 0.01
    /// Recompute each layer in the backward pass instead of keeping its activations.
    public var checkpointing = true
    public var seed: UInt64 = 0

    public init(totalSteps: Int, learningRate: Double = 2e-4, warmupSteps: Int = 0, gradientAccumulation: Int = 1,
                maxGradNorm: Float? = 1.0, weightDecay: Float = 0.01, checkpointing: Bool = true, seed: UInt64 = 0) {
        self.totalSteps = totalSteps; self.learningRate = learningRate; self.warmupSteps = warmupSteps
        self.gradientAccumulation = gradientAccumulation; self.maxGradNorm = maxGradNorm; self.weightDecay = weightDecay
        self.checkpointing = checkpointing; self.seed = seed
    }

    var schedule: LearningRateSchedule { LearningRateSchedule(peak: learningRate, warmupSteps: warmupSteps, totalSteps: totalSteps) }
}

/// What one optimizer step did.
public struct TrainingStepReport: Sendable {
    /// Summed token loss over the step's examples (mean = the loss HF reports with `num_items_in_batch`).
    public var loss: TrainingLoss
    /// The rate the update used.
    public var learningRate: Double
    /// Global gradient norm before clipping.
    public var gradientNorm: Float
    /// Tokens run through the model (all positions, supervised or not).
    public var tokens: Int
    public var seconds: Double
}

/// LoRA fine-tuning of the language model with the ViT and merger frozen (the paper's stage 3): AdamW, warm-up +
/// cosine schedule, gradient accumulation, global-norm clipping, f32 adapter and optimizer state.
///
/// Each optimizer step's micro-batches (one example each) add `∂(Σ token losses)/∂θ / N` where N is the
/// supervised tokens of the whole step — HF Trainer's normalization with `num_items_in_batch`.
public struct LoRATrainer: Sendable {
    public let model: QwenVLModel
    public var weights: LoRAWeights
    public var optimizer: AdamW
    public let options: TrainingOptions
    /// Source of per-example dropout seeds (saved in checkpoints).
    public var rng: TrainingRNG
    /// Optimizer steps taken.
    public var step: Int { optimizer.step }

    public init(model: QwenVLModel, weights: LoRAWeights, options: TrainingOptions) throws {
        guard options.totalSteps > 0 else { throw QwenVLError("training needs at least one step") }
        guard options.gradientAccumulation > 0 else { throw QwenVLError("gradient accumulation must be ≥ 1") }
        guard options.learningRate >= 0, options.learningRate.isFinite else { throw QwenVLError("the learning rate must be ≥ 0") }
        guard options.warmupSteps >= 0 else { throw QwenVLError("warm-up steps must be ≥ 0") }
        if let m = options.maxGradNorm, !(m > 0) { throw QwenVLError("max grad norm must be positive") }
        guard weights.layerCount == model.languageModel.config.layerCount else {
            throw QwenVLError("the adapter has \(weights.layerCount) layers, the model \(model.languageModel.config.layerCount)")
        }
        self.model = model
        self.weights = weights
        self.options = options
        optimizer = AdamW(like: weights, weightDecay: options.weightDecay)
        rng = TrainingRNG(seed: options.seed ^ 0x5EED_D409)
    }

    /// One optimizer step over `batch` (its examples are the accumulated micro-batches).
    public mutating func step(_ batch: [SFTExample]) throws -> TrainingStepReport {
        let start = Date()
        let vocab = model.languageModel.lmHead.rows
        let items = try batch.reduce(0) { $0 + (try CrossEntropyLoss.targets(labels: $1.labels, vocabSize: vocab)).count }
        var gradients = weights.zeros
        var loss = TrainingLoss()
        for example in batch {
            loss = loss + (try LoRAGradients.accumulate(model: model, weights: weights, example: example,
                                                        scale: items > 0 ? 1 / Float(items) : 0, checkpointing: options.checkpointing,
                                                        dropoutSeed: rng.next(), into: &gradients))
        }
        let norm = GradientClipping.clip(&gradients, maxNorm: options.maxGradNorm ?? .infinity)
        let rate = options.schedule.rate(atStep: optimizer.step)
        guard norm.isFinite else { throw QwenVLError("the gradient is not finite at step \(optimizer.step + 1) (loss \(loss.mean))") }
        optimizer.update(&weights, gradients: gradients, learningRate: rate)
        return TrainingStepReport(loss: loss, learningRate: rate, gradientNorm: norm, tokens: batch.reduce(0) { $0 + $1.count },
                                  seconds: Date().timeIntervalSince(start))
    }

    /// Summed loss over `examples` with the current adapter (no dropout, no gradients).
    public func evaluate(_ examples: [SFTExample]) throws -> TrainingLoss {
        try examples.reduce(TrainingLoss()) { $0 + (try LoRAGradients.loss(model: model, weights: weights, example: $1)) }
    }
}

extension LoRAWeights {
    /// The adapter in PEFT's form (keys `model.layers.{l}.{block}.{name}`).
    public func adapter(baseModelPath: String? = nil) -> LoRAAdapter {
        var pairs: [String: LoRAAdapter.Pair] = [:]
        for (path, f) in modules {
            pairs[path] = LoRAAdapter.Pair(a: f.a, b: f.b, inFeatures: f.inFeatures, outFeatures: f.outFeatures)
        }
        return LoRAAdapter(rank: rank, alpha: alpha, dropout: dropout, targetModules: targets.map(\.rawValue), pairs: pairs,
                           baseModelPath: baseModelPath)
    }

    /// Trainable weights starting from a saved adapter.
    public init(adapter: LoRAAdapter, config: TextConfiguration) throws {
        guard !adapter.useRSLoRA else { throw QwenVLError("rsLoRA adapters cannot be trained further here (use_rslora)") }
        var factors: [String: (a: [Float], b: [Float])] = [:]
        for (key, pair) in adapter.pairs {
            guard let path = LoRAAdapter.ModulePath(key)?.key else { throw QwenVLError("adapter module '\(key)' is not a decoder linear layer") }
            factors[path] = (pair.a, pair.b)
        }
        try self.init(config: config, rank: adapter.rank, alpha: adapter.alpha, dropout: adapter.dropout, factors: factors)
    }
}
