import Foundation
import XCTest
@testable import QwenVLCore

/// Each kernel path agrees with a float64 scalar reference.
final class KernelTests: XCTestCase {
    struct LCG {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2_000_000) / 1_000_000 - 1
        }
    }

    /// Builds a weight of `dtype` stored raw (as a checkpoint would) and its exact float values.
    static func makeWeight(_ dtype: DType, rows: Int, cols: Int, rng: inout LCG) -> (WeightMatrix, [Float], AnyObject) {
        var exact = [Float](repeating: 0, count: rows * cols)
        var raw = [UInt8]()
        for i in 0..<(rows * cols) {
            let v = rng.next()
            switch dtype {
            case .f32: exact[i] = v; withUnsafeBytes(of: v.bitPattern) { raw += $0 }
            case .bf16: let b = floatToBF16(v); exact[i] = bf16ToFloat(b); withUnsafeBytes(of: b) { raw += $0 }
            case .f16: let h = Float16(v); exact[i] = Float(h); withUnsafeBytes(of: h.bitPattern) { raw += $0 }
            }
        }
        let storage = RawStorage(raw)
        let info = TensorInfo(name: "w", dtype: dtype, shape: [rows, cols], byteRange: 0..<raw.count)
        return (WeightMatrix(StoredTensor(info: info, pointer: UnsafeRawPointer(storage.pointer), owner: storage)), exact, storage)
    }

    final class RawStorage {
        let pointer: UnsafeMutableRawPointer
        init(_ bytes: [UInt8]) {
            pointer = .allocate(byteCount: bytes.count + 2, alignment: 64) + 2   // deliberately misaligned by 2
            pointer.copyMemory(from: bytes, byteCount: bytes.count)
        }
        deinit { (pointer - 2).deallocate() }
    }

    func reference(_ w: [Float], _ x: [Float], rows: Int, cols: Int, n: Int) -> [Double] {
        var y = [Double](repeating: 0, count: n * rows)
        for t in 0..<n { for r in 0..<rows {
            var s = 0.0
            for c in 0..<cols { s += Double(w[r * cols + c]) * Double(x[t * cols + c]) }
            y[t * rows + r] = s
        } }
        return y
    }

    func testMatrixProductsAllDtypesAndPaths() {
        var rng = LCG(state: 42)
        for dtype in DType.allCases {
            // Rows up to 4096 wide run one at a time, wider ones four at a time (9 × 4133: both tails).
            for (rows, cols) in [(37, 70), (64, 128), (130, 33), (9, 4133)] {
                let (w, exact, keep) = Self.makeWeight(dtype, rows: rows, cols: cols, rng: &rng)
                for n in [1, 2, 5, 40] {   // 1–2: SIMD matrix-vector; more: converted tiles + sgemm
                    let x = (0..<(n * cols)).map { _ in rng.next() }
                    let bias = (0..<rows).map { _ in rng.next() }
                    let y = w.apply(x, count: n, bias: bias)
                    let ref = reference(exact, x, rows: rows, cols: cols, n: n)
                    for i in 0..<y.count {
                        XCTAssertEqual(Double(y[i]), ref[i] + Double(bias[i % rows]), accuracy: 1e-4, "\(dtype) \(rows)x\(cols) n=\(n) i=\(i)")
                    }
                }
                withExtendedLifetime(keep) {}
            }
        }
    }

    /// `apply(_:count:accumulatingInto:bias:)` (residual connections) adds to y on every path: matrix-vector, tiles
    /// + sgemm with y as C, and the aligned float32 weights that sgemm reads in place.
    func testAccumulatingProductsAddToY() {
        var rng = LCG(state: 9)
        for (dtype, convert) in [(DType.bf16, false), (.f16, false), (.f32, false), (.bf16, true)] {
            let (rows, cols) = (70, 96)
            let (stored, exact, keep) = Self.makeWeight(dtype, rows: rows, cols: cols, rng: &rng)
            let w = convert ? stored.converted(to: .f32) : stored   // converted: 64-byte-aligned f32, sgemm in place
            for n in [1, 2, 5, 40] {
                let x = (0..<(n * cols)).map { _ in rng.next() }
                let y0 = (0..<(n * rows)).map { _ in rng.next() }
                let ref = reference(exact, x, rows: rows, cols: cols, n: n)
                for withBias in [false, true] {
                    let bias = withBias ? (0..<rows).map { _ in rng.next() } : nil
                    var y = y0
                    w.apply(x, count: n, accumulatingInto: &y, bias: bias)
                    for i in 0..<y.count {
                        let expected = Double(y0[i]) + ref[i] + Double(bias?[i % rows] ?? 0)
                        XCTAssertEqual(Double(y[i]), expected, accuracy: 1e-4, "\(dtype) converted \(convert) n=\(n) bias \(withBias) i=\(i)")
                    }
                }
            }
            withExtendedLifetime(keep) {}
        }
    }

    func testCausalAttentionMatchesNaive() {
        var rng = LCG(state: 7)
        let heads = 4, kvHeads = 2, hd = 8
        for (start, n) in [(0, 1), (0, 5), (3, 2), (0, 300), (10, 20)] {
            let total = start + n
            let q = (0..<(n * heads * hd)).map { _ in rng.next() }
            let k = (0..<(total * kvHeads * hd)).map { _ in rng.next() }
            let v = (0..<(total * kvHeads * hd)).map { _ in rng.next() }
            var out = [Float](repeating: 0, count: n * heads * hd)
            Attention.causal(q: q, count: n, keys: k, values: v, start: start, heads: heads, kvHeads: kvHeads, headDim: hd, out: &out)
            for i in 0..<n { for h in 0..<heads {
                let kvh = h / (heads / kvHeads)
                let visible = start + i + 1
                var scores = (0..<visible).map { t -> Double in
                    var s = 0.0
                    for d in 0..<hd { s += Double(q[(i * heads + h) * hd + d]) * Double(k[(t * kvHeads + kvh) * hd + d]) }
                    return s / Double(hd).squareRoot()
                }
                let m = scores.max()!
                scores = scores.map { exp($0 - m) }
                let z = scores.reduce(0, +)
                for d in 0..<hd {
                    var o = 0.0
                    for t in 0..<visible { o += scores[t] / z * Double(v[(t * kvHeads + kvh) * hd + d]) }
                    XCTAssertEqual(Double(out[(i * heads + h) * hd + d]), o, accuracy: 1e-5, "start \(start) n \(n)")
                }
            } }
        }
    }

    func testBlockDiagonalAttentionStaysInsideBlocks() {
        var rng = LCG(state: 9)
        let heads = 2, hd = 4, n = 12
        let cu = [0, 4, 12]
        let qkv = (0..<(n * 3 * heads * hd)).map { _ in rng.next() }
        var out = [Float](repeating: 0, count: n * heads * hd)
        Attention.blockDiagonal(qkv: qkv, cuSeqlens: cu, heads: heads, headDim: hd, out: &out)
        let w = heads * hd
        for b in 0..<2 { for i in cu[b]..<cu[b + 1] { for h in 0..<heads {
            let keys = cu[b]..<cu[b + 1]
            var scores = keys.map { t -> Double in
                var s = 0.0
                for d in 0..<hd { s += Double(qkv[i * 3 * w + h * hd + d]) * Double(qkv[t * 3 * w + w + h * hd + d]) }
                return s / Double(hd).squareRoot()
            }
            let m = scores.max()!
            scores = scores.map { exp($0 - m) }
            let z = scores.reduce(0, +)
            for d in 0..<hd {
                var o = 0.0
                for (j, t) in keys.enumerated() { o += scores[j] / z * Double(qkv[t * 3 * w + 2 * w + h * hd + d]) }
                XCTAssertEqual(Double(out[i * w + h * hd + d]), o, accuracy: 1e-5)
            }
        } } }
    }

    func testNumpyRoundTrip() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("qwenvl-\(UUID().uuidString).npy")
        defer { try? FileManager.default.removeItem(at: url) }
        try NumpyFile.write([1, -2.5, 3e-7], shape: [3], to: url)
        let (values, shape) = try NumpyFile.read(url)
        XCTAssertEqual(values, [1, -2.5, 3e-7])
        XCTAssertEqual(shape, [3])
        let data = try Data(contentsOf: url)
        XCTAssertEqual((10 + Int(data[8])) % 64, 0, "header padded to 64 bytes")
    }
}
