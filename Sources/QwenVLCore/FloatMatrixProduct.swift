import COpenBLAS
import Foundation

/// Plain float32 matrix products on the calling thread (small training products: LoRA factors, attention blocks).
public enum FloatMatrixProduct {
    /// `c[m, n] = alpha · op(a) · op(b) + beta · c`, row-major, `op` transposing when asked (single-threaded sgemm).
    ///
    /// `a` is [m, k] (or [k, m] when `transposeA`), `b` is [k, n] (or [n, k] when `transposeB`); `lda`, `ldb`,
    /// `ldc` are row strides in floats.
    @inline(__always)
    public static func gemm(transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                            _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
                            beta: Float, _ c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            if beta == 0 { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
            else if beta != 1 { for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } } }
            return
        }
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
