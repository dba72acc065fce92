import Foundation
import QwenVLCore

/// A linear layer of the Qwen2 decoder that LoRA can adapt.
public enum LoRATarget: String, CaseIterable, Sendable, Codable {
    case q = "q_proj", k = "k_proj", v = "v_proj", o = "o_proj", gate = "gate_proj", up = "up_proj", down = "down_proj"

    /// Position of the target in ``allCases`` (its slot in a layer).
    public var index: Int { Self.allCases.firstIndex(of: self)! }

    /// The module path of this layer's copy, e.g. `model.layers.3.self_attn.q_proj` (PEFT key without `.weight`).
    public func modulePath(layer: Int) -> String {
        switch self {
        case .q, .k, .v, .o: "model.layers.\(layer).self_attn.\(rawValue)"
        case .gate, .up, .down: "model.layers.\(layer).mlp.\(rawValue)"
        }
    }

    /// (outFeatures, inFeatures) of the target's weight in a model with `config`.
    public func shape(_ config: TextConfiguration) -> (outFeatures: Int, inFeatures: Int) {
        let h = config.hiddenSize, kvd = config.kvHeadCount * config.headDim, inter = config.intermediateSize
        switch self {
        case .q, .o: return (h, h)
        case .k, .v: return (kvd, h)
        case .gate, .up: return (inter, h)
        case .down: return (h, inter)
        }
    }

    /// Parses a comma-separated list (`q_proj,v_proj` or `all`), rejecting unknown names.
    public static func parse(_ list: String) throws -> [LoRATarget] {
        let names = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if names == ["all"] { return allCases }
        var targets: [LoRATarget] = []
        for name in names {
            guard let target = LoRATarget(rawValue: name) else {
                throw QwenVLError("unknown LoRA target '\(name)' (choose from \(allCases.map(\.rawValue).joined(separator: ", ")) or all)")
            }
            if !targets.contains(target) { targets.append(target) }
        }
        guard !targets.isEmpty else { throw QwenVLError("no LoRA targets given") }
        return targets.sorted { $0.index < $1.index }
    }
}

/// The low-rank factors of one adapted layer: `W' = W + scaling · B·A`.
public struct LoRAFactors: Sendable, Equatable {
    /// [rank, inFeatures] (PEFT lora_A.weight).
    public var a: [Float]
    /// [outFeatures, rank] (PEFT lora_B.weight).
    public var b: [Float]
    public let inFeatures: Int
    public let outFeatures: Int

    public init(a: [Float], b: [Float], inFeatures: Int, outFeatures: Int) {
        self.a = a; self.b = b; self.inFeatures = inFeatures; self.outFeatures = outFeatures
    }

    /// Zero factors of the same shapes (gradient and optimizer-moment storage).
    public var zeros: LoRAFactors {
        LoRAFactors(a: [Float](repeating: 0, count: a.count), b: [Float](repeating: 0, count: b.count),
                    inFeatures: inFeatures, outFeatures: outFeatures)
    }
}

/// The LoRA update of one linear layer, forward and backward, in float32:
/// `y += scaling · (dropout(x)·Aᵀ)·Bᵀ`.
enum LoRALinear {
    /// Adds the low-rank term to `y: [n, out]` for input `x: [n, in]`; returns `z = dropout(x)·Aᵀ: [n, r]` and the
    /// dropped input (nil when there is no dropout) for the backward pass.
    ///
    /// Dropout masks come from `mask` (a deterministic stream keyed by the example's seed, layer and target), so
    /// a recomputed layer drops the same elements.
    static func forward(_ f: LoRAFactors, rank r: Int, scaling: Float, x: UnsafePointer<Float>, count n: Int,
                        y: UnsafeMutablePointer<Float>, mask: DropoutMask?) -> (z: TrainingTensor, dropped: TrainingTensor?) {
        let inF = f.inFeatures, outF = f.outFeatures
        var dropped: TrainingTensor?
        if let mask {
            let d = TrainingTensor(copying: x, count: n * inF)                  // [n, in]
            mask.apply(d.pointer, count: n * inF)
            dropped = d
        }
        let input = UnsafePointer(dropped?.pointer) ?? x
        let z = TrainingTensor(n * r)                                            // [n, r]
        f.a.withUnsafeBufferPointer { a in
            FloatMatrixProduct.gemm(transposeB: true, m: n, n: r, k: inF, input, lda: inF, a.baseAddress!, ldb: inF, beta: 0, z.pointer, ldc: r)
        }
        f.b.withUnsafeBufferPointer { b in
            FloatMatrixProduct.gemm(transposeB: true, m: n, n: outF, k: r, alpha: scaling, z.pointer, lda: r, b.baseAddress!, ldb: r,
                              beta: 1, y, ldc: outF)
        }
        return (z, dropped)
    }

