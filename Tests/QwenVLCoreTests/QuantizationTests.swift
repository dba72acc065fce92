import Foundation
import XCTest
@testable import QwenVLCore

/// q8 and q4 blocks: the SIMD paths agree with the scalar references, quantization error stays within what the
/// format allows, and the matrix paths (matrix-vector, dequantized sgemm, row lookup) agree with each other.
final class QuantizationTests: XCTestCase {
    /// Values like a trained layer's: mostly small, a few larger, some blocks all positive or all zero.
    func makeValues(_ count: Int, seed: UInt64) -> [Float] {
        var rng = KernelTests.LCG(state: seed)
        return (0..<count).map { i in
            let block = i / 32
            if block % 11 == 5 { return 0 }                               // an all-zero block
            let v = rng.next() * 0.05
            if block % 7 == 3 { return abs(v) + 0.01 }                     // an all-positive block
            return i % 97 == 0 ? v * 20 : v                               // occasional outliers
        }
    }

    func quantize(_ values: [Float], rows: Int, cols: Int, _ encoding: WeightEncoding) -> (WeightMatrix, AlignedBuffer) {
        let buffer = AlignedBuffer(values)
        let matrix = WeightMatrix(buffer, rows: rows, cols: cols)
        return (matrix.converted(to: encoding == .q8 ? .q8 : .q4), buffer)
    }

    func reference(_ encoding: WeightEncoding, row: UnsafeRawPointer, cols: Int) -> [Float] {
        var out = [Float](repeating: 0, count: cols)
        if encoding == .q8 { Q8Blocks.dequantizeRowReference(row, cols: cols, into: &out) } else { Q4Blocks.dequantizeRowReference(row, cols: cols, into: &out) }
        return out
    }

    func testQuantizationErrorWithinFormatBounds() {
        let rows = 24, cols = 512
        let values = makeValues(rows * cols, seed: 3)
        for encoding in [WeightEncoding.q8, .q4] {
            let (m, _) = quantize(values, rows: rows, cols: cols, encoding)
            XCTAssertEqual(m.byteCount, rows * (encoding == .q8 ? 2 * 272 : 2 * 152))
            // Squared error of ours and of the textbook quantizer (uniform grid over [min, max] with exact
            // float parameters: q8 step max|w|/127, q4 step (max − min)/15): ours must not be worse.
            var squared = 0.0, textbook = 0.0
            for r in 0..<rows {
                let decoded = reference(encoding, row: m.base + r * m.rowStride, cols: cols)
                for b in 0..<(cols / 32) {
                    let block = Array(values[(r * cols + b * 32)..<(r * cols + b * 32 + 32)])
                    let lo = Double(block.min()!), hi = Double(block.max()!)
                    let amax = Double(block.map { abs($0) }.max()!)
                    // Largest |block minimum| in the super-block: the q4 minimum codes are 1/127 of it apart.
                    let superStart = r * cols + (b / 8) * 256
                    let minimumSpan = (0..<8).map { k in Double(abs(values[(superStart + 32 * k)..<(superStart + 32 * k + 32)].min()!)) }.max()!
                    let step = encoding == .q8 ? amax / 127 : (hi - lo) / 15
                    for i in 0..<32 {
                        let v = Double(block[i])
                        let error = abs(Double(decoded[b * 32 + i]) - v)
                        // q8: half a step (the f16 scale adds ≤ 127·2⁻¹¹ of one); q4: one step plus a minimum code.
                        let bound = encoding == .q8 ? step * 0.57 + 1e-7 : step + minimumSpan / 127 + 1e-6
                        XCTAssertLessThanOrEqual(error, bound, "\(encoding) row \(r) block \(b) element \(i)")
                        squared += error * error
                        let plain = step > 0 ? (encoding == .q8 ? (v / step).rounded() * step : ((v - lo) / step).rounded() * step + lo) : v
                        textbook += (plain - v) * (plain - v)
                    }
                    if block.allSatisfy({ $0 == 0 }) {
                        XCTAssertEqual(Array(decoded[(b * 32)..<(b * 32 + 32)]), [Float](repeating: 0, count: 32), "zero block stays zero")
                    }
                }
            }
            // q8 differs from the textbook only by the f16 rounding of the scale; q4's fitted (s, μ) beat min/max.
            XCTAssertLessThanOrEqual(squared, textbook * (encoding == .q8 ? 1.02 : 0.95), "\(encoding) total squared error")
            print("\(encoding): squared error \(squared), textbook \(textbook)")
        }
    }

