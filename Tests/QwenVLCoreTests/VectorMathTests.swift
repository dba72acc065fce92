import Foundation
import XCTest
@testable import QwenVLCore

/// SIMD exp and the activations built on it agree with libm in float64; the thread pool covers every index once.
final class VectorMathTests: XCTestCase {
    func testExpWithinTwoUlpOfLibm() {
        var worst = 0.0
        var x: Float = -87
        while x < 88.7 {
            let lanes = SIMD8<Float>((0..<8).map { x + Float($0) * 0.001_37 })
            let e = VectorMath.exp(lanes)
            for i in 0..<8 {
                let exact = Foundation.exp(Double(lanes[i]))
                let ulp = Double(Float(exact).ulp)
                worst = max(worst, abs(Double(e[i]) - exact) / ulp)
            }
            x += 0.0173
        }
        XCTAssertLessThanOrEqual(worst, 2.0, "max error in ulps")
        let special = VectorMath.exp(SIMD8<Float>(0, -.infinity, .infinity, .nan, -100, 100, 88.72, -87.3))
        XCTAssertEqual(special[0], 1)
        XCTAssertEqual(special[1], 0)
        XCTAssertEqual(special[2], .infinity)
        XCTAssertTrue(special[3].isNaN)
        XCTAssertEqual(special[4], 0)
        XCTAssertEqual(special[5], .infinity)
        let high = Foundation.exp(Double(Float(88.72))), low = Foundation.exp(Double(Float(-87.3)))
        XCTAssertEqual(Double(special[6]), high, accuracy: high * 3e-7)
        XCTAssertEqual(Double(special[7]), low, accuracy: low * 3e-7)
    }

    func testExpNonPositiveMatchesExpBitwise() {
        var x: Float = -88.5
        var checked = 0
        while x <= 0 {
            let lanes = SIMD8<Float>((0..<8).map { Swift.min(0, x + Float($0) * 0.000_917) })
            let fast = VectorMath.expNonPositive(lanes), full = VectorMath.exp(lanes)
            for i in 0..<8 { XCTAssertEqual(fast[i].bitPattern, full[i].bitPattern, "x = \(lanes[i])") }
            checked += 8
            x += 0.003_1
        }
        XCTAssertGreaterThan(checked, 200_000)
        let special = VectorMath.expNonPositive(SIMD8<Float>(0, -0.0, -.infinity, .nan, -100, -87.33, -1e-30, -0.5))
        XCTAssertEqual(special[0], 1)
        XCTAssertEqual(special[1], 1)
        XCTAssertEqual(special[2], 0)
        XCTAssertTrue(special[3].isNaN)
        XCTAssertEqual(special[4], 0)
        XCTAssertEqual(special[5], VectorMath.exp(SIMD8<Float>(repeating: -87.33))[0])
        XCTAssertEqual(special[6], 1)
        XCTAssertEqual(Double(special[7]), Foundation.exp(-0.5), accuracy: 1e-7)
    }

    func testActivationsMatchFloat64() {
        let values: [Float] = (0..<203).map { Float($0 - 101) * 0.173 }
        var silu = values
        let up = [Float](repeating: 1.5, count: values.count)
        Activations.swiGLU(gate: &silu, up: up, count: values.count)
        var quick = values
        Activations.quickGELU(&quick, count: values.count)
        var soft = values
        Activations.softmax(&soft, count: values.count)
        let maximum = values.map(Double.init).max()!
        let z = values.reduce(0.0) { $0 + Foundation.exp(Double($1) - maximum) }
        for (i, v) in values.enumerated() {
            let d = Double(v)
            XCTAssertEqual(Double(silu[i]), d / (1 + Foundation.exp(-d)) * 1.5, accuracy: 1e-6 * max(1, abs(d)))
            XCTAssertEqual(Double(quick[i]), d / (1 + Foundation.exp(-1.702 * d)), accuracy: 1e-6 * max(1, abs(d)))
            XCTAssertEqual(Double(soft[i]), Foundation.exp(d - maximum) / z, accuracy: 1e-7)
        }
    }

