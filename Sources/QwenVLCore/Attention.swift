import COpenBLAS
import Foundation

/// Scaled dot-product attention kernels (float32), with grouped-query heads.
///
/// Layouts: queries `q: [n, heads, headDim]`, keys/values `[kvLength, kvHeads, headDim]` (row strides given),
/// output `out: [n, heads, headDim]`. Query head `h` reads kv head `h / (heads / kvHeads)`.
/// Long inputs run per head in query chunks as two sgemm calls, so memory stays O(chunk × kvLength).
public enum Attention {
    /// Query rows per chunk in the GEMM path.
    static let chunkRows = 256

    /// Causal attention: query `i` sits at absolute position `start + i` and sees keys `0...start + i`.
    public static func causal(q: UnsafePointer<Float>, count n: Int, keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
                              start: Int, heads: Int, kvHeads: Int, headDim: Int, out: UnsafeMutablePointer<Float>) {
        attend(q: q, n: n, keys: keys, values: values, kvLength: start + n, causalStart: start,
               heads: heads, kvHeads: kvHeads, headDim: headDim, qStride: heads * headDim, kvStride: kvHeads * headDim,
               out: out)
    }

    /// Full (non-causal) attention inside each block `[cuSeqlens[b], cuSeqlens[b+1])`; q, k, v are rows of a
    /// packed `[n, 3, heads, headDim]` qkv tensor (stride `3·heads·headDim`).
    public static func blockDiagonal(qkv: UnsafePointer<Float>, cuSeqlens: [Int], heads: Int, headDim: Int, out: UnsafeMutablePointer<Float>) {
        let width = heads * headDim
        for b in 0..<(cuSeqlens.count - 1) {
            let s = cuSeqlens[b], e = cuSeqlens[b + 1]
            guard e > s else { continue }
            let base = qkv + s * 3 * width
            attend(q: base, n: e - s, keys: base + width, values: base + 2 * width, kvLength: e - s, causalStart: nil,
                   heads: heads, kvHeads: heads, headDim: headDim, qStride: 3 * width, kvStride: 3 * width,
                   out: out + s * width)
        }
    }

    static func attend(q: UnsafePointer<Float>, n: Int, keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
                       kvLength: Int, causalStart: Int?, heads: Int, kvHeads: Int, headDim: Int,
                       qStride: Int, kvStride: Int, out: UnsafeMutablePointer<Float>) {
        let scale = 1 / Float(headDim).squareRoot()
        let group = heads / kvHeads
        let outStride = heads * headDim
        if n < 8 {
            // Few queries (decode): loop form, heads split across threads.
            Parallel.forChunks(heads * n, minChunk: 1) { range in
                var scores = [Float](repeating: 0, count: kvLength)
                scores.withUnsafeMutableBufferPointer { sp in
                    let scores = sp.baseAddress!
                    for index in range {
                        let i = index / heads, h = index % heads, kvh = h / group
                        let qi = q + i * qStride + h * headDim
                        let visible = causalStart.map { $0 + i + 1 } ?? kvLength
                        for t in 0..<visible {
                            let kt = keys + t * kvStride + kvh * headDim
                            var dot: Float = 0
                            for d in 0..<headDim { dot += qi[d] * kt[d] }
                            scores[t] = dot * scale
                        }
                        Activations.softmax(scores, count: visible)
                        let o = out + i * outStride + h * headDim
                        for d in 0..<headDim { o[d] = 0 }
                        for t in 0..<visible {
                            let p = scores[t], vt = values + t * kvStride + kvh * headDim
                            for d in 0..<headDim { o[d] += p * vt[d] }
                        }
                    }
                }
            }
            return
        }
        let chunk = min(chunkRows, n)
        let scores = AlignedBuffer(count: chunk * kvLength)
        for h in 0..<heads {
            let kvh = h / group
            var r0 = 0
            while r0 < n {
                let rows = min(chunk, n - r0)
                // Keys visible to the last row of this chunk.
                let visible = causalStart.map { $0 + r0 + rows } ?? kvLength
                let s = scores.pointer
                // s[rows, visible] = q_chunk · k[0..<visible]ᵀ · scale
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(visible), Int32(headDim),
                            scale, q + r0 * qStride + h * headDim, Int32(qStride),
                            keys + kvh * headDim, Int32(kvStride), 0, s, Int32(visible))
                Parallel.forChunks(rows, minChunk: 16) { range in
                    for r in range {
                        let row = s + r * visible
                        let allowed = causalStart.map { $0 + r0 + r + 1 } ?? visible
                        for t in allowed..<visible { row[t] = 0 }
                        Activations.softmax(row, count: allowed)
                    }
                }
                // out_chunk[rows, headDim] = s · v[0..<visible]
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(headDim), Int32(visible),
                            1, s, Int32(visible), values + kvh * headDim, Int32(kvStride),
                            0, out + r0 * outStride + h * headDim, Int32(outStride))
                r0 += rows
            }
        }
    }
}
