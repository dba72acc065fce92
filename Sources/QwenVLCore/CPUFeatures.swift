import CCPUID
import KernelInterface

/// The instruction-set features of the CPU this process runs on, as the OS lets it use them.
///
/// On x86-64 the bits come from `cpuid` and are kept only when XCR0 shows the OS saves the register state they need
/// (YMM for AVX/AVX2/FMA, opmask + ZMM for AVX-512, tile data for AMX, which Linux additionally grants per process
/// through `arch_prctl(ARCH_REQ_XCOMP_PERM)`). On aarch64 Linux they come from `AT_HWCAP`/`AT_HWCAP2`.
///
///     let cpu = CPUFeatures.current
///     print(cpu.summary)          // "AuthenticAMD family 0x19 model 0x11: avx2 fma avx512f … avx512bf16"
///     if cpu.has(.avx512bf16) { … }
public struct CPUFeatures: Sendable, Equatable {
    /// One instruction-set extension.
    public enum Feature: String, Sendable, CaseIterable, Comparable {
        // x86-64
        case sse3, ssse3, sse41 = "sse4.1", sse42 = "sse4.2", avx, f16c, fma, avx2
        case avx512f, avx512dq, avx512bw, avx512vl, avx512vnni, avx512bf16, avx512fp16
        case avxvnni = "avx-vnni"
        case amxTile = "amx-tile", amxInt8 = "amx-int8", amxBF16 = "amx-bf16"
        // aarch64
        case neon, dotprod, i8mm, bf16, sve

        public static func < (a: Feature, b: Feature) -> Bool {
            allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
        }
    }

    /// The processor architecture.
    public enum Architecture: String, Sendable { case x86_64, aarch64, other }

    public var architecture: Architecture
    /// cpuid's vendor string ("GenuineIntel", "AuthenticAMD"), empty elsewhere.
    public var vendor: String
    /// Display family and model (x86: with the extended fields folded in, as Linux's /proc/cpuinfo shows them).
    public var family: Int
    public var model: Int
    /// The brand string ("AMD EPYC 9R14 96-Core Processor"), empty when unknown.
    public var modelName: String
    public var features: Set<Feature>

    public init(architecture: Architecture, vendor: String = "", family: Int = 0, model: Int = 0, modelName: String = "",
                features: Set<Feature>) {
        self.architecture = architecture
        self.vendor = vendor
        self.family = family
        self.model = model
        self.modelName = modelName
        self.features = features
    }

    /// Whether the CPU (and the OS) support `feature`.
    public func has(_ feature: Feature) -> Bool { features.contains(feature) }

    /// AVX-512 F, DQ, BW and VL together: what AVX-512 GEMM kernels (OpenBLAS SkylakeX, ours) need.
    public var hasAVX512Core: Bool { [.avx512f, .avx512dq, .avx512bw, .avx512vl].allSatisfy(has) }

    /// One line: vendor, family/model, and the features in a fixed order.
    public var summary: String {
        let list = features.sorted().map(\.rawValue).joined(separator: " ")
        switch architecture {
        case .x86_64:
            let id = "\(vendor) family 0x\(String(family, radix: 16)) model 0x\(String(model, radix: 16))"
            return "\(id)\(modelName.isEmpty ? "" : " (\(modelName))"): \(list.isEmpty ? "no SIMD extensions" : list)"
        case .aarch64: return "aarch64: \(list.isEmpty ? "no SIMD extensions" : list)"
        case .other: return "unknown architecture"
        }
    }

    /// The features of this machine, read once.
    public static let current: CPUFeatures = detect()

    /// Reads the features of the running CPU.
    static func detect() -> CPUFeatures {
        #if arch(x86_64)
        return decodeX86(cpuid: { leaf, subleaf in
            var registers: [UInt32] = [0, 0, 0, 0]
            _ = qwenvl_cpuid(leaf, subleaf, &registers)
            return (registers[0], registers[1], registers[2], registers[3])
        }, xcr0: { qwenvl_xgetbv0() }, amxPermitted: { qwenvl_request_amx() != 0 })
        #elseif arch(arm64) && os(Linux)
        return decodeAArch64(hwcap: qwenvl_hwcap(), hwcap2: qwenvl_hwcap2())
        #elseif arch(arm64)
        // Apple Silicon: every M-series core has NEON, dot product, i8mm from M2 on; report the baseline.
        return CPUFeatures(architecture: .aarch64, features: [.neon, .dotprod])
        #else
        return CPUFeatures(architecture: .other, features: [])
        #endif
    }

