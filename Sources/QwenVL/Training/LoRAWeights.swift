import Foundation

/// The trainable state of a LoRA fine-tune: rank, alpha, dropout, targets and the factors of every adapted layer
/// (float32). Gradients and optimizer moments use the same type.
public struct LoRAWeights: Sendable, Equatable {
    public let rank: Int
    public let alpha: Float
    /// LoRA dropout probability on each adapted layer's input (training only).
    public var dropout: Float
    public let targets: [LoRATarget]
    public let layerCount: Int
    /// Per slot `layer · 7 + target.index`: the factors, nil for layers not adapted. [layerCount · 7]
    public var slots: [LoRAFactors?]

    /// `alpha / rank` (PEFT's `scaling`).
    public var scaling: Float { alpha / Float(rank) }

    /// PEFT's initialization: A kaiming-uniform with a = √5 (uniform in ±1/√in) from a seeded generator, B = 0.
    public init(config: TextConfiguration, rank: Int, alpha: Float, dropout: Float, targets: [LoRATarget], seed: UInt64) throws {
        guard rank > 0 else { throw QwenVLError("LoRA rank must be positive (got \(rank))") }
        guard alpha > 0, alpha.isFinite else { throw QwenVLError("LoRA alpha must be positive (got \(alpha))") }
        guard dropout >= 0, dropout < 1 else { throw QwenVLError("LoRA dropout must be in [0, 1) (got \(dropout))") }
        guard !targets.isEmpty else { throw QwenVLError("no LoRA targets given") }
        self.rank = rank
        self.alpha = alpha
        self.dropout = dropout
        self.targets = targets
        layerCount = config.layerCount
        var generator = TrainingRNG(seed: seed)
        var slots = [LoRAFactors?](repeating: nil, count: config.layerCount * LoRATarget.allCases.count)
        for layer in 0..<config.layerCount {
            for target in targets {
                let (outF, inF) = target.shape(config)
                let bound = 1 / Float(inF).squareRoot()
                let a = (0..<(rank * inF)).map { _ in (generator.nextUniform() * 2 - 1) * bound }
                slots[layer * LoRATarget.allCases.count + target.index] =
                    LoRAFactors(a: a, b: [Float](repeating: 0, count: outF * rank), inFeatures: inF, outFeatures: outF)
            }
        }
        self.slots = slots
    }

    /// Factors given by module path (`model.layers.{l}.self_attn.q_proj`, as ``LoRATarget/modulePath(layer:)``).
    public init(config: TextConfiguration, rank: Int, alpha: Float, dropout: Float,
                factors: [String: (a: [Float], b: [Float])]) throws {
        try self.init(config: config, rank: rank, alpha: alpha, dropout: dropout, targets: LoRAWeights.targets(in: factors.keys), seed: 0)
        for (path, pair) in factors {
            guard let (layer, target) = LoRAWeights.parse(path), layer < layerCount else {
                throw QwenVLError("LoRA module '\(path)' is not a layer of this model")
            }
            let (outF, inF) = target.shape(config)
            guard pair.a.count == rank * inF, pair.b.count == outF * rank else {
                throw QwenVLError("LoRA module '\(path)': A has \(pair.a.count) values, B \(pair.b.count); expected [\(rank), \(inF)] and [\(outF), \(rank)]")
            }
            slots[layer * LoRATarget.allCases.count + target.index] = LoRAFactors(a: pair.a, b: pair.b, inFeatures: inF, outFeatures: outF)
        }
        // Layers missing from `factors` are not adapted.
        for layer in 0..<layerCount {
            for target in targets where factors[target.modulePath(layer: layer)] == nil {
                slots[layer * LoRATarget.allCases.count + target.index] = nil
            }
        }
    }

    static func targets(in paths: some Sequence<String>) -> [LoRATarget] {
        let found = Set(paths.compactMap { parse($0)?.1 })
        return LoRATarget.allCases.filter { found.contains($0) }
    }

    /// (layer, target) of a module path, or nil.
    public static func parse(_ path: String) -> (Int, LoRATarget)? {
        var parts = path.split(separator: ".").map(String.init)
        if parts.count >= 2, parts[0] == "model", parts[1] == "language_model" { parts.remove(at: 1) }
        guard parts.count == 5, parts[0] == "model", parts[1] == "layers", let layer = Int(parts[2]),
              let target = LoRATarget(rawValue: parts[4]),
              parts[3] == (target.index < 4 ? "self_attn" : "mlp") else { return nil }
        return (layer, target)
    }

    /// The factors of `target` in `layer`, if adapted.
    public subscript(layer: Int, target: LoRATarget) -> LoRAFactors? {
        get { slots[layer * LoRATarget.allCases.count + target.index] }
        set { slots[layer * LoRATarget.allCases.count + target.index] = newValue }
    }

    /// Every adapted layer by module path.
    public var modules: [(path: String, factors: LoRAFactors)] {
        var out: [(String, LoRAFactors)] = []
        for layer in 0..<layerCount {
            for target in LoRATarget.allCases {
                if let f = self[layer, target] { out.append((target.modulePath(layer: layer), f)) }
            }
        }
        return out
    }

    /// The same structure with every value zero (gradients, optimizer moments).
    public var zeros: LoRAWeights {
        var copy = self
        copy.slots = slots.map { $0?.zeros }
        return copy
    }

    /// Trainable values.
    public var parameterCount: Int { slots.reduce(0) { $0 + ($1.map { $0.a.count + $0.b.count } ?? 0) } }
}

/// A small seeded generator for LoRA initialization and data order (xoshiro256**); its state is saved in
/// checkpoints so a resumed run continues the same sequence.
public struct TrainingRNG: Sendable, Equatable, Codable {
    public var state: [UInt64]

    public init(seed: UInt64) {
        var s = seed
        state = (0..<4).map { _ in s = DropoutMask.mix(s); return s }
    }

    public mutating func next() -> UInt64 {
        let result = ((state[1] &* 5) << 7 | (state[1] &* 5) >> 57) &* 9
        let t = state[1] << 17
        state[2] ^= state[0]; state[3] ^= state[1]; state[1] ^= state[2]; state[0] ^= state[3]
        state[2] ^= t
        state[3] = state[3] << 45 | state[3] >> 19
        return result
    }

    /// Uniform in [0, 1).
    public mutating func nextUniform() -> Float { Float(next() >> 40) / Float(1 << 24) }

    /// Uniform in 0..<bound.
    public mutating func next(below bound: Int) -> Int { Int(next() % UInt64(bound)) }
}
