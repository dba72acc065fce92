import Foundation
import XCTest
import QwenVLMedia

/// Damaged files must either decode or throw a `MediaError`; never crash, hang or trap.
/// Deterministic: truncations and byte flips of every decode fixture (`QWENVL_MEDIA_FUZZ=<n>` raises the
/// number of flips per file for a longer local run).
final class CorruptInputTests: XCTestCase {
    func testTruncatedAndBitFlippedFixturesNeverCrash() throws {
        let flipsPerFile = Int(ProcessInfo.processInfo.environment["QWENVL_MEDIA_FUZZ"] ?? "") ?? 12
        let cases = try MediaFixtures.decodeCases(prefix: "")
        let decoder = ImageDecoder(maxPixels: 1 << 22)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func random(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(max(bound, 1)))
        }
        var decoded = 0, failed = 0
        for item in cases {
            let original = [UInt8](try MediaFixtures.data("decode/\(item.file)"))
            var variants: [[UInt8]] = [8, 13, 30, 64, original.count / 3, original.count - 1]
                .filter { $0 > 0 && $0 < original.count }
                .map { Array(original.prefix($0)) }
            for _ in 0..<flipsPerFile {
                var copy = original
                for _ in 0..<(1 + random(4)) {
                    // Mostly the header region, where structure lives; sometimes anywhere.
                    let at = random(2) == 0 ? random(min(copy.count, 128)) : random(copy.count)
                    copy[at] = random(3) == 0 ? 0xFF : UInt8(truncatingIfNeeded: random(256))
                }
                variants.append(copy)
            }
            for bytes in variants {
                do {
                    _ = try decoder.decode(bytes)
                    decoded += 1
                } catch is MediaError {
                    failed += 1
                }
            }
        }
        XCTAssertGreaterThan(failed, 0)
        XCTAssertGreaterThan(decoded, 0)
    }
}
