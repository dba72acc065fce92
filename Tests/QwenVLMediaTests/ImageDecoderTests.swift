import Foundation
import XCTest
@testable import QwenVLMedia

/// Decoded RGB must equal what Pillow 11.3 + qwen-vl-utils' `to_rgb` produce (fixtures from
/// scripts/fixtures/generate_media.py).
final class ImageDecoderTests: XCTestCase {
    private func checkGroup(_ prefix: String, minimumCases: Int) throws {
        let cases = try MediaFixtures.decodeCases(prefix: prefix)
        XCTAssertGreaterThanOrEqual(cases.count, minimumCases, "fixture manifest lost \(prefix) cases")
        let decoder = ImageDecoder()
        for item in cases {
            let expected = [UInt8](try MediaFixtures.data("decode/\(item.rgb)"))
            XCTAssertEqual(expected.count, item.width * item.height * 3, item.name)
            do {
                let image = try decoder.decode(MediaFixtures.data("decode/\(item.file)"))
                assertSameRGB(image, expected: expected, width: item.width, height: item.height,
                              "\(item.name) (Pillow mode \(item.pillow_mode ?? "?"))")
            } catch {
                XCTFail("\(item.name): \(error)")
            }
        }
    }

    func testJPEGMatchesPillow() throws { try checkGroup("jpeg_", minimumCases: 14) }
    func testPNGMatchesPillow() throws { try checkGroup("png_", minimumCases: 25) }
    func testWebPMatchesPillow() throws { try checkGroup("webp_", minimumCases: 5) }
    func testGIFMatchesPillow() throws { try checkGroup("gif_", minimumCases: 10) }
    func testBMPMatchesPillow() throws { try checkGroup("bmp_", minimumCases: 11) }

    func testFormatIsSniffedFromMagicBytesNotTheName() throws {
        // A PNG saved under a .jpg name still decodes as PNG.
        let png = try MediaFixtures.data("decode/png_rgb8.png")
        let renamed = FileManager.default.temporaryDirectory.appendingPathComponent("qwenvl-media-\(UUID()).jpg")
        try png.write(to: renamed)
        defer { try? FileManager.default.removeItem(at: renamed) }
        let expected = try ImageDecoder().decode(png)
        XCTAssertEqual(try ImageDecoder().decode(contentsOfFile: renamed.path), expected)
        XCTAssertEqual(ImageFormat.detect(png), .png)
        XCTAssertEqual(ImageFormat.detect(try MediaFixtures.data("decode/webp_lossy.webp")), .webp)
        XCTAssertEqual(ImageFormat.detect(try MediaFixtures.data("decode/gif_pillow.gif")), .gif)
        XCTAssertEqual(ImageFormat.detect(try MediaFixtures.data("decode/bmp_rgb24.bmp")), .bmp)
        XCTAssertEqual(ImageFormat.detect(try MediaFixtures.data("decode/jpeg_grey.jpg")), .jpeg)
    }

    func testEXIFOrientationIsNotApplied() throws {
        // fetch_image never calls exif_transpose: an orientation-6 JPEG keeps its stored 83×61 layout.
        let image = try ImageDecoder().decode(MediaFixtures.data("decode/jpeg_exif_orientation6.jpg"))
        XCTAssertEqual(image.width, 83)
        XCTAssertEqual(image.height, 61)
    }

    func testAlphaBlendMatchesPillowFormula() {
        // Pillow paste_mask_L: DIV255(255·(255−a) + c·a). Spot values computed from that integer formula:
        XCTAssertEqual(AlphaCompositing.onWhite(0, alpha: 0), 255)
        XCTAssertEqual(AlphaCompositing.onWhite(0, alpha: 255), 0)
        XCTAssertEqual(AlphaCompositing.onWhite(200, alpha: 255), 200)
        XCTAssertEqual(AlphaCompositing.onWhite(0, alpha: 128), 127)   // (32385+128) → 127
        XCTAssertEqual(AlphaCompositing.onWhite(100, alpha: 1), 254)   // 64770+100+128 = 64998 → 254
        // Every (value, alpha) pair is covered bit-exactly by the png_rgba8_all_alpha_levels fixture.
    }
}
