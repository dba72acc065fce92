import COpenBLAS
import Foundation

/// Scaled dot-product attention kernels (float32), with grouped-query heads.
///
/// Layouts: queries `q: [n, heads, headDim]`, keys/values `[kvLength, kvHeads, headDim]` (row strides given),
/// output `out: [n, heads, headDim]`. Query head `h` reads kv head `h / (heads / kvHeads)`.
/// Many queries: the threads take (query chunk, head) pieces in turn; each piece is two single-threaded sgemm calls
/// around a SIMD softmax, so scratch stays O(chunk × kvLength) per thread and causal chunks only score the keys
/// their last row can see. Few queries (decode): SIMD dot products per (query, head).
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
            // Few queries (decode): SIMD loops, (query, head) pairs split across threads.
            Parallel.forChunks(heads * n, minChunk: 1) { range in
                let scores = UnsafeMutablePointer<Float>.allocate(capacity: max(kvLength, 1))
                defer { scores.deallocate() }
                for index in range {
                    let i = index / heads, h = index % heads, kvh = h / group
                    let qi = q + i * qStride + h * headDim
                    let visible = causalStart.map { $0 + i + 1 } ?? kvLength
                    for t in 0..<visible {
                        scores[t] = dot(qi, keys + t * kvStride + kvh * headDim, headDim) * scale
                    }
                    Activations.softmax(scores, count: visible)
                    let o = out + i * outStride + h * headDim
                    o.initialize(repeating: 0, count: headDim)
                    for t in 0..<visible {
                        accumulate(o, scores[t], values + t * kvStride + kvh * headDim, headDim)
                    }
                }
            }
            return
        }
        let chunk = min(chunkRows, n)
        let chunkCount = (n + chunk - 1) / chunk
        // Pieces are (query chunk, head) pairs that the threads take in turn, the chunks that see the most keys
        // first (causal), so a thread slowed down leaves at most one small piece to wait for at the end.
        Parallel.forDynamicChunks(chunkCount * heads, grain: 1) { pieces in
            let s = UnsafeMutablePointer<Float>.allocate(capacity: chunk * kvLength)   // [rows, visible]
            defer { s.deallocate() }
            let inverseSums = UnsafeMutablePointer<Float>.allocate(capacity: chunk)     // [rows]
            defer { inverseSums.deallocate() }
            for piece in pieces {
                let h = piece % heads, kvh = h / group
                let r0 = (chunkCount - 1 - piece / heads) * chunk
                let rows = min(chunk, n - r0)
                // Keys visible to the last row of this chunk.
                let visible = causalStart.map { $0 + r0 + rows } ?? kvLength
                // s[rows, visible] = q_chunk · k[0..<visible]ᵀ · scale
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(visible), Int32(headDim),
                            scale, q + r0 * qStride + h * headDim, Int32(qStride),
                            keys + kvh * headDim, Int32(kvStride), 0, s, Int32(visible))
                // Unnormalized softmax per row; the 1/Σ is applied to the headDim outputs instead of the
                // visible scores.
                for r in 0..<rows {
                    let row = s + r * visible
                    let allowed = causalStart.map { $0 + r0 + r + 1 } ?? visible
                    if allowed < visible { (row + allowed).initialize(repeating: 0, count: visible - allowed) }
                    inverseSums[r] = 1 / Activations.softmaxUnnormalized(row, count: allowed)
                }
                // out_chunk[rows, headDim] = s · v[0..<visible], then each row times its 1/Σ.
                let o = out + r0 * outStride + h * headDim
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(headDim), Int32(visible),
                            1, s, Int32(visible), values + kvh * headDim, Int32(kvStride), 0, o, Int32(outStride))
                for r in 0..<rows { scaleRow(o + r * outStride, by: inverseSums[r], headDim) }
            }
        }
    }

    /// `o[i] *= factor` over `n` floats.
    @inline(__always)
    static func scaleRow(_ o: UnsafeMutablePointer<Float>, by factor: Float, _ n: Int) {
        let po = UnsafeMutableRawPointer(o)
        let f = SIMD8<Float>(repeating: factor)
        var i = 0
        while i + 8 <= n {
            po.storeBytes(of: po.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * f, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { o[i] *= factor; i += 1 }
    }

    /// `Σ a[i]·b[i]` over `n` floats.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        let pa = UnsafeRawPointer(a), pb = UnsafeRawPointer(b)
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>()
        var i = 0
        while i + 16 <= n {
            s0.addProduct(pa.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self), pb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
            s1.addProduct(pa.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self), pb.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self))
            i += 16
        }
        var sum = (s0 + s1).sum()
        while i < n { sum += a[i] * b[i]; i += 1 }
        return sum
    }

    /// `o[i] += p · v[i]` over `n` floats.
    @inline(__always)
    static func accumulate(_ o: UnsafeMutablePointer<Float>, _ p: Float, _ v: UnsafePointer<Float>, _ n: Int) {
        let po = UnsafeMutableRawPointer(o), pv = UnsafeRawPointer(v)
        let scale = SIMD8<Float>(repeating: p)
        var i = 0
        while i + 8 <= n {
            var acc = po.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            acc.addProduct(scale, pv.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
            po.storeBytes(of: acc, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { o[i] += p * v[i]; i += 1 }
    }
}
