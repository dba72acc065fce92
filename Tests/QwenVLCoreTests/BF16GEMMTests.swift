import Foundation
import XCTest
@testable import QwenVLCore

/// The bf16 matrix products (oneDNN, AVX-512-BF16/AMX) agree with a float64 reference of bf16-rounded inputs.
final class BF16GEMMTests: XCTestCase {
    func testRoundingIsNearestEven() {
        // 1 + 2⁻⁸ lies halfway between two bf16 values: ties go to the even one (1.0); a hair above rounds up.
        XCTAssertEqual(BF16GEMM.roundOne(1 + 0x1p-8), 0x3F80)
        XCTAssertEqual(BF16GEMM.roundOne(1 + 0x1p-8 + 0x1p-20), 0x3F81)
        XCTAssertEqual(BF16GEMM.roundOne(1 + 3 * 0x1p-8), 0x3F82)                // tie between 0x3F81 and 0x3F82 → even
        XCTAssertEqual(BF16GEMM.roundOne(-2.5), 0xC020)
        XCTAssertEqual(BF16GEMM.roundOne(.infinity), 0x7F80)
        XCTAssertTrue(bf16ToFloat(BF16GEMM.roundOne(.nan)).isNaN)
        XCTAssertEqual(BF16GEMM.roundOne(Float.greatestFiniteMagnitude), 0x7F80)  // overflows to infinity, as RNE does
        // The SIMD loop keeps NaN a NaN (including one whose payload is only in the low 16 bits) and infinities.
        var special = [Float](repeating: 1.5, count: 16)
        special[3] = .nan; special[4] = Float(bitPattern: 0x7F80_0001); special[5] = -.infinity; special[6] = .infinity
        var packed = [UInt16](repeating: 0, count: 16)
        special.withUnsafeBufferPointer { BF16GEMM.round($0.baseAddress!, count: 16, into: &packed) }
        XCTAssertTrue(bf16ToFloat(packed[3]).isNaN && bf16ToFloat(packed[4]).isNaN)
        XCTAssertEqual(packed[5], 0xFF80); XCTAssertEqual(packed[6], 0x7F80); XCTAssertEqual(packed[0], 0x3FC0)
        // The SIMD loop and the scalar tail agree on 1,000 random values (both paths: 992 + 8).
        var rng = KernelTests.LCG(state: 5)
        let x = (0..<1000).map { _ in rng.next() * 1000 }
        var out = [UInt16](repeating: 0, count: 1000)
        x.withUnsafeBufferPointer { BF16GEMM.round($0.baseAddress!, count: 1000, into: &out) }
        for i in 0..<1000 {
            XCTAssertEqual(out[i], BF16GEMM.roundOne(x[i]), "i=\(i)")
            XCTAssertLessThanOrEqual(abs(bf16ToFloat(out[i]) - x[i]), abs(x[i]) * 0x1p-8, "i=\(i)")
        }
    }

    /// bf16, q8 and q4 weights; plain, with bias, accumulating; 256-wide matrices with n = 32 take the bf16 path by
    /// the automatic rule, small ones only when forced.
    func testProductsMatchRoundedReference() throws {
        guard BF16GEMM.isSupported else {
            throw XCTSkip("no bf16 dot products on this CPU (oneDNN ISA \(BF16GEMM.libraryISA))")
        }
        var rng = KernelTests.LCG(state: 77)
        let saved = BF16GEMM.mode
        defer { BF16GEMM.mode = saved }
        for (rows, cols, n, mode) in [(300, 520, 32, BF16GEMM.Mode.automatic), (257, 1030, 45, .automatic), (37, 70, 5, .always)] {
            BF16GEMM.mode = mode
            let (stored, _, keep) = KernelTests.makeWeight(.bf16, rows: rows, cols: cols, rng: &rng)
            for format in [WeightFormat.stored, .q8, .q4] {
                let w = stored.converted(to: format)
                XCTAssertTrue(w.usesBF16GEMM(count: n), "\(format) \(rows)x\(cols) n=\(n)")
                // The values the product sees: each decoded weight and each x element rounded to bf16.
                var decoded = [Float](repeating: 0, count: rows * cols)
                decoded.withUnsafeMutableBufferPointer { p in for r in 0..<rows { w.row(r, into: p.baseAddress! + r * cols) } }
                let wr = decoded.map { bf16ToFloat(BF16GEMM.roundOne($0)) }
                let x = (0..<(n * cols)).map { _ in rng.next() }
                let xr = x.map { bf16ToFloat(BF16GEMM.roundOne($0)) }
                let bias = (0..<rows).map { _ in rng.next() }
                let y0 = (0..<(n * rows)).map { _ in rng.next() }
                for (withBias, accumulate) in [(false, false), (true, false), (false, true), (true, true)] {
                    var y = y0
                    if accumulate {
                        w.apply(x, count: n, accumulatingInto: &y, bias: withBias ? bias : nil)
                    } else {
                        y = w.apply(x, count: n, bias: withBias ? bias : nil)
                    }
                    var worst = 0.0
                    for t in 0..<n {
                        for r in 0..<rows {
                            var sum = 0.0, magnitude = 0.0
                            for c in 0..<cols {
                                let p = Double(wr[r * cols + c]) * Double(xr[t * cols + c])
                                sum += p; magnitude += abs(p)
                            }
                            let expected = sum + (withBias ? Double(bias[r]) : 0) + (accumulate ? Double(y0[t * rows + r]) : 0)
                            // f32 accumulation: a few ulps of the magnitude of the terms.
                            let error = abs(Double(y[t * rows + r]) - expected) / (magnitude + 1)
                            worst = max(worst, error)
                        }
                    }
                    XCTAssertLessThan(worst, 2e-6, "\(format) \(rows)x\(cols) n=\(n) bias \(withBias) accumulate \(accumulate)")
                }
            }
            withExtendedLifetime(keep) {}
        }
    }

    /// The automatic rule leaves small products, f32/f16 weights and `never` on the f32 path.
    func testRuleKeepsSmallAndFloatProductsOnF32() {
        var rng = KernelTests.LCG(state: 3)
        let saved = BF16GEMM.mode
        defer { BF16GEMM.mode = saved }
        BF16GEMM.mode = .automatic
        let (bf16, _, keep1) = KernelTests.makeWeight(.bf16, rows: 300, cols: 300, rng: &rng)
        let (f32, _, keep2) = KernelTests.makeWeight(.f32, rows: 300, cols: 300, rng: &rng)
        let (f16, _, keep3) = KernelTests.makeWeight(.f16, rows: 300, cols: 300, rng: &rng)
        let (small, _, keep4) = KernelTests.makeWeight(.bf16, rows: 64, cols: 300, rng: &rng)
        XCTAssertEqual(bf16.usesBF16GEMM(count: 32), BF16GEMM.isSupported)
        XCTAssertFalse(bf16.usesBF16GEMM(count: BF16GEMM.minimumCount - 1))
        XCTAssertFalse(f32.usesBF16GEMM(count: 512))
        XCTAssertFalse(f16.usesBF16GEMM(count: 512))
        XCTAssertFalse(small.usesBF16GEMM(count: 512))
        XCTAssertFalse(bf16.converted(to: .f32).usesBF16GEMM(count: 512))
        BF16GEMM.mode = .never
        XCTAssertFalse(bf16.usesBF16GEMM(count: 512))
        withExtendedLifetime((keep1, keep2, keep3, keep4)) {}
    }
}
