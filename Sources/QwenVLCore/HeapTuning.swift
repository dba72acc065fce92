import Foundation
#if canImport(Glibc)
import CMalloc
#endif

/// Keeps large freed activation buffers in the process heap instead of handing them back to the kernel.
///
/// glibc serves a block above its mmap threshold with a fresh mapping and unmaps it on free, and trims the heap top
/// when more than the trim threshold is free. Prefill and the vision encoder allocate and free [n, 8960]-sized
/// activations in every layer, so each layer faulted in new zeroed pages: 357 k minor faults in a 512-token bf16
/// prefill, 3.9 % of its time in `perf` (exc_page_fault, clear_page_erms). With the mmap threshold at its maximum
/// (32 MiB: the largest activation, the vision MLP's [1564, 5120], is just below) and trimming only above 512 MiB,
/// freed blocks are reused: 154 k faults, the rest being the weight mapping. What a phase (a vision encode, a
/// prefill) leaves free is handed back at its end with ``releaseFreeMemory()``, so up to 512 MiB of free heap is
/// not carried into the next phase.
public enum HeapTuning {
    /// Applies the thresholds once per process (later calls do nothing; no-op where glibc is absent or with
    /// `QWENVL_HEAP_TUNING=0`).
    public static func keepLargeBlocks() { _ = applied }

    /// Returns the heap's free memory to the kernel (`malloc_trim`); called when a vision encode or a prefill of
    /// many tokens ends.
    public static func releaseFreeMemory() {
        #if canImport(Glibc)
        _ = malloc_trim(0)
        #endif
    }

    /// Whether glibc accepted both settings.
    public static var isApplied: Bool { applied }

    private static let applied: Bool = {
        #if canImport(Glibc)
        if ProcessInfo.processInfo.environment["QWENVL_HEAP_TUNING"] == "0" { return false }
        return mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1 && mallopt(M_TRIM_THRESHOLD, 512 << 20) == 1
        #else
        return false
        #endif
    }()
}
