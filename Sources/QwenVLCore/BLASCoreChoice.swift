/// Which OpenBLAS kernel family ("core type") this CPU should run, so a library that misdetects it is never silently slow.
///
/// OpenBLAS built with `DYNAMIC_ARCH` (Debian's) picks its kernels once, when it loads, from the CPU model it knows.
/// Debian's 0.3.21 does not know newer Intel models (Sapphire/Emerald Rapids, family 6 model 0x8F/0xCF) and falls
/// back to its SSE3 "Prescott" kernels: measured on an Emerald Rapids VM, GEMM at 27–54 GFLOP/s, the 2B vision encode
/// 3× slower than llama.cpp. The only way to override the choice is `OPENBLAS_CORETYPE` in the environment before the
/// library loads, so the `qwenvl` command compares the loaded core with ``CPUFeatures`` and re-executes itself once
/// with the better core when they disagree.
///
/// Rules (a pure function of the features and the core OpenBLAS chose):
/// - AMD with AVX-512 (Zen 4/5) → `Haswell`: Zen 4 executes 512-bit FMAs as two halves, and OpenBLAS's AVX-512
///   "Cooperlake"/"SkylakeX" kernels measured slower than its AVX2 ones on this project's 2-core Zen 4 (sgemm
///   512×2048×1536 on one core 101 → 105 GFLOP/s, 2B prefill of 512 tokens 63.5 → 67.9 tokens/s).
/// - Any other CPU with AVX-512 F/DQ/BW/VL whose loaded core is not an AVX-512 one → `SkylakeX` (the AVX-512 sgemm
///   kernels; Debian's build has no bf16 GEMM, so Cooperlake would add nothing the runtime calls).
/// - A CPU with AVX2 + FMA whose loaded core predates AVX2 (Prescott, Nehalem, Sandy Bridge, …) → `Haswell`.
/// - Otherwise: keep OpenBLAS's choice.
public enum BLASCoreChoice {
    /// OpenBLAS cores whose sgemm kernels use AVX-512.
    static let avx512Cores: Set<String> = ["skylakex", "cooperlake", "sapphirerapids"]
    /// OpenBLAS cores whose sgemm kernels use AVX2 + FMA.
    static let avx2Cores: Set<String> = ["haswell", "zen", "skylakex", "cooperlake", "sapphirerapids", "excavator"]

    /// The core type to force through `OPENBLAS_CORETYPE`, or nil when the loaded `current` core is right.
    public static func preferred(for cpu: CPUFeatures, current: String) -> String? {
        guard cpu.architecture == .x86_64 else { return nil }
        let loaded = current.lowercased()
        let wanted: String
        if cpu.vendor == "AuthenticAMD" && cpu.has(.avx512f) && cpu.has(.avx2) && cpu.has(.fma) {
            wanted = "Haswell"
        } else if cpu.hasAVX512Core {
            if avx512Cores.contains(loaded) { return nil }
            wanted = "SkylakeX"
        } else if cpu.has(.avx2) && cpu.has(.fma) {
            if avx2Cores.contains(loaded) { return nil }
            wanted = "Haswell"
        } else {
            return nil
        }
        return loaded == wanted.lowercased() ? nil : wanted
    }

    /// A warning when `current` leaves SIMD unused that the CPU has (used when the choice was not applied, e.g. the
    /// user set `OPENBLAS_CORETYPE` or `QWENVL_BLAS_CORE=default`), nil when the core fits the CPU.
    public static func slowCoreWarning(for cpu: CPUFeatures, current: String) -> String? {
        guard cpu.architecture == .x86_64, cpu.has(.avx2), cpu.has(.fma), !avx2Cores.contains(current.lowercased()) else { return nil }
        let simd = cpu.hasAVX512Core ? "AVX-512" : "AVX2/FMA"
        return "OpenBLAS runs its \(current) kernels on a CPU with \(simd): large matrix products will be several times slower "
            + "(unset OPENBLAS_CORETYPE / QWENVL_BLAS_CORE to let qwenvl choose, or set OPENBLAS_CORETYPE=\(cpu.hasAVX512Core && cpu.vendor != "AuthenticAMD" ? "SkylakeX" : "Haswell"))"
    }
}
