import CPUIntrinsics

/// Which kernel runs each operation family on this machine, for `qwenvl --version` and `qwenvl bench`.
///
/// Large products (prefill, vision encoder) go through OpenBLAS's sgemm with the core it loaded (see
/// ``BLASCoreChoice``); matrix-vector products (decode) and the integer dots of q8/q4 are this package's Swift SIMD
/// kernels, whose instruction set is fixed when the package is built (`-target-cpu`, default `haswell`).
public enum KernelReport {
    /// One line per operation family: `name: kernel`.
    public static func lines(cpu: CPUFeatures = .current, blasCore: String = Parallel.blasCore) -> [String] {
        let dots = integerMultiplyAddIsAVX2 ? "AVX2 vpmaddubsw/vpmaddwd" : "portable Swift (no AVX2 in this build)"
        var lines = [
            "cpu: \(cpu.summary)",
            "gemm (prefill, vision): OpenBLAS sgemm, \(blasCore) kernels",
            "gemv bf16/f32 (decode): Swift SIMD (\(integerMultiplyAddIsAVX2 ? "AVX2 + FMA" : "baseline SIMD"))",
            "gemv q8/q4 (decode): integer dots on \(dots)",
        ]
        if let warning = BLASCoreChoice.slowCoreWarning(for: cpu, current: blasCore) { lines.append("warning: \(warning)") }
        return lines
    }
}
