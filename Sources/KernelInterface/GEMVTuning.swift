#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CCPUID

/// Fixed parameters of the matrix-vector kernels, shared by the caller and every kernel set (inlinable constants,
/// so they fold into the kernels of other modules), and the one chosen at start-up: whether bf16 rows are
/// prefetched in software.
///
/// Software prefetch distances were chosen by interleaved end-to-end decode runs on the 2B checkpoint (2 Zen-3
/// cores, ~15–19 GB/s of memory reads): bf16 3.3–4.3 → 3.7–4.8 tok/s with 768–1024 bytes ahead, q4 12.1–13.7 →
/// 14.3–15.2 with 8 super-blocks ahead, q8 6.4–7.8 → 7.1–8.2 with 4 (the hardware prefetcher alone leaves the
/// stream short of requests in flight). On Zen 4 the same bf16 prefetches cost decode speed (2 cores, interleaved
/// runs: 7.1–7.6 tok/s with them, 9.2–9.7 without), while q8/q4 gain a little from theirs: bf16 prefetching is
/// therefore a per-CPU choice (``prefetchesBF16Rows(vendor:family:model:)``), q8/q4 always prefetch.
public enum GEMVTuning {
    /// Rows per piece that the threads take in turn (a multiple of 4 for the four-row kernels).
    @inlinable public static var grain: Int { 64 }
    /// Dense rows up to this many values run one at a time; longer rows four at a time.
    @inlinable public static var singleRowLimit: Int { 4096 }
    /// Bytes ahead of the current position that the bf16 kernels prefetch, per row, when they prefetch.
    @inlinable public static var bf16PrefetchBytes: Int { 1024 }
    /// Bytes ahead that the bf16 kernels (one row and four rows) prefetch, per row: ``bf16PrefetchBytes`` where
    /// ``prefetchesBF16`` holds, else 0 (no prefetch instructions).
    public static var prefetchDistanceBF16: Int { prefetchesBF16 ? bf16PrefetchBytes : 0 }
    /// The same for q8 rows: four 272-byte super-blocks.
    @inlinable public static var prefetchDistanceQ8: Int { 4 * BlockLayout.q8SuperBlockBytes }
    /// The same for q4 rows: eight 152-byte super-blocks.
    @inlinable public static var prefetchDistanceQ4: Int { 8 * BlockLayout.q4SuperBlockBytes }

    /// Whether this process prefetches bf16 rows: `QWENVL_PREFETCH=0|1` when set, else
    /// ``prefetchesBF16Rows(vendor:family:model:)`` of the CPU it runs on.
    public static let prefetchesBF16: Bool = {
        if let value = getenv("QWENVL_PREFETCH"), let flag = prefetchSwitch(String(cString: value)) { return flag }
        let id = cpuIdentity()
        return prefetchesBF16Rows(vendor: id.vendor, family: id.family, model: id.model)
    }()

    /// `QWENVL_PREFETCH`'s meaning: "0"/"off"/"false" → false, "1"/"on"/"true" → true, anything else nil (the CPU's
    /// default).
    public static func prefetchSwitch(_ value: String) -> Bool? {
        switch value.lowercased() {
        case "0", "off", "false", "no": return false
        case "1", "on", "true", "yes": return true
        default: return nil
        }
    }

    /// Whether bf16 rows should be prefetched in software on a CPU (x86 cpuid vendor and display family/model):
    /// not on AMD Zen 4 (family 0x19, models 0x10–0x1F, 0x60–0x7F, 0xA0–0xAF) or Zen 5 (family 0x1A), whose
    /// hardware prefetchers keep the stream fed and where the extra instructions cost ~20% of bf16 decode; yes
    /// elsewhere (measured on Zen 3; other CPUs keep the behaviour they were measured with).
    public static func prefetchesBF16Rows(vendor: String, family: Int, model: Int) -> Bool {
        guard vendor == "AuthenticAMD" else { return true }
        if family == 0x1A { return false }
        if family == 0x19 && ((0x10...0x1F).contains(model) || (0x60...0x7F).contains(model) || (0xA0...0xAF).contains(model)) {
            return false
        }
        return true
    }

    /// Display family and model from cpuid leaf 1's EAX, the extended fields folded in as Linux's /proc/cpuinfo
    /// shows them (family 0xF adds the extended family; families 0x6 and 0xF take the extended model as high bits).
    /// The one decoding of these fields, also used by QwenVLCore's `CPUFeatures`.
    public static func familyModel(leaf1EAX eax: UInt32) -> (family: Int, model: Int) {
        let baseFamily = Int((eax >> 8) & 0xF), baseModel = Int((eax >> 4) & 0xF)
        let family = baseFamily == 0xF ? baseFamily + Int((eax >> 20) & 0xFF) : baseFamily
        let model = baseFamily == 0x6 || baseFamily == 0xF ? baseModel | (Int((eax >> 16) & 0xF) << 4) : baseModel
        return (family, model)
    }

    /// cpuid's vendor string and display family/model (empty and zero off x86).
    public static func cpuIdentity() -> (vendor: String, family: Int, model: Int) {
        #if arch(x86_64)
        var regs = [UInt32](repeating: 0, count: 4)
        guard qwenvl_cpuid(0, 0, &regs) != 0 else { return ("", 0, 0) }
        let words = [regs[1], regs[3], regs[2]]
        let bytes = words.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> (8 * UInt32($0))) } }
        let vendor = String(decoding: bytes, as: UTF8.self)
        guard qwenvl_cpuid(1, 0, &regs) != 0 else { return (vendor, 0, 0) }
        let (family, model) = familyModel(leaf1EAX: regs[0])
        return (vendor, family, model)
        #else
        return ("", 0, 0)
        #endif
    }
}

/// Byte layout of the q8 and q4 super-blocks (documented at `Q8Blocks` and `Q4Blocks` in QwenVLCore).
public enum BlockLayout {
    /// Weights per block and per super-block (both formats).
    @inlinable public static var blockSize: Int { 32 }
    @inlinable public static var superBlockSize: Int { 256 }
    /// q8: `[8 × Float16 d][8 × 32 Int8 q]`.
    @inlinable public static var q8SuperBlockBytes: Int { 16 + 256 }
    /// q4: `[8 × UInt8 sc][8 × Int8 m][Float32 d][Float32 dmin][8 × 16 bytes of nibbles]`.
    @inlinable public static var q4SuperBlockBytes: Int { 24 + 128 }
    /// Offset of q4's nibbles in its super-block.
    @inlinable public static var q4QuantOffset: Int { 24 }
}
