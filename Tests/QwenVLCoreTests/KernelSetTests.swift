import XCTest
import CPUIntrinsics
import IntrinsicsAVX2
import IntrinsicsAVX512
import IntrinsicsBaseline
import KernelInterface
@testable import QwenVLCore

/// Kernel-set choice (`QWENVL_ISA`), and every set's integer wrappers against the instructions' definition. The
/// products of every set are checked by BatchedMatrixVectorTests and QuantizationTests, which loop over
/// ``KernelSet/supported(on:)``.
final class KernelSetTests: XCTestCase {
    static let haswell = CPUFeatures(architecture: .x86_64, vendor: "GenuineIntel", family: 6, model: 0x3C,
                                     features: [.sse3, .ssse3, .sse41, .sse42, .avx, .f16c, .fma, .avx2])
    static let zen4 = CPUFeatures(architecture: .x86_64, vendor: "AuthenticAMD", family: 0x19, model: 0x11,
                                  features: haswell.features.union([.avx512f, .avx512dq, .avx512bw, .avx512vl, .avx512vnni, .avx512bf16]))
    static let nehalem = CPUFeatures(architecture: .x86_64, vendor: "GenuineIntel", family: 6, model: 0x1A,
                                     features: [.sse3, .ssse3, .sse41, .sse42])
    static let arm = CPUFeatures(architecture: .aarch64, features: [.neon, .dotprod])

    func testBestSetAndForcedSets() throws {
        XCTAssertEqual(try KernelSet.choose(nil, cpu: Self.zen4).get().isa, .avx512)
        XCTAssertEqual(try KernelSet.choose("", cpu: Self.haswell).get().isa, .avx2)
        XCTAssertEqual(try KernelSet.choose(nil, cpu: Self.nehalem).get().isa, .baseline)
        XCTAssertEqual(try KernelSet.choose(nil, cpu: Self.arm).get().isa, .baseline)
        XCTAssertEqual(try KernelSet.choose("AVX2", cpu: Self.zen4).get().isa, .avx2)
        XCTAssertEqual(try KernelSet.choose("baseline", cpu: Self.zen4).get().isa, .baseline)
        XCTAssertEqual(KernelSet.supported(on: Self.haswell).map(\.isa), [.baseline, .avx2])
        XCTAssertEqual(KernelSet.supported(on: Self.arm).map(\.isa), [.baseline])
    }

    /// bf16 rows are prefetched in software except on Zen 4 / Zen 5 (a pure function of vendor, family and model).
    func testBF16PrefetchPolicyPerCPU() {
        XCTAssertTrue(GEMVTuning.prefetchesBF16Rows(vendor: "AuthenticAMD", family: 0x19, model: 0x01))     // Zen 3 EPYC
        XCTAssertTrue(GEMVTuning.prefetchesBF16Rows(vendor: "AuthenticAMD", family: 0x19, model: 0x21))     // Zen 3 Ryzen
        XCTAssertFalse(GEMVTuning.prefetchesBF16Rows(vendor: "AuthenticAMD", family: 0x19, model: 0x11))    // Zen 4 EPYC
        XCTAssertFalse(GEMVTuning.prefetchesBF16Rows(vendor: "AuthenticAMD", family: 0x19, model: 0x61))    // Zen 4 Ryzen
        XCTAssertFalse(GEMVTuning.prefetchesBF16Rows(vendor: "AuthenticAMD", family: 0x1A, model: 0x02))    // Zen 5
        XCTAssertTrue(GEMVTuning.prefetchesBF16Rows(vendor: "GenuineIntel", family: 6, model: 0xCF))       // Emerald Rapids
        XCTAssertTrue(GEMVTuning.prefetchesBF16Rows(vendor: "", family: 0, model: 0))                       // aarch64
        XCTAssertEqual(GEMVTuning.prefetchSwitch("0"), false)
        XCTAssertEqual(GEMVTuning.prefetchSwitch("ON"), true)
        XCTAssertNil(GEMVTuning.prefetchSwitch("maybe"))
        let id = GEMVTuning.cpuIdentity()
        XCTAssertEqual(id.vendor, CPUFeatures.current.vendor)
        XCTAssertEqual(id.family, CPUFeatures.current.family)
        XCTAssertEqual(id.model, CPUFeatures.current.model)
    }

    func testUnrunnableOrUnknownSetsAreRefusedWithAClearMessage() {
        guard case .failure(let error) = KernelSet.choose("avx512", cpu: Self.haswell) else { return XCTFail("avx512 on Haswell accepted") }
        XCTAssertEqual(error, .unsupported(.avx512, missing: [.avx512f, .avx512dq, .avx512bw, .avx512vl, .avx512vnni]))
        XCTAssertEqual(error.description,
                       "QWENVL_ISA=avx512: this CPU cannot run the avx512 kernels (missing avx512f avx512dq avx512bw avx512vl avx512vnni)")
        guard case .failure(let arm) = KernelSet.choose("avx2", cpu: Self.arm) else { return XCTFail("avx2 on aarch64 accepted") }
        XCTAssertEqual(arm, .unsupported(.avx2, missing: []))
        guard case .failure(let unknown) = KernelSet.choose("sse9", cpu: Self.zen4) else { return XCTFail("sse9 accepted") }
        XCTAssertEqual(unknown.description, "QWENVL_ISA=sse9 is not a kernel set (use one of: baseline, avx2, avx512)")
        // Activating a set this CPU cannot run throws and leaves the active set alone.
        let before = KernelSet.active.isa
        for isa in KernelSet.ISA.allCases where !isa.runs(on: .current) {
            XCTAssertThrowsError(try KernelSet.activate(isa))
        }
        XCTAssertEqual(KernelSet.active.isa, before)
    }