    /// Decodes x86 cpuid leaves: `cpuid(leaf, subleaf)` gives (eax, ebx, ecx, edx) and returns zeros above the maximum
    /// leaf; `xcr0` is read only when cpuid reports OSXSAVE; `amxPermitted` only when cpuid and XCR0 report AMX.
    public static func decodeX86(cpuid: (UInt32, UInt32) -> (UInt32, UInt32, UInt32, UInt32), xcr0: () -> UInt64,
                                 amxPermitted: () -> Bool) -> CPUFeatures {
        func bit(_ value: UInt32, _ n: Int) -> Bool { value & (1 << UInt32(n)) != 0 }
        func text(_ words: [UInt32]) -> String {
            let bytes = words.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> (8 * UInt32($0))) } }
            return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self).trimmingSpaces()
        }
        let leaf0 = cpuid(0, 0)
        let vendor = text([leaf0.1, leaf0.3, leaf0.2])
        let leaf1 = leaf0.0 >= 1 ? cpuid(1, 0) : (0, 0, 0, 0)
        let leaf7 = leaf0.0 >= 7 ? cpuid(7, 0) : (0, 0, 0, 0)
        let leaf7s1 = leaf0.0 >= 7 && leaf7.0 >= 1 ? cpuid(7, 1) : (0, 0, 0, 0)
        let (family, model) = GEMVTuning.familyModel(leaf1EAX: leaf1.0)
        let maxExtended = cpuid(0x8000_0000, 0).0
        let brand = maxExtended >= 0x8000_0004
            ? text((0x8000_0002...0x8000_0004).flatMap { leaf -> [UInt32] in let r = cpuid(UInt32(leaf), 0); return [r.0, r.1, r.2, r.3] })
            : ""

        var features = Set<Feature>()
        let ecx1 = leaf1.2
        if bit(ecx1, 0) { features.insert(.sse3) }
        if bit(ecx1, 9) { features.insert(.ssse3) }
        if bit(ecx1, 19) { features.insert(.sse41) }
        if bit(ecx1, 20) { features.insert(.sse42) }
        let state: UInt64 = bit(ecx1, 27) ? xcr0() : 0          // OSXSAVE: the OS manages extended state
        let ymm = state & 0x6 == 0x6                              // XMM + YMM saved
        let zmm = ymm && state & 0xE0 == 0xE0                     // opmask, ZMM_Hi256, Hi16_ZMM saved
        let tiles = state & 0x6_0000 == 0x6_0000                  // XTILECFG + XTILEDATA
        if ymm {
            if bit(ecx1, 28) { features.insert(.avx) }
            if bit(ecx1, 29) { features.insert(.f16c) }
            if bit(ecx1, 12) { features.insert(.fma) }
            if bit(leaf7.1, 5) { features.insert(.avx2) }
            if bit(leaf7s1.0, 4) { features.insert(.avxvnni) }
        }
        if zmm {
            let ebx7 = leaf7.1
            if bit(ebx7, 16) { features.insert(.avx512f) }
            if bit(ebx7, 17) { features.insert(.avx512dq) }
            if bit(ebx7, 30) { features.insert(.avx512bw) }
            if bit(ebx7, 31) { features.insert(.avx512vl) }
            if bit(leaf7.2, 11) { features.insert(.avx512vnni) }
            if bit(leaf7.3, 23) { features.insert(.avx512fp16) }
            if bit(leaf7s1.0, 5) { features.insert(.avx512bf16) }
        }
        let edx7 = leaf7.3
        if tiles && bit(edx7, 24) && amxPermitted() {
            features.insert(.amxTile)
            if bit(edx7, 25) { features.insert(.amxInt8) }
            if bit(edx7, 22) { features.insert(.amxBF16) }
        }
        return CPUFeatures(architecture: .x86_64, vendor: vendor, family: family, model: model, modelName: brand, features: features)
    }

    /// Decodes Linux aarch64 hardware capabilities (`HWCAP_ASIMD` 1, `HWCAP_ASIMDDP` 20, `HWCAP_SVE` 22;
    /// `HWCAP2_I8MM` 13, `HWCAP2_BF16` 14).
    public static func decodeAArch64(hwcap: UInt64, hwcap2: UInt64) -> CPUFeatures {
        var features = Set<Feature>()
        if hwcap & (1 << 1) != 0 { features.insert(.neon) }
        if hwcap & (1 << 20) != 0 { features.insert(.dotprod) }
        if hwcap & (1 << 22) != 0 { features.insert(.sve) }
        if hwcap2 & (1 << 13) != 0 { features.insert(.i8mm) }
        if hwcap2 & (1 << 14) != 0 { features.insert(.bf16) }
        return CPUFeatures(architecture: .aarch64, features: features)
    }
}

private extension String {
    /// The string without leading and trailing spaces (cpuid's brand string is padded with them).
    func trimmingSpaces() -> String {
        var slice = Substring(self)
        while slice.first == " " { slice = slice.dropFirst() }
        while slice.last == " " { slice = slice.dropLast() }
        return String(slice)
    }
}
