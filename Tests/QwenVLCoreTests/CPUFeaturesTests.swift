import Foundation
import XCTest
@testable import QwenVLCore

/// CPU feature detection against the kernel's own view, its decoding of raw cpuid leaves, and the BLAS core choice.
final class CPUFeaturesTests: XCTestCase {
    /// /proc/cpuinfo flag names of the features we detect (the kernel clears flags the OS does not enable).
    static let linuxFlag: [CPUFeatures.Feature: String] = [
        .sse3: "pni", .ssse3: "ssse3", .sse41: "sse4_1", .sse42: "sse4_2", .avx: "avx", .f16c: "f16c", .fma: "fma",
        .avx2: "avx2", .avx512f: "avx512f", .avx512dq: "avx512dq", .avx512bw: "avx512bw", .avx512vl: "avx512vl",
        .avx512vnni: "avx512_vnni", .avx512bf16: "avx512_bf16", .avx512fp16: "avx512_fp16", .avxvnni: "avx_vnni",
    ]

    func testDetectionAgreesWithProcCpuinfo() throws {
        #if arch(x86_64) && os(Linux)
        let info = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let flagsLine = try XCTUnwrap(info.split(separator: "\n").first { $0.hasPrefix("flags") })
        let flags = Set(flagsLine.split(separator: ":")[1].split(separator: " ").map(String.init))
        let cpu = CPUFeatures.current
        for (feature, flag) in Self.linuxFlag {
            XCTAssertEqual(cpu.has(feature), flags.contains(flag), "\(feature.rawValue) vs /proc/cpuinfo \(flag)")
        }
        let family = try XCTUnwrap(info.split(separator: "\n").first { $0.hasPrefix("cpu family") })
        let model = try XCTUnwrap(info.split(separator: "\n").first { $0.hasPrefix("model\t") })
        XCTAssertEqual(cpu.family, Int(family.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)))
        XCTAssertEqual(cpu.model, Int(model.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)))
        let vendor = try XCTUnwrap(info.split(separator: "\n").first { $0.hasPrefix("vendor_id") })
        XCTAssertEqual(cpu.vendor, vendor.split(separator: ":")[1].trimmingCharacters(in: .whitespaces))
        #else
        throw XCTSkip("x86-64 Linux only")
        #endif
    }

    /// Raw cpuid leaves built from feature bits, as a CPU reports them.
    struct FakeCPU {
        var vendor: String
        var signature: UInt32              // leaf 1 eax
        var leaf1ecx: UInt32 = 0
        var leaf7: (ebx: UInt32, ecx: UInt32, edx: UInt32) = (0, 0, 0)
        var leaf7s1eax: UInt32 = 0
        var xcr0: UInt64

        func cpuid(_ leaf: UInt32, _ subleaf: UInt32) -> (UInt32, UInt32, UInt32, UInt32) {
            func word(_ s: Substring) -> UInt32 { s.utf8.enumerated().reduce(0) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) } }
            let v = Array(vendor.utf8)
            switch (leaf, subleaf) {
            case (0, _): return (13, word(Substring(String(decoding: v[0..<4], as: UTF8.self))),
                                 word(Substring(String(decoding: v[8..<12], as: UTF8.self))),
                                 word(Substring(String(decoding: v[4..<8], as: UTF8.self))))
            case (1, _): return (signature, 0, leaf1ecx | 1 << 27, 0)       // OSXSAVE always set
            case (7, 0): return (1, leaf7.ebx, leaf7.ecx, leaf7.edx)
            case (7, 1): return (leaf7s1eax, 0, 0, 0)
            default: return (0, 0, 0, 0)
            }
        }

        func decode(amx: Bool = true) -> CPUFeatures {
            CPUFeatures.decodeX86(cpuid: cpuid, xcr0: { xcr0 }, amxPermitted: { amx })
        }
    }

    static let sseAVX: UInt32 = 1 << 0 | 1 << 9 | 1 << 12 | 1 << 19 | 1 << 20 | 1 << 28 | 1 << 29
    static let avx512ebx: UInt32 = 1 << 5 | 1 << 16 | 1 << 17 | 1 << 30 | 1 << 31
    // Zen 3 (family 0x19 model 0x01), Zen 4 (0x19, 0x11), Emerald Rapids (6, 0xCF).
    static let zen3 = FakeCPU(vendor: "AuthenticAMD", signature: 0x00A0_0F11, leaf1ecx: sseAVX, leaf7: (1 << 5, 0, 0), xcr0: 0x7)
    static let zen4 = FakeCPU(vendor: "AuthenticAMD", signature: 0x00A1_0F11, leaf1ecx: sseAVX,
                              leaf7: (avx512ebx, 1 << 11, 0), leaf7s1eax: 1 << 5, xcr0: 0xE7)
    static let emeraldRapids = FakeCPU(vendor: "GenuineIntel", signature: 0x000C_06F2, leaf1ecx: sseAVX,
                                       leaf7: (avx512ebx, 1 << 11, 1 << 22 | 1 << 23 | 1 << 24 | 1 << 25),
                                       leaf7s1eax: 1 << 4 | 1 << 5, xcr0: 0x6_00E7)

    func testDecodesFamilyModelAndFeatures() {
        let zen3 = Self.zen3.decode()
        XCTAssertEqual([zen3.family, zen3.model], [0x19, 0x01])
        XCTAssertEqual(zen3.vendor, "AuthenticAMD")
        XCTAssertTrue(zen3.has(.avx2) && zen3.has(.fma) && !zen3.has(.avx512f))

        let zen4 = Self.zen4.decode()
        XCTAssertEqual([zen4.family, zen4.model], [0x19, 0x11])
        XCTAssertTrue(zen4.hasAVX512Core && zen4.has(.avx512vnni) && zen4.has(.avx512bf16))
        XCTAssertFalse(zen4.has(.avxvnni) || zen4.has(.avx512fp16) || zen4.has(.amxTile))

        let emr = Self.emeraldRapids.decode()
        XCTAssertEqual([emr.family, emr.model], [6, 0xCF])
        XCTAssertEqual(emr.vendor, "GenuineIntel")
        XCTAssertEqual(emr.features, [.sse3, .ssse3, .sse41, .sse42, .avx, .f16c, .fma, .avx2, .avx512f, .avx512dq, .avx512bw,
                                      .avx512vl, .avx512vnni, .avx512bf16, .avx512fp16, .avxvnni, .amxTile, .amxInt8, .amxBF16])
        // AMX only once Linux grants the tile-data permission.
        XCTAssertFalse(Self.emeraldRapids.decode(amx: false).has(.amxTile))
    }

    func testFeaturesTheOSDoesNotSaveAreDropped() {
        var noZMM = Self.emeraldRapids
        noZMM.xcr0 = 0x7                                  // AVX state only: AVX-512 unusable
        let cpu = noZMM.decode()
        XCTAssertTrue(cpu.has(.avx2))
        XCTAssertFalse(cpu.has(.avx512f) || cpu.has(.avx512bf16) || cpu.has(.amxTile))
        var noYMM = Self.zen3
        noYMM.xcr0 = 0x3
        XCTAssertEqual(noYMM.decode().features, [.sse3, .ssse3, .sse41, .sse42])
    }

    func testAArch64HardwareCapabilities() {
        let graviton3 = CPUFeatures.decodeAArch64(hwcap: 1 << 1 | 1 << 20 | 1 << 22, hwcap2: 1 << 13 | 1 << 14)
        XCTAssertEqual(graviton3.features, [.neon, .dotprod, .i8mm, .bf16, .sve])
        XCTAssertEqual(CPUFeatures.decodeAArch64(hwcap: 1 << 1, hwcap2: 0).features, [.neon])
    }

    func testBLASCoreChoice() {
        let zen3 = Self.zen3.decode(), zen4 = Self.zen4.decode(), emr = Self.emeraldRapids.decode()
        let arm = CPUFeatures.decodeAArch64(hwcap: 1 << 1 | 1 << 20, hwcap2: 0)
        // Zen 3: OpenBLAS knows it (Zen/Haswell kernels): keep.
        XCTAssertNil(BLASCoreChoice.preferred(for: zen3, current: "Zen"))
        XCTAssertNil(BLASCoreChoice.preferred(for: zen3, current: "Haswell"))
        XCTAssertEqual(BLASCoreChoice.preferred(for: zen3, current: "Prescott"), "Haswell")
        // Zen 4: AVX2 kernels beat the double-pumped AVX-512 ones.
        XCTAssertEqual(BLASCoreChoice.preferred(for: zen4, current: "Cooperlake"), "Haswell")
        XCTAssertEqual(BLASCoreChoice.preferred(for: zen4, current: "Prescott"), "Haswell")
        XCTAssertNil(BLASCoreChoice.preferred(for: zen4, current: "Haswell"))
        // Emerald Rapids unknown to OpenBLAS 0.3.21: Prescott → SkylakeX; an AVX-512 core is kept.
        XCTAssertEqual(BLASCoreChoice.preferred(for: emr, current: "Prescott"), "SkylakeX")
        XCTAssertEqual(BLASCoreChoice.preferred(for: emr, current: "Haswell"), "SkylakeX")
        XCTAssertNil(BLASCoreChoice.preferred(for: emr, current: "Cooperlake"))
        XCTAssertNil(BLASCoreChoice.preferred(for: emr, current: "SapphireRapids"))
        XCTAssertNil(BLASCoreChoice.preferred(for: arm, current: "NEOVERSEN1"))
        // Warnings only for cores below the CPU's SIMD.
        XCTAssertNotNil(BLASCoreChoice.slowCoreWarning(for: emr, current: "Prescott"))
        XCTAssertNil(BLASCoreChoice.slowCoreWarning(for: emr, current: "SkylakeX"))
        XCTAssertNil(BLASCoreChoice.slowCoreWarning(for: zen4, current: "Haswell"))
        XCTAssertNil(BLASCoreChoice.slowCoreWarning(for: arm, current: "ARMV8"))
    }

    func testKernelReportNamesTheBLASCore() {
        let lines = KernelReport.lines(cpu: Self.emeraldRapids.decode(), blasCore: "Prescott")
        XCTAssertTrue(lines.contains { $0.contains("OpenBLAS sgemm, Prescott kernels") })
        XCTAssertTrue(lines.last?.hasPrefix("warning: OpenBLAS runs its Prescott kernels on a CPU with AVX-512") ?? false)
    }
}