    func testReportNamesTheSetOfEveryFamily() {
        let lines = KernelReport.lines(cpu: Self.zen4, blasCore: "Haswell", kernels: .set(.avx2), forced: true)
        XCTAssertTrue(lines.contains("kernel set: avx2 (forced by QWENVL_ISA; this CPU runs: baseline avx2 avx512)"), "\(lines)")
        XCTAssertTrue(lines.contains { $0.hasPrefix("gemv bf16/f32/f16 (decode, batched decode): avx2: AVX2 + FMA") }, "\(lines)")
        XCTAssertTrue(lines.contains { $0.hasPrefix("gemv q8/q4 (decode, batched decode, x quantization): avx2: AVX2 vpmaddubsw") })
        let baseline = KernelReport.lines(cpu: Self.nehalem, blasCore: "Nehalem", kernels: .set(.baseline), forced: false)
        XCTAssertTrue(baseline.contains("kernel set: baseline (best for this CPU; this CPU runs: baseline)"), "\(baseline)")
    }

    /// Seeded bytes covering the extremes (0, 255, −128, 127).
    private func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<count).map { i in
            if i % 7 == 0 { return [0, 255, 128, 127, 1][i / 7 % 5] }
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
    }

    /// Each set's copy of the wrappers (baseline: plain Swift; avx2/avx512: the instructions) gives the exact
    /// saturated / wrapped sums, lane for lane.
    func testEverySetsIntegerWrappersComputeTheDefinition() {
        let avx2 = KernelSet.ISA.avx2.runs(on: .current), avx512 = KernelSet.ISA.avx512.runs(on: .current)
        XCTAssertFalse(IntrinsicsBaseline.integerMultiplyAddIsAVX2)
        for round in 0..<100 {
            let a = bytes(32, seed: UInt64(round)), b = bytes(32, seed: UInt64(round) + 1000)
            var va = SIMD32<UInt8>(), vb = SIMD32<Int8>(), wa = SIMD16<Int16>(), wb = SIMD16<Int16>()
            for i in 0..<32 { va[i] = a[i]; vb[i] = Int8(bitPattern: b[i]) }
            for i in 0..<16 {
                wa[i] = Int16(bitPattern: UInt16(a[2 * i]) << 8 | UInt16(b[2 * i + 1]))
                wb[i] = Int16(bitPattern: UInt16(b[2 * i]) << 8 | UInt16(a[2 * i + 1]))
            }
            var pairs = SIMD16<Int16>(), words = SIMD8<Int32>(), signs = SIMD32<Int8>()
            for i in 0..<16 {
                let exact = Int(a[2 * i]) * Int(vb[2 * i]) + Int(a[2 * i + 1]) * Int(vb[2 * i + 1])
                pairs[i] = Int16(min(max(exact, -32768), 32767))
            }
            for i in 0..<8 {
                words[i] = Int32(truncatingIfNeeded: Int64(wa[2 * i]) * Int64(wb[2 * i]) + Int64(wa[2 * i + 1]) * Int64(wb[2 * i + 1]))
            }
            let sa = unsafeBitCast(va, to: SIMD32<Int8>.self)
            for i in 0..<32 { signs[i] = vb[i] < 0 ? 0 &- sa[i] : (vb[i] == 0 ? 0 : sa[i]) }
            var quads = SIMD8<Int32>(repeating: Int32(round * 1000 - 50_000))
            for i in 0..<8 {
                for k in 0..<4 { quads[i] += Int32(a[4 * i + k]) * Int32(vb[4 * i + k]) }
            }
            let start = SIMD8<Int32>(repeating: Int32(round * 1000 - 50_000))
            XCTAssertEqual(IntrinsicsBaseline.multiplyAddQuads(start, va, vb), quads, "baseline vpdpbusd round \(round)")
            if avx512 { XCTAssertEqual(IntrinsicsAVX512.multiplyAddQuads(start, va, vb), quads, "avx512 vpdpbusd round \(round)") }
            XCTAssertEqual(IntrinsicsBaseline.multiplyAddPairs(va, vb), pairs, "baseline round \(round)")
            XCTAssertEqual(IntrinsicsBaseline.multiplyAddPairs(wa, wb), words, "baseline round \(round)")
            XCTAssertEqual(IntrinsicsBaseline.applySigns(sa, of: vb), signs, "baseline round \(round)")
            if avx2 {
                XCTAssertEqual(IntrinsicsAVX2.multiplyAddPairs(va, vb), pairs, "avx2 round \(round)")
                XCTAssertEqual(IntrinsicsAVX2.multiplyAddPairs(wa, wb), words, "avx2 round \(round)")
                XCTAssertEqual(IntrinsicsAVX2.applySigns(sa, of: vb), signs, "avx2 round \(round)")
            }
            if avx512 {
                XCTAssertEqual(IntrinsicsAVX512.multiplyAddPairs(va, vb), pairs, "avx512 round \(round)")
                XCTAssertEqual(IntrinsicsAVX512.multiplyAddPairs(wa, wb), words, "avx512 round \(round)")
                XCTAssertEqual(IntrinsicsAVX512.applySigns(sa, of: vb), signs, "avx512 round \(round)")
            }
        }
    }
}