    func testSIMDPathsMatchScalarReferences() {
        for kernels in KernelSet.supported() {
        for (rows, cols) in [(9, 256), (5, 300), (3, 70), (4, 1536)] {
            let values = makeValues(rows * cols, seed: UInt64(rows * cols))
            var rng = KernelTests.LCG(state: 11)
            let x = (0..<cols).map { _ in rng.next() }
            for encoding in [WeightEncoding.q8, .q4] {
                let (m, _) = quantize(values, rows: rows, cols: cols, encoding)
                let superBlocks = Q8Blocks.superBlocks(cols: cols), padded = superBlocks * 256
                var xp = x + [Float](repeating: 0, count: padded - cols)
                var sums = [Float](repeating: 0, count: padded / 32)
                Q4Blocks.blockSums(&xp, superBlocks: superBlocks, into: &sums)
                for r in 0..<rows {
                    let row = m.base + r * m.rowStride
                    let ref = reference(encoding, row: row, cols: cols)
                    // SIMD dequantization equals the scalar reference exactly (same float operations per value).
                    var simd = [Float](repeating: .nan, count: padded)
                    if encoding == .q8 { Q8Blocks.dequantizeRow(row, superBlocks: superBlocks, into: &simd) } else { Q4Blocks.dequantizeRow(row, superBlocks: superBlocks, into: &simd) }
                    XCTAssertEqual(Array(simd[..<cols]), ref, "\(encoding) \(rows)x\(cols) row \(r)")
                    // q8 padding decodes to 0; q4 padding shares its block's minimum (it only ever meets x = 0).
                    XCTAssertTrue(simd[cols...].allSatisfy { encoding == .q8 ? $0 == 0 : $0.isFinite }, "padding")
                    // Dot products: SIMD vs scalar reference vs float64 over the dequantized row.
                    let exact = zip(ref, x).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                    let scale = zip(ref, x).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) } + 1e-6
                    if encoding == .q8 {
                        // q8 decode quantizes x to signed bytes per block of 32: the SIMD dot equals the scalar
                        // reference of that integer algorithm, and stays within x's rounding (≤ ½ of 1/127 of the
                        // block's max|x| per value) of the exact product.
                        var xq = [Int8](repeating: 0, count: padded), xScales = [Float](repeating: 0, count: padded / 32)
                        Q8Blocks.quantizeX(xp, superBlocks: superBlocks, into: &xq, scales: &xScales, kernels: kernels)
                        let integerReference = Q8Blocks.dotReference(row, quantizedX: xq, xScales: xScales, superBlocks: superBlocks)
                        let fast = xq.withUnsafeBytes { Q8Blocks.dot(row, quantizedX: $0.baseAddress!, xScales: xScales, superBlocks: superBlocks, kernels: kernels) }
                        XCTAssertEqual(Double(fast), Double(integerReference), accuracy: 1e-5 * scale, "\(kernels) q8 SIMD dot vs its scalar reference")
                        let rounding = (0..<cols).reduce(0.0) { total, c in
                            let block = xp[(c / 32 * 32)..<(c / 32 * 32 + 32)]
                            return total + abs(Double(ref[c])) * Double(block.map { abs($0) }.max()!) / 127 / 2
                        }
                        XCTAssertEqual(Double(fast), exact, accuracy: rounding + 1e-5 * scale, "q8 SIMD dot vs exact")
                        XCTAssertNotEqual(fast, 0)
                    } else {
                        let scalar = Q4Blocks.dotReference(row, x, cols: cols)
                        XCTAssertEqual(Double(scalar), exact, accuracy: 1e-5 * scale, "q4 scalar dot")
                        // q4 decode quantizes x to signed bytes per super-block: the SIMD dot equals the scalar
                        // reference of that integer algorithm, and stays within x's rounding (≤ ½ of 1/127 of max|x|
                        // per value) of the exact product.
                        var xq = [Int8](repeating: 0, count: padded), xScales = [Float](repeating: 0, count: superBlocks)
                        Q4Blocks.quantizeX(xp, superBlocks: superBlocks, into: &xq, scales: &xScales, kernels: kernels)
                        let integerReference = Q4Blocks.dotReference(row, quantizedX: xq, xScales: xScales, blockSums: sums, superBlocks: superBlocks)
                        let fast = xq.withUnsafeBytes { Q4Blocks.dot(row, quantizedX: $0.baseAddress!, xScales: xScales, blockSums: sums, superBlocks: superBlocks, kernels: kernels) }
                        XCTAssertEqual(Double(fast), Double(integerReference), accuracy: 1e-5 * scale, "\(kernels) q4 SIMD dot vs its scalar reference")
                        // x's rounding meets the scaled nibbles s_b·q = w − μ_b (the minimum term uses exact sums).
                        let largestX = Double(x.map { abs($0) }.max() ?? 0)
                        let scaledNibbles = (0..<cols).reduce(0.0) { total, c in
                            let header = row + (c / 256) * Q4Blocks.superBlockBytes
                            let minimum = header.loadUnaligned(fromByteOffset: 20, as: Float.self)
                                * Float(header.load(fromByteOffset: 8 + (c % 256) / 32, as: Int8.self))
                            return total + abs(Double(ref[c] - minimum))
                        }
                        let rounding = scaledNibbles * largestX / 127 / 2
                        XCTAssertEqual(Double(fast), exact, accuracy: rounding + 1e-5 * scale, "q4 SIMD dot vs exact")
                        XCTAssertNotEqual(fast, 0)
                    }
                }
            }
        }
        }
    }

    func testMatrixPathsAgreeForQuantizedWeights() {
        // 300 columns: one super-block and a padded one; 4,400: 18 super-blocks, 134 rows = pieces of 64, 64 and 6
        // rows (``GEMVTuning/grain``).
        for (rows, cols) in [(70, 300), (134, 4400)] {
            checkMatrixPaths(rows: rows, cols: cols)
        }
    }

    func checkMatrixPaths(rows: Int, cols: Int) {
        let values = makeValues(rows * cols, seed: 5)
        var rng = KernelTests.LCG(state: 13)
        for encoding in [WeightEncoding.q8, .q4] {
            let (m, _) = quantize(values, rows: rows, cols: cols, encoding)
            XCTAssertEqual(m.encoding, encoding)
            XCTAssertEqual(m.converted(to: encoding == .q8 ? .q8 : .q4).base, m.base, "converting to its own format is a no-op")
            let dense = (0..<rows).flatMap { reference(encoding, row: m.base + $0 * m.rowStride, cols: cols) }
            var lookup = [Float](repeating: 0, count: cols)
            m.row(17, into: &lookup)
            XCTAssertEqual(lookup, Array(dense[(17 * cols)..<(18 * cols)]), "row lookup")
            for n in [1, 2, 3, 9] {   // 1–2: matrix-vector on blocks; more: dequantized tiles + sgemm
                let x = (0..<(n * cols)).map { _ in rng.next() }
                let bias = (0..<rows).map { _ in rng.next() }
                let y = m.apply(x, count: n, bias: bias)
                for t in 0..<n { for r in 0..<rows {
                    var s = 0.0, magnitude = 0.0, nibbleMagnitude = 0.0, weightMagnitude = 0.0, largestX = 0.0
                    let row = m.base + r * m.rowStride
                    for c in 0..<cols {
                        s += Double(dense[r * cols + c]) * Double(x[t * cols + c])
                        magnitude += abs(Double(dense[r * cols + c]) * Double(x[t * cols + c]))
                        weightMagnitude += abs(Double(dense[r * cols + c]))
                        if encoding == .q4 {
                            let header = row + (c / 256) * Q4Blocks.superBlockBytes
                            let minimum = header.loadUnaligned(fromByteOffset: 20, as: Float.self)
                                * Float(header.load(fromByteOffset: 8 + (c % 256) / 32, as: Int8.self))
                            nibbleMagnitude += abs(Double(dense[r * cols + c] - minimum))
                        }
                        largestX = max(largestX, abs(Double(x[t * cols + c])))
                    }
                    // Matrix-vector products quantize x to signed bytes (q4 per super-block, q8 per block of 32):
                    // each value moves by at most ½ of 1/127 of the largest |x|, against the scaled nibbles w − μ_b
                    // (q4) or the weights (q8).
                    let rounding = n > 2 ? 0 : (encoding == .q4 ? nibbleMagnitude : weightMagnitude) * largestX / 127 / 2
                    let tolerance = rounding + 1e-5 * magnitude + 1e-6
                    XCTAssertEqual(Double(y[t * rows + r]), s + Double(bias[r]), accuracy: tolerance, "\(encoding) \(rows)×\(cols) n=\(n) t=\(t) r=\(r)")
                } }
            }
        }
    }

    func testNonFiniteWeightsQuantizeToZero() {
        var values = [Float](repeating: 0.01, count: 256)
        values[3] = .nan; values[40] = .infinity; values[200] = -.infinity
        for encoding in [WeightEncoding.q8, .q4] {
            let (m, _) = quantize(values, rows: 1, cols: 256, encoding)
            let decoded = reference(encoding, row: m.base, cols: 256)
            XCTAssertTrue(decoded.allSatisfy { $0.isFinite }, "\(encoding)")
            XCTAssertEqual(decoded[3], 0, accuracy: 1e-3)
            XCTAssertEqual(decoded[100], 0.01, accuracy: 1e-3)
        }
    }

    func testBF16SourceQuantizesLikeItsFloatValues() {
        // A bf16 checkpoint tensor and the same values in f32 give identical quantized bytes.
        var rng = KernelTests.LCG(state: 21)
        let (bf16, exact, keep) = KernelTests.makeWeight(.bf16, rows: 6, cols: 512, rng: &rng)
        let buffer = AlignedBuffer(exact)
        for format in [WeightFormat.q8, .q4] {
            let a = bf16.converted(to: format), b = WeightMatrix(buffer, rows: 6, cols: 512).converted(to: format)
            XCTAssertEqual(Array(UnsafeRawBufferPointer(start: a.base, count: a.byteCount)),
                           Array(UnsafeRawBufferPointer(start: b.base, count: b.byteCount)), "\(format)")
        }
        withExtendedLifetime(keep) {}
    }
}