    /// Backward of the low-rank term for `dy: [n, out]`: accumulates `dA: [r, in]`, `dB: [out, r]` into `gradient`
    /// and adds `scaling · (dy·B)·A` (masked like the forward input) to `dx: [n, in]`.
    static func backward(_ f: LoRAFactors, rank r: Int, scaling: Float, x: UnsafePointer<Float>, z: TrainingTensor,
                         dropped: TrainingTensor?, mask: DropoutMask?, dy: UnsafePointer<Float>, count n: Int,
                         gradient: inout LoRAFactors, dx: UnsafeMutablePointer<Float>) {
        let inF = f.inFeatures, outF = f.outFeatures
        let input = UnsafePointer(dropped?.pointer) ?? x
        // dB[out, r] += scaling · dyᵀ · z
        gradient.b.withUnsafeMutableBufferPointer { gb in
            FloatMatrixProduct.gemm(transposeA: true, m: outF, n: r, k: n, alpha: scaling, dy, lda: outF, z.pointer, ldb: r,
                              beta: 1, gb.baseAddress!, ldc: r)
        }
        // dz[n, r] = scaling · dy · B
        let dz = TrainingTensor(n * r)
        f.b.withUnsafeBufferPointer { b in
            FloatMatrixProduct.gemm(m: n, n: r, k: outF, alpha: scaling, dy, lda: outF, b.baseAddress!, ldb: r, beta: 0, dz.pointer, ldc: r)
        }
        // dA[r, in] += dzᵀ · dropout(x)
        gradient.a.withUnsafeMutableBufferPointer { ga in
            FloatMatrixProduct.gemm(transposeA: true, m: r, n: inF, k: n, dz.pointer, lda: r, input, ldb: inF, beta: 1, ga.baseAddress!, ldc: inF)
        }
        // dx[n, in] += mask ⊙ (dz · A)
        f.a.withUnsafeBufferPointer { a in
            if let mask {
                let t = TrainingTensor(n * inF)
                FloatMatrixProduct.gemm(m: n, n: inF, k: r, dz.pointer, lda: r, a.baseAddress!, ldb: inF, beta: 0, t.pointer, ldc: inF)
                mask.apply(t.pointer, count: n * inF)
                TrainingTensor.add(dx, t.pointer, count: n * inF)
            } else {
                FloatMatrixProduct.gemm(m: n, n: inF, k: r, dz.pointer, lda: r, a.baseAddress!, ldb: inF, beta: 1, dx, ldc: inF)
            }
        }
    }
}

/// Inverted dropout on a LoRA input: element `i` is kept with probability `1 − p` and scaled by `1 / (1 − p)`.
///
/// The keep decision is a hash of (seed, stream, i) (SplitMix64), so the same mask can be regenerated when a
/// checkpointed layer is recomputed, without storing it.
struct DropoutMask {
    let probability: Float
    let seed: UInt64
    let stream: UInt64

    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Multiplies `x[0..<count]` by the mask (0 or 1/(1−p)).
    func apply(_ x: UnsafeMutablePointer<Float>, count: Int) {
        let keep = 1 / (1 - probability)
        let threshold = UInt64(Double(probability) * 9_007_199_254_740_992)   // p · 2^53
        let key = DropoutMask.mix(seed ^ DropoutMask.mix(stream))
        Parallel.forChunks(count, minChunk: 1 << 14) { range in
            for i in range {
                let u = DropoutMask.mix(key &+ UInt64(i)) >> 11
                x[i] = u < threshold ? 0 : x[i] * keep
            }
        }
    }
}
