import Foundation
import QwenVLCore

/// Causal grouped-query attention inside packed segments, forward and backward (float32).
///
/// Each segment `[starts[i], starts[i+1])` attends only to itself, causally, as the decoder does for a prompt
/// alone. The backward recomputes each head's probabilities `P = softmax(q·kᵀ·scale)` from q and k, then
/// `dV += Pᵀ·dO`, `dS = P ⊙ (dO·Vᵀ − rowsum(P ⊙ dO·Vᵀ))`, `dQ = dS·K·scale`, `dK += dSᵀ·Q·scale`.
enum SegmentedAttention {
    /// `out: [n, heads·hd]` for rotated `q: [n, heads·hd]`, `k`, `v: [n, kvHeads·hd]`.
    static func forward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, segments: [Range<Int>],
                        heads: Int, kvHeads: Int, headDim hd: Int, out: UnsafeMutablePointer<Float>) {
        let qd = heads * hd, kvd = kvHeads * hd
        for s in segments {
            Attention.causal(q: q + s.lowerBound * qd, count: s.count, keys: k + s.lowerBound * kvd, values: v + s.lowerBound * kvd,
                             start: 0, heads: heads, kvHeads: kvHeads, headDim: hd, out: out + s.lowerBound * qd)
        }
    }

    /// Gradients of q, k, v (`dq: [n, heads·hd]`, `dk`, `dv: [n, kvHeads·hd]`, written, not accumulated) from `dout`.
    static func backward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, dout: UnsafePointer<Float>,
                         segments: [Range<Int>], heads: Int, kvHeads: Int, headDim hd: Int,
                         dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>) {
        let qd = heads * hd, kvd = kvHeads * hd, group = heads / kvHeads
        let scale = 1 / Float(hd).squareRoot()
        let n = segments.last?.upperBound ?? 0
        dq.update(repeating: 0, count: n * qd)
        dk.update(repeating: 0, count: n * kvd)
        dv.update(repeating: 0, count: n * kvd)
        let longest = segments.map(\.count).max() ?? 0
        // One KV head per piece: the query heads of a group write disjoint dq columns and the group's own dk/dv.
        Parallel.forDynamicChunks(kvHeads, grain: 1) { range in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, longest * longest))   // [L, L]
            defer { p.deallocate() }
            let dp = UnsafeMutablePointer<Float>.allocate(capacity: max(1, longest * longest))  // [L, L]
            defer { dp.deallocate() }
            for kvh in range {
                for s in segments {
                    let L = s.count, s0 = s.lowerBound
                    let kh = k + s0 * kvd + kvh * hd, vh = v + s0 * kvd + kvh * hd
                    let dkh = dk + s0 * kvd + kvh * hd, dvh = dv + s0 * kvd + kvh * hd
                    for h in (kvh * group)..<((kvh + 1) * group) {
                        let qh = q + s0 * qd + h * hd, doh = dout + s0 * qd + h * hd, dqh = dq + s0 * qd + h * hd
                        // P[L, L] = softmax over the causal prefix of q·kᵀ·scale
                        FloatMatrixProduct.gemm(transposeB: true, m: L, n: L, k: hd, alpha: scale, qh, lda: qd, kh, ldb: kvd, beta: 0, p, ldc: L)
                        for i in 0..<L {
                            let row = p + i * L
                            Activations.softmax(row, count: i + 1)
                            if i + 1 < L { (row + i + 1).update(repeating: 0, count: L - i - 1) }
                        }
                        // dV[L, hd] += Pᵀ · dO
                        FloatMatrixProduct.gemm(transposeA: true, m: L, n: hd, k: L, p, lda: L, doh, ldb: qd, beta: 1, dvh, ldc: kvd)
                        // dP[L, L] = dO · Vᵀ
                        FloatMatrixProduct.gemm(transposeB: true, m: L, n: L, k: hd, doh, lda: qd, vh, ldb: kvd, beta: 0, dp, ldc: L)
                        // dS = P ⊙ (dP − rowsum(P ⊙ dP)), times the score scale (folded in here)
                        for i in 0..<L {
                            let pr = p + i * L, dr = dp + i * L
                            var dot: Float = 0
                            for j in 0...i { dot += pr[j] * dr[j] }
                            for j in 0...i { dr[j] = pr[j] * (dr[j] - dot) * scale }
                            if i + 1 < L { (dr + i + 1).update(repeating: 0, count: L - i - 1) }
                        }
                        // dQ[L, hd] = dS · K ; dK[L, hd] += dSᵀ · Q
                        FloatMatrixProduct.gemm(m: L, n: hd, k: L, dp, lda: L, kh, ldb: kvd, beta: 0, dqh, ldc: qd)
                        FloatMatrixProduct.gemm(transposeA: true, m: L, n: hd, k: L, dp, lda: L, qh, ldb: qd, beta: 1, dkh, ldc: kvd)
                    }
                }
            }
        }
    }
}
