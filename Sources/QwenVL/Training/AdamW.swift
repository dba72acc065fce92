import Foundation

/// AdamW with PyTorch's `torch.optim.AdamW` semantics (single-tensor path): decoupled weight decay
/// `p ← p·(1 − lr·λ)`, then `m ← lerp(m, g, 1 − β₁)`, `v ← β₂·v + (1 − β₂)·g²`,
/// `p ← p − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)`. Moments are float32, like the adapter.
public struct AdamW: Sendable, Equatable {
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    public var weightDecay: Float
    /// First and second moments, shaped like the adapter.
    public var exponentialAverage: LoRAWeights
    public var exponentialAverageOfSquares: LoRAWeights
    /// Steps taken (t).
    public var step: Int = 0

    public init(like weights: LoRAWeights, weightDecay: Float = 0.01, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        self.weightDecay = weightDecay
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon
        exponentialAverage = weights.zeros
        exponentialAverageOfSquares = weights.zeros
    }

    /// One update of `weights` with `gradients` at learning rate `lr`.
    public mutating func update(_ weights: inout LoRAWeights, gradients: LoRAWeights, learningRate lr: Double) {
        step += 1
        let t = Double(step)
        let bias1 = 1 - pow(Double(beta1), t), bias2Root = (1 - pow(Double(beta2), t)).squareRoot()
        let stepSize = Float(lr / bias1), decay = Float(1 - lr * Double(weightDecay))
        let w1 = 1 - beta1, b2 = beta2, w2 = 1 - beta2, eps = epsilon, root = Float(bias2Root)
        func apply(_ p: inout [Float], _ g: [Float], _ m: inout [Float], _ v: inout [Float]) {
            for i in p.indices {
                p[i] *= decay
                m[i] += w1 * (g[i] - m[i])
                v[i] = v[i] * b2 + w2 * g[i] * g[i]
                p[i] -= stepSize * (m[i] / (v[i].squareRoot() / root + eps))
            }
        }
        for s in weights.slots.indices {
            guard var p = weights.slots[s], let g = gradients.slots[s], var m = exponentialAverage.slots[s],
                  var v = exponentialAverageOfSquares.slots[s] else { continue }
            apply(&p.a, g.a, &m.a, &v.a)
            apply(&p.b, g.b, &m.b, &v.b)
            weights.slots[s] = p
            exponentialAverage.slots[s] = m
            exponentialAverageOfSquares.slots[s] = v
        }
    }
}

/// Global-norm gradient clipping as `torch.nn.utils.clip_grad_norm_`: the L2 norm over every gradient, and when
/// it exceeds `maxNorm` every gradient times `maxNorm / (norm + 1e-6)`.
public enum GradientClipping {
    /// Clips `gradients` in place; returns the norm before clipping.
    @discardableResult
    public static func clip(_ gradients: inout LoRAWeights, maxNorm: Float) -> Float {
        var squares = 0.0
        for f in gradients.slots.compactMap({ $0 }) {
            for x in f.a { squares += Double(x) * Double(x) }
            for x in f.b { squares += Double(x) * Double(x) }
        }
        let norm = Float(squares.squareRoot())
        let coefficient = min(1, maxNorm / (norm + 1e-6))
        if coefficient < 1 {
            for s in gradients.slots.indices {
                guard var f = gradients.slots[s] else { continue }
                for i in f.a.indices { f.a[i] *= coefficient }
                for i in f.b.indices { f.b[i] *= coefficient }
                gradients.slots[s] = f
            }
        }
        return norm
    }
}
