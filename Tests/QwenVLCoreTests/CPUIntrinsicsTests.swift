import XCTest
import CPUIntrinsics

/// The integer multiply-add wrappers give, lane for lane, what the instructions are documented to compute.
final class CPUIntrinsicsTests: XCTestCase {
    /// Seeded bytes covering the extremes (0, 255, −128, 127) as well as random values.
    private func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<count).map { i in
            if i % 7 == 0 { return [0, 255, 128, 127, 1][i / 7 % 5] }
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
    }

    func testUnsignedBySignedBytePairs() {
        for round in 0..<200 {
            let a = bytes(32, seed: UInt64(round)), b = bytes(32, seed: UInt64(round) + 1000)
            var va = SIMD32<UInt8>(), vb = SIMD32<Int8>()
            for i in 0..<32 { va[i] = a[i]; vb[i] = Int8(bitPattern: b[i]) }
            let result = multiplyAddPairs(va, vb)
            for i in 0..<16 {
                let exact = Int(a[2 * i]) * Int(Int8(bitPattern: b[2 * i])) + Int(a[2 * i + 1]) * Int(Int8(bitPattern: b[2 * i + 1]))
                XCTAssertEqual(Int(result[i]), min(max(exact, -32768), 32767), "round \(round) lane \(i)")
            }
        }
        // Saturation both ways: 255·127·2 and 255·(−128)·2.
        XCTAssertEqual(multiplyAddPairs(SIMD32<UInt8>(repeating: 255), SIMD32<Int8>(repeating: 127)), SIMD16<Int16>(repeating: 32767))
        XCTAssertEqual(multiplyAddPairs(SIMD32<UInt8>(repeating: 255), SIMD32<Int8>(repeating: -128)), SIMD16<Int16>(repeating: -32768))
    }

    func testSigned16BitPairs() {
        for round in 0..<200 {
            let a = bytes(64, seed: UInt64(round) + 7), b = bytes(64, seed: UInt64(round) + 77)
            var va = SIMD16<Int16>(), vb = SIMD16<Int16>()
            for i in 0..<16 {
                va[i] = Int16(bitPattern: UInt16(a[2 * i]) << 8 | UInt16(a[2 * i + 1]))
                vb[i] = Int16(bitPattern: UInt16(b[2 * i]) << 8 | UInt16(b[2 * i + 1]))
            }
            let result = multiplyAddPairs(va, vb)
            for i in 0..<8 {
                let exact = Int64(va[2 * i]) * Int64(vb[2 * i]) + Int64(va[2 * i + 1]) * Int64(vb[2 * i + 1])
                XCTAssertEqual(Int64(result[i]), Int64(Int32(truncatingIfNeeded: exact)), "round \(round) lane \(i)")
            }
        }
    }
}
