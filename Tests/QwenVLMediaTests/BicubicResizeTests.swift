import Foundation
import XCTest
@testable import QwenVLMedia

/// Resize output must be bit-identical to Pillow 11.3 `Image.resize((w, h))` (default BICUBIC).
final class BicubicResizeTests: XCTestCase {
    func testMatchesPillowOnAllFixtureShapes() throws {
        let cases = try MediaFixtures.manifest("resize_cases.json",
                                               as: MediaFixtures.Manifest<MediaFixtures.ResizeCase>.self).cases
        XCTAssertGreaterThanOrEqual(cases.count, 40)
        let blob = [UInt8](try MediaFixtures.data("resize_cases.bin"))
        var kinds = Set<String>()
        for c in cases {
            let srcCount = c.src_width * c.src_height * 3, dstCount = c.dst_width * c.dst_height * 3
            let source = try RGBImage(width: c.src_width, height: c.src_height,
                                      pixels: Array(blob[c.src_offset..<c.src_offset + srcCount]))
            let expected = Array(blob[c.dst_offset..<c.dst_offset + dstCount])
            let label = "\(c.src_width)×\(c.src_height) → \(c.dst_width)×\(c.dst_height)"
            assertSameRGB(try source.resized(width: c.dst_width, height: c.dst_height), expected: expected,
                          width: c.dst_width, height: c.dst_height, label)
            kinds.insert(Self.kind(c.src_width, c.dst_width) + "/" + Self.kind(c.src_height, c.dst_height))
        }
        // The shapes cover down, up and unchanged on each axis, in every combination.
        for kind in ["down/down", "up/up", "down/up", "up/down", "same/down", "down/same", "same/up", "up/same",
                     "same/same"] {
            XCTAssertTrue(kinds.contains(kind), "no resize case of kind \(kind)")
        }
    }

    func testDecodeThenResizeMatchesTheRealFetchImage() async throws {
        // The fixture bytes are the output of qwen-vl-utils' own fetch_image({"image": "file://…"}).
        let cases = try MediaFixtures.manifest("fetch_image_cases.json",
                                               as: MediaFixtures.Manifest<MediaFixtures.DecodeCase>.self).cases
        XCTAssertGreaterThanOrEqual(cases.count, 5)
        for item in cases {
            let reference = "file://" + MediaFixtures.url("decode/\(item.file)").path
            let image = try await ImageSource(reference: reference).loadImage()
            let expected = [UInt8](try MediaFixtures.data("decode/\(item.rgb)"))
            assertSameRGB(try image.resized(width: item.width, height: item.height), expected: expected,
                          width: item.width, height: item.height, "fetch_image(\(item.file))")
        }
    }

    func testRejectsNonPositiveSizes() throws {
        let image = try RGBImage(width: 2, height: 2, pixels: [UInt8](repeating: 7, count: 12))
        XCTAssertThrowsError(try image.resized(width: 0, height: 2)) { error in
            XCTAssertEqual(error as? MediaError, .invalidDimensions(width: 0, height: 2))
        }
        XCTAssertThrowsError(try image.resized(width: 3, height: -1))
    }

    func testCoefficientTablesFollowPillowBounds() {
        // 640 → 476 (scale 1.3445…, support 2.689): ksize = ceil(2.689)·2 + 1 = 7; output 0 reads source
        // 0..<trunc(0.672 + 2.689 + 0.5) = 0..<3; these bounds come from Resample.c's formulas.
        let c = ResampleCoefficients(inSize: 640, outSize: 476)
        XCTAssertEqual(c.ksize, 7)
        XCTAssertEqual(c.start(0), 0)
        XCTAssertEqual(c.count(0), 3)
        // Every row of weights sums to 2^22 within the rounding of its taps.
        for i in 0..<c.outSize {
            let sum = (0..<c.count(i)).reduce(0) { $0 + Int(c.weights[i * c.ksize + $1]) }
            XCTAssertLessThanOrEqual(abs(sum - (1 << 22)), c.count(i))
        }
    }

    private static func kind(_ from: Int, _ to: Int) -> String { to < from ? "down" : (to > from ? "up" : "same") }
}
