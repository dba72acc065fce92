import Foundation
import XCTest
import QwenVL

/// Naive dynamic resolution and bad image inputs at the model's entry point.
final class ImageInputTests: XCTestCase {
    /// Spec §12 (qwen-vl-utils 0.0.14 = transformers 4.57.6): H×W → h×w, and with the class-default max 1,003,520.
    func testSmartResizeMatchesReferenceTable() throws {
        let table: [(Int, Int, Int, Int, Int, Int)] = [
            (480, 640, 476, 644, 476, 644), (1080, 1920, 1092, 1932, 728, 1316), (3024, 4032, 3024, 4032, 840, 1148),
            (1000, 1000, 1008, 1008, 980, 980), (512, 512, 504, 504, 504, 504), (375, 500, 364, 504, 364, 504),
            (100, 100, 112, 112, 112, 112), (20, 20, 56, 56, 56, 56), (42, 70, 56, 56, 56, 56), (28, 5000, 28, 5012, 28, 5012),
        ]
        for (H, W, h, w, hCap, wCap) in table {
            let full = try SmartResize.size(height: H, width: W)
            XCTAssertEqual([full.height, full.width], [h, w], "\(H)×\(W)")
            let capped = try SmartResize.size(height: H, width: W, maxPixels: 1_003_520)
            XCTAssertEqual([capped.height, capped.width], [hCap, wCap], "\(H)×\(W) capped")
        }
        XCTAssertThrowsError(try SmartResize.size(height: 10, width: 2010)) { XCTAssertTrue("\($0)".contains("aspect ratio 201.0 is above 200")) }
    }

    func testBadImagesGiveClearErrors() async throws {
        let model = try Fixtures.model("tiny-f32")
        let bad = Fixtures.root.appendingPathComponent("media/bad")
        let cases: [(String, String)] = [
            (bad.appendingPathComponent("zero_bytes.jpg").path, "empty"),
            (bad.appendingPathComponent("truncated.jpg").path, "truncated JPEG"),
            (bad.appendingPathComponent("huge_dimensions.png").path, "too large"),
            (bad.appendingPathComponent("text.png").path, "unsupported image format"),
            (bad.appendingPathComponent("tiff_header.tif").path, "unsupported image format"),
            ("data:image/png;base64,@@@@", "base64"),
            ("/nonexistent/dir/photo.jpg", "cannot read image file"),
        ]
        for (source, fragment) in cases {
            let messages = [ChatMessage(role: "user", content: .parts([.image(ImageInput(source: source)), .text("hi")]))]
            do {
                _ = try await model.prepare(messages: messages)
                XCTFail("\(source) should fail")
            } catch {
                let message = "\(error)"
                XCTAssertTrue(message.lowercased().contains(fragment.lowercased()), "‘\(message)’ should mention ‘\(fragment)’")
                XCTAssertFalse(message.contains("\n"))
            }
        }
        // Aspect ratio above 200 (a 1×250 strip written as PNG by the test).
        let strip = FileManager.default.temporaryDirectory.appendingPathComponent("qwenvl-strip-\(UUID().uuidString).png")
        defer { try? FileManager.default.removeItem(at: strip) }
        try Self.png(width: 250, height: 1).write(to: strip)
        do {
            _ = try await model.prepare(messages: [ChatMessage(role: "user", content: .parts([.image(ImageInput(source: strip.path))]))])
            XCTFail("aspect ratio 250 should fail")
        } catch {
            XCTAssertTrue("\(error)".contains("aspect ratio 250.0 is above 200"), "\(error)")
        }
    }

    func testPlaceholderCountMustMatchImages() async throws {
        let model = try Fixtures.model("tiny-f32")
        let messages = [ChatMessage(role: "user", text: "literal <|image_pad|> in text")]
        do {
            _ = try await model.prepare(messages: messages)
            XCTFail("should fail")
        } catch {
            XCTAssertTrue("\(error)".contains("1 image placeholders but 0 images"), "\(error)")
        }
    }

    /// A minimal grey 8-bit PNG (stored deflate blocks) built byte by byte.
    static func png(width: Int, height: Int) -> Data {
        func crc(_ bytes: [UInt8]) -> UInt32 {
            var c: UInt32 = 0xFFFF_FFFF
            for b in bytes {
                c ^= UInt32(b)
                for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            }
            return ~c
        }
        func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
            let t = Array(type.utf8)
            return be(UInt32(body.count)) + t + body + be(crc(t + body))
        }
        var raw: [UInt8] = []
        for _ in 0..<height { raw += [0] + [UInt8](repeating: 128, count: width) }
        var a: UInt32 = 1, b: UInt32 = 0
        for x in raw { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
        let n = UInt16(raw.count)
        let zlib: [UInt8] = [0x78, 0x01, 1, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8(~n >> 8)] + raw + be(b << 16 | a)
        let ihdr = be(UInt32(width)) + be(UInt32(height)) + [8, 0, 0, 0, 0]
        return Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", ihdr) + chunk("IDAT", zlib) + chunk("IEND", []))
    }
}
