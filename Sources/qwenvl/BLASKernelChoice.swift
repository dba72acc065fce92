import Foundation

/// Chooses OpenBLAS's AVX2 ("Haswell") GEMM kernels on AMD processors with AVX-512 before anything else runs.
///
/// Debian's OpenBLAS picks its kernels once, when the library loads, from the CPU it detects; on AMD Zen 4 it
/// picks the AVX-512 "Cooperlake" kernels, which Zen 4 executes as two 256-bit halves. Measured on this project's
/// 2-core Zen 4 machine: sgemm 512×2048×1536 on one core 101 GFLOP/s (Cooperlake) against 105 (Haswell), and the
/// 2B prefill of 512 tokens 63.5 → 67.9 tokens/s. The choice can only be made through the `OPENBLAS_CORETYPE`
/// environment variable read at load time, so the command sets it and re-executes itself once. A value the user
/// already set is kept, and `QWENVL_BLAS_CORE=default` turns the choice off.
enum BLASKernelChoice {
    static func applyBeforeStart() {
        let environment = ProcessInfo.processInfo.environment
        guard environment["OPENBLAS_CORETYPE"] == nil, environment["QWENVL_BLAS_CORE"] != "default" else { return }
        guard let cpu = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              cpu.contains("AuthenticAMD"), cpu.contains(" avx512f") else { return }
        setenv("OPENBLAS_CORETYPE", "Haswell", 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // execv returns only when it failed: go on with the kernels OpenBLAS chose.
        unsetenv("OPENBLAS_CORETYPE")
    }
}