    func testNormalizationMatchesFloat64() {
        let d = 77
        let x: [Float] = (0..<(3 * d)).map { Float(($0 * 37) % 23) * 0.31 - 3 }
        let w: [Float] = (0..<d).map { 1 + Float($0 % 5) * 0.1 }
        let b: [Float] = (0..<d).map { Float($0 % 3) * 0.01 }
        var rms = x
        Normalization.rmsNorm(&rms, rows: 3, dim: d, weight: w, eps: 1e-6)
        var layer = [Float](repeating: 0, count: x.count)
        Normalization.layerNorm(x, rows: 3, dim: d, weight: w, bias: b, eps: 1e-6, into: &layer)
        for r in 0..<3 {
            let row = x[(r * d)..<((r + 1) * d)].map(Double.init)
            let ms = row.reduce(0) { $0 + $1 * $1 } / Double(d)
            let mean = row.reduce(0, +) / Double(d)
            let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(d)
            for i in 0..<d {
                XCTAssertEqual(Double(rms[r * d + i]), Double(w[i]) * row[i] / (ms + 1e-6).squareRoot(), accuracy: 1e-5)
                XCTAssertEqual(Double(layer[r * d + i]), (row[i] - mean) / (variance + 1e-6).squareRoot() * Double(w[i]) + Double(b[i]), accuracy: 1e-5)
            }
        }
    }

    func testParallelCoversEveryIndexOnceAndNests() {
        let original = Parallel.threadCount
        defer { Parallel.setThreadCount(original) }
        for threads in [1, 2, 3, 5] {
            Parallel.setThreadCount(threads)
            XCTAssertEqual(Parallel.threadCount, threads)
            for count in [0, 1, 7, 64, 1000] {
                let hits = UnsafeMutablePointer<Int>.allocate(capacity: max(count, 1))
                hits.initialize(repeating: 0, count: max(count, 1))
                defer { hits.deallocate() }
                Parallel.forChunks(count, minChunk: 2) { range in
                    for i in range { hits[i] += 1 }
                    // A nested call runs inline on this thread.
                    Parallel.forChunks(4) { inner in XCTAssertLessThanOrEqual(inner.count, 4) }
                }
                XCTAssertTrue((0..<count).allSatisfy { hits[$0] == 1 }, "threads \(threads) count \(count)")
            }
        }
        Parallel.setThreadCount(0)
        XCTAssertEqual(Parallel.threadCount, 1, "clamped to at least one thread")
    }

    func testDynamicChunksCoverEveryIndexOnceInGrainPieces() {
        let original = Parallel.threadCount
        defer { Parallel.setThreadCount(original) }
        for threads in [1, 2, 3] {
            Parallel.setThreadCount(threads)
            for (count, grain) in [(0, 4), (1, 4), (7, 4), (64, 64), (1000, 64), (1001, 16)] {
                let hits = UnsafeMutablePointer<Int>.allocate(capacity: max(count, 1))
                hits.initialize(repeating: 0, count: max(count, 1))
                defer { hits.deallocate() }
                Parallel.forDynamicChunks(count, grain: grain) { range in
                    // Pieces start on a grain boundary and hold a whole grain, but for the last one.
                    XCTAssertEqual(range.lowerBound % grain, 0)
                    XCTAssertTrue(range.count == grain || range.upperBound == count, "piece \(range)")
                    for i in range { hits[i] += 1 }
                    Parallel.forDynamicChunks(8, grain: 2) { inner in XCTAssertLessThanOrEqual(inner.count, 8) }
                }
                XCTAssertTrue((0..<count).allSatisfy { hits[$0] == 1 }, "threads \(threads) count \(count)")
            }
        }
    }
}
