import KernelInterface
import Foundation
/// Which kernel runs each operation family on this machine, for `qwenvl --version`, `inspect` and `bench`.
///
/// Large products (prefill, vision encoder) with bf16/q8/q4 weights run oneDNN's bf16 kernels on CPUs with bf16 dot
/// products (``BF16GEMM``), the others OpenBLAS's sgemm with the core it loaded (see ``BLASCoreChoice``); matrix-vector products (decode) and the integer dots of q8/q4 run the active ``KernelSet``
/// (chosen at start-up from the CPU, `QWENVL_ISA` forces a lower one); the other SIMD loops (attention, norms,
/// activations, vector math) are compiled with the package's `-target-cpu` (default `haswell`).
public enum KernelReport {
    /// One line per operation family: `name: kernel`.
    public static func lines(cpu: CPUFeatures = .current, blasCore: String = Parallel.blasCore,
                             kernels: KernelSet = .active, forced: Bool = KernelSet.isForced) -> [String] {
        let available = KernelSet.supported(on: cpu).map(\.isa.rawValue).joined(separator: " ")
        var lines = [
            "cpu: \(cpu.summary)",
            "kernel set: \(kernels.isa.rawValue) (\(forced ? "forced by QWENVL_ISA" : "best for this CPU"); this CPU runs: \(available))",
            "gemm f32 weights, small products: OpenBLAS sgemm, \(blasCore) kernels",
            "gemm bf16/q8/q4 weights (prefill, vision): \(BF16GEMM.report)",
            "gemv bf16/f32/f16 (decode, batched decode): \(kernels.isa.rawValue): \(kernels.denseKernel); bf16 rows "
                + (GEMVTuning.prefetchesBF16 ? "prefetched \(GEMVTuning.bf16PrefetchBytes) bytes ahead" : "not prefetched (hardware prefetch)")
                + (getenv("QWENVL_PREFETCH") != nil ? " (QWENVL_PREFETCH)" : ""),
            "gemv q8/q4 (decode, batched decode, x quantization): \(kernels.isa.rawValue): \(kernels.quantizedKernel)",
            "attention, norms, activations, vector math: Swift SIMD built for the package's -target-cpu",
        ]
        if let error = KernelSet.environmentError { lines.append("warning: \(error) — running \(kernels.isa.rawValue)") }
        if let warning = BLASCoreChoice.slowCoreWarning(for: cpu, current: blasCore) { lines.append("warning: \(warning)") }
        return lines
    }
}
