import Foundation
import XCTest
@testable import QwenVLCore

/// The batched matrix-vector product gives, for every vector, the bits the one-vector product gives — for every
/// storage format and both row paths (one row at a time, four rows per x load) — and the float64 product within
/// rounding.
final class BatchedMatrixVectorTests: XCTestCase {
    func vectors(_ n: Int, cols: Int, seed: UInt64) -> [Float] {
        var rng = KernelTests.LCG(state: seed)
        return (0..<(n * cols)).map { _ in rng.next() }
    }

    /// Batch sizes checked: every size up to 9 (one and two groups of every kernel set's batched dots, with each
    /// remainder) and 16.
    static let counts = Array(1...9) + [16]

    func check(_ matrix: WeightMatrix, exact: [Float]?, label: String, counts: [Int] = counts) {
        let rows = matrix.rows, cols = matrix.cols
        for n in counts {
            let x = vectors(n, cols: cols, seed: UInt64(n * 31 + rows))
            let bias = vectors(1, cols: rows, seed: 7)
            var solo = [Float](repeating: 0, count: n * rows)
            for b in 0..<n {
                let one = matrix.apply(Array(x[(b * cols)..<((b + 1) * cols)]), count: 1, bias: bias)
                solo.replaceSubrange((b * rows)..<((b + 1) * rows), with: one)
            }
            let batched = matrix.applyRows(x, count: n, bias: bias)
            XCTAssertEqual(batched, solo, "\(label) n=\(n): batched rows differ from one-vector products")
            var residual = vectors(n, cols: rows, seed: 99)
            var expected = residual
            for b in 0..<n {
                var row = Array(residual[(b * rows)..<((b + 1) * rows)])
                matrix.apply(Array(x[(b * cols)..<((b + 1) * cols)]), count: 1, accumulatingInto: &row)
                expected.replaceSubrange((b * rows)..<((b + 1) * rows), with: row)
            }
            matrix.applyRows(x, count: n, accumulatingInto: &residual)
            XCTAssertEqual(residual, expected, "\(label) n=\(n): accumulating form")
            if let exact {
                for b in 0..<n {
                    for r in Swift.stride(from: 0, to: rows, by: 17) {
                        var sum = Double(bias[r])
                        for c in 0..<cols { sum += Double(exact[r * cols + c]) * Double(x[b * cols + c]) }
                        XCTAssertEqual(Double(batched[b * rows + r]), sum, accuracy: 1e-3 * Double(cols).squareRoot(), "\(label) [\(b), \(r)]")
                    }
                }
            }
        }
    }

    /// Runs `body` once with every kernel set this CPU runs active (labels get the set's name), then restores it.
    static func forEachKernelSet(_ body: (KernelSet) throws -> Void) rethrows {
        let original = KernelSet.active.isa
        defer { try? KernelSet.activate(original) }
        for set in KernelSet.supported() {
            try? KernelSet.activate(set.isa)
            XCTAssertEqual(KernelSet.active.isa, set.isa)
            try body(set)
        }
    }

    func testDenseFormatsAreBitIdenticalToOneVectorProducts() {
        Self.forEachKernelSet { set in
        var rng = KernelTests.LCG(state: 5)
        // 1,536 columns take the one-row path, 4,160 > 4,096 the four-row path (with a tail of 2 rows); odd counts:
        // 1,583 = 24·64 + 47 and 4,175 = 130·32 + 15 end in a partial pair register and single values, 67 rows in a
        // three-row tail, 40 columns are shorter than one 64-value step.
        for (rows, cols) in [(70, 1536), (66, 4160), (9, 40), (67, 1583), (67, 4175)] {
            for dtype in [DType.bf16, .f32, .f16] {
                let (matrix, exact, owner) = KernelTests.makeWeight(dtype, rows: rows, cols: cols, rng: &rng)
                check(matrix, exact: exact, label: "\(set) \(dtype) [\(rows)×\(cols)]")
                withExtendedLifetime(owner) {}
            }
        }
        }
    }

    func testQuantizedFormatsAreBitIdenticalToOneVectorProducts() {
        Self.forEachKernelSet { set in
        var rng = KernelTests.LCG(state: 11)
        // 300 and 1,001 columns end in a zero-padded super-block; 67 rows in a three-row tail.
        for (rows, cols) in [(70, 1536), (5, 300), (67, 1001)] {
            let values = (0..<(rows * cols)).map { _ in rng.next() * 0.05 }
            let buffer = AlignedBuffer(values)
            let dense = WeightMatrix(buffer, rows: rows, cols: cols)
            for format in [WeightFormat.q8, .q4] {
                check(dense.converted(to: format), exact: nil, label: "\(set) \(format) [\(rows)×\(cols)]")
            }
            withExtendedLifetime(buffer) {}
        }
        }
    }
}

/// Grouped matrix-matrix products (prompts prefilled together) give every group the bits of its own product.
final class GroupedMatrixMatrixTests: XCTestCase {
    func testEveryGroupHasTheBitsOfItsLoneProduct() {
        var rng = KernelTests.LCG(state: 21)
        let counts = [5, 1, 17, 2, 3, 40]
        let n = counts.reduce(0, +)
        // [260×280]: its 40-row group takes the bf16 path on CPUs with bf16 dot products (BF16GEMM), alone as well.
        for (rows, cols) in [(70, 96), (33, 300), (260, 280)] {
            let x = (0..<(n * cols)).map { _ in rng.next() }
            let bias = (0..<rows).map { _ in rng.next() }
            var matrices: [(WeightMatrix, String)] = []
            var owners: [AnyObject] = []
            for dtype in [DType.bf16, .f32, .f16] {
                let (m, _, owner) = KernelTests.makeWeight(dtype, rows: rows, cols: cols, rng: &rng)
                matrices.append((m, "\(dtype)"))
                owners.append(owner)
            }
            let buffer = AlignedBuffer((0..<(rows * cols)).map { _ in rng.next() * 0.05 })
            let dense = WeightMatrix(buffer, rows: rows, cols: cols)
            matrices.append((dense, "f32 aligned"))
            matrices.append((dense.converted(to: .q8), "q8"))
            matrices.append((dense.converted(to: .q4), "q4"))
            for (matrix, label) in matrices {
                var expected: [Float] = [], expectedSum: [Float] = []
                let residual = (0..<(n * rows)).map { _ in rng.next() }
                var offset = 0
                for c in counts {
                    let xs = Array(x[(offset * cols)..<((offset + c) * cols)])
                    expected += matrix.apply(xs, count: c, bias: bias)
                    var r = Array(residual[(offset * rows)..<((offset + c) * rows)])
                    matrix.apply(xs, count: c, accumulatingInto: &r)
                    expectedSum += r
                    offset += c
                }
                XCTAssertEqual(matrix.applyGroups(x, counts: counts, bias: bias), expected, "\(label) [\(rows)×\(cols)]")
                var sum = residual
                matrix.applyGroups(x, counts: counts, accumulatingInto: &sum)
                XCTAssertEqual(sum, expectedSum, "\(label) [\(rows)×\(cols)] accumulating")
                // One product over all rows is not what each group gets alone (why the groups are kept apart).
                if label == "f32" { XCTAssertNotEqual(matrix.apply(x, count: n, bias: bias), expected, "sgemm rows did not depend on the row count") }
            }
            withExtendedLifetime(owners) {}
            withExtendedLifetime(buffer) {}
        }
    }
}
