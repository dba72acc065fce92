import Foundation
import XCTest
@testable import QwenVLMedia

/// Bad input fails with a clear, typed error (never a crash, never a huge allocation).
final class MediaErrorTests: XCTestCase {
    private func decodeError(_ file: String, decoder: ImageDecoder = ImageDecoder()) throws -> MediaError? {
        do {
            _ = try decoder.decode(MediaFixtures.data("bad/\(file)"))
            XCTFail("\(file) decoded without error")
            return nil
        } catch let error as MediaError {
            XCTAssertFalse(error.description.isEmpty)
            return error
        }
    }

    func testEveryBadFixtureFailsWithTheExpectedKind() throws {
        let cases = try MediaFixtures.manifest("bad_cases.json", as: MediaFixtures.Manifest<MediaFixtures.BadCase>.self)
        XCTAssertGreaterThanOrEqual(cases.cases.count, 10)
        for item in cases.cases {
            XCTAssertNotEqual(item.pillow, "ok", "Pillow itself refuses \(item.file)")
            guard let error = try decodeError(item.file) else { continue }
            let kind: String
            switch error {
            case .emptyInput: kind = "empty"
            case .truncated: kind = "truncated"
            case .corrupt: kind = "corrupt"
            case .tooLarge: kind = "tooLarge"
            case .unsupportedFormat: kind = "unsupported"
            default: kind = "other"
            }
            XCTAssertEqual(kind, item.expect, "\(item.file): \(error)")
        }
    }

    func testZeroByteInput() {
        XCTAssertThrowsError(try ImageDecoder().decode(Data())) { error in
            XCTAssertEqual(error as? MediaError, .emptyInput)
            XCTAssertTrue("\(error)".contains("zero bytes"))
        }
    }

    func testHugePNGHeaderFailsFastWithoutAllocating() throws {
        let start = Date()
        let error = try decodeError("huge_dimensions.png")
        XCTAssertEqual(error, .tooLarge(width: 100_000, height: 100_000, maxPixels: ImageDecoder.defaultMaxPixels))
        XCTAssertLessThan(Date().timeIntervalSince(start), 0.5)
        XCTAssertTrue(error?.description.contains("100000×100000") ?? false)
    }

    func testPixelLimitIsAParameter() throws {
        let png = try MediaFixtures.data("decode/png_rgb8.png")  // 83×61 = 5063 pixels
        XCTAssertNoThrow(try ImageDecoder(maxPixels: 5063).decode(png))
        for file in ["png_rgb8.png", "jpeg_baseline_420.jpg", "webp_lossy.webp", "gif_pillow.gif", "bmp_rgb24.bmp"] {
            XCTAssertThrowsError(try ImageDecoder(maxPixels: 5062).decode(MediaFixtures.data("decode/\(file)"))) {
                XCTAssertEqual($0 as? MediaError, .tooLarge(width: 83, height: 61, maxPixels: 5062), file)
            }
        }
    }

    func testUnsupportedFormatNamesTheMagicBytes() throws {
        let tiff = try decodeError("tiff_header.tif")
        XCTAssertTrue(tiff?.description.contains("49 49 2A 00") ?? false, "\(String(describing: tiff))")
        XCTAssertTrue(tiff?.description.contains("TIFF") ?? false)
        let text = try decodeError("text.png")
        XCTAssertTrue(text?.description.contains("hello, this") ?? false, "\(String(describing: text))")
    }

    func testTruncatedFilesOfEveryFormat() throws {
        for file in ["truncated.jpg", "truncated.png", "truncated.gif", "truncated.webp", "truncated.bmp"] {
            guard case .truncated? = try decodeError(file) else {
                XCTFail("\(file) should report truncation")
                continue
            }
        }
    }

    func testUnreadablePaths() {
        let missing = "/nonexistent-dir-qwenvl/none.png"
        XCTAssertThrowsError(try ImageDecoder().decode(contentsOfFile: missing)) { error in
            guard case .unreadablePath(let path, let reason)? = error as? MediaError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(path, missing)
            XCTAssertTrue(reason.contains("No such file"), reason)
        }
        XCTAssertThrowsError(try ImageDecoder().decode(contentsOfFile: NSTemporaryDirectory())) { error in
            XCTAssertTrue("\(error)".contains("directory"), "\(error)")
        }
        XCTAssertThrowsError(try ImageDecoder().decode(contentsOfFile: "")) { error in
            guard case .unreadablePath? = error as? MediaError else { return XCTFail("\(error)") }
        }
    }

    func testRGBImageRejectsMismatchedBuffers() {
        XCTAssertThrowsError(try RGBImage(width: 2, height: 2, pixels: [1, 2, 3]))
        XCTAssertThrowsError(try RGBImage(width: 0, height: 5, pixels: []))
    }
}
