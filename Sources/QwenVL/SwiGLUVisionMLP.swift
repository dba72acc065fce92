import Foundation
import QwenVLCore

/// Qwen2.5-VL's ViT MLP: `down(silu(gate(x)) ⊙ up(x))`, every projection with a bias.
struct SwiGLUVisionMLP: Sendable {
    let gate: WeightMatrix, gateBias: [Float]      // [I, E], [I]
    let up: WeightMatrix, upBias: [Float]          // [I, E], [I]
    let down: WeightMatrix, downBias: [Float]      // [E, I], [E]

    /// x[N, E] += down(silu(gate(y)) ⊙ up(y)) for y: [N, E].
    func apply(_ y: [Float], count n: Int, accumulatingInto x: inout [Float]) {
        var g = gate.apply(y, count: n, bias: gateBias)             // [N, I]
        let u = up.apply(y, count: n, bias: upBias)                 // [N, I]
        g.withUnsafeMutableBufferPointer { gp in
            u.withUnsafeBufferPointer { Activations.swiGLU(gate: gp.baseAddress!, up: $0.baseAddress!, count: gp.count) }
        }
        down.apply(g, count: n, accumulatingInto: &x, bias: downBias)
    }

    var matrices: [WeightMatrix] { [gate, up, down] }
}
