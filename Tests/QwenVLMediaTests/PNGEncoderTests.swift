import Foundation
import XCTest
@testable import QwenVLMedia

/// PNGEncoder output must decode through libpng (QwenVLMedia's ImageDecoder, which checks every CRC and the
/// zlib Adler-32) to exactly the pixels encoded, and writes must be atomic.
final class PNGEncoderTests: XCTestCase {
    /// A deterministic pseudo-random byte source (SplitMix64).
    struct SplitMix64 {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func noise(width: Int, height: Int, seed: UInt64) throws -> RGBImage {
        var rng = SplitMix64(state: seed)
        return try RGBImage(width: width, height: height, pixels: (0..<width * height * 3).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
    }

    /// Smooth gradients with a few hard edges and repeated patches: exercises filters and long matches.
    static func pattern(width: Int, height: Int) throws -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                pixels[i] = UInt8((x * 255) / max(1, width - 1))
                pixels[i + 1] = UInt8((y * 255) / max(1, height - 1))
                pixels[i + 2] = (x / 8 + y / 8) % 2 == 0 ? 40 : 200
            }
        }
        return try RGBImage(width: width, height: height, pixels: pixels)
    }

    private func assertRoundTrip(_ image: RGBImage, _ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        for compression in [PNGEncoder.Compression.stored, .fixedHuffman] {
            let data = PNGEncoder.encode(image, compression: compression)
            XCTAssertEqual(ImageFormat.detect(data), .png, name, file: file, line: line)
            let decoded = try ImageDecoder().decode(data)
            XCTAssertEqual(decoded.width, image.width, "\(name) \(compression)", file: file, line: line)
            XCTAssertEqual(decoded.height, image.height, "\(name) \(compression)", file: file, line: line)
            XCTAssertTrue(decoded.pixels == image.pixels, "\(name) \(compression): pixels differ", file: file, line: line)
        }
    }

    func testChecksumsMatchPublishedValues() {
        // The CRC-32 check value of "123456789" (zlib, PNG), and Adler-32 of "Wikipedia" (RFC 1950 example).
        XCTAssertEqual(PNGEncoder.crc32(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(PNGEncoder.adler32(Array("Wikipedia".utf8)), 0x11E6_0398)
        // The IEND chunk's CRC is fixed: AE 42 60 82.
        XCTAssertEqual(PNGEncoder.crc32(Array("IEND".utf8)), 0xAE42_6082)
        XCTAssertEqual(PNGEncoder.adler32([]), 1)
    }

    func testRoundTripsThroughLibpng() throws {
        try assertRoundTrip(try RGBImage(width: 1, height: 1, pixels: [12, 200, 255]), "1×1")
        try assertRoundTrip(try Self.noise(width: 37, height: 23, seed: 1), "noise 37×23")
        try assertRoundTrip(try Self.pattern(width: 64, height: 48), "pattern 64×48")
        try assertRoundTrip(try Self.pattern(width: 1, height: 300), "column 1×300")
        try assertRoundTrip(try Self.pattern(width: 500, height: 1), "row 500×1")
        try assertRoundTrip(try RGBImage(width: 90, height: 70, pixels: [UInt8](repeating: 77, count: 90 * 70 * 3)), "uniform")
    }

    func testLargeImagesSpanManyBlocksAndChunks() throws {
        // > 64 KiB of scanlines: several deflate blocks, matches reaching back across block boundaries,
        // noise falling back to stored blocks.
        try assertRoundTrip(try Self.noise(width: 200, height: 120, seed: 7), "noise 200×120")
        var mixed = try Self.pattern(width: 300, height: 120)
        let stripe = try Self.noise(width: 300, height: 30, seed: 3)
        mixed.pixels.replaceSubrange(0..<stripe.pixels.count, with: stripe.pixels)
        try assertRoundTrip(mixed, "noise over pattern 300×120")
        // A 360 KB zlib stream is split into 256 KiB IDAT chunks: 2 of them.
        let stored = [UInt8](PNGEncoder.encode(try Self.noise(width: 400, height: 300, seed: 11), compression: .stored))
        XCTAssertEqual(try ImageDecoder().decode(stored).width, 400)
        let idat = Array("IDAT".utf8)
        XCTAssertEqual((0..<stored.count - 4).filter { Array(stored[$0..<$0 + 4]) == idat }.count, 2)
    }

    func testFixedHuffmanCompressesAndNeverLosesToStoredByMuch() throws {
        let uniform = try RGBImage(width: 256, height: 256, pixels: [UInt8](repeating: 200, count: 256 * 256 * 3))
        let stored = PNGEncoder.encode(uniform, compression: .stored).count
        let compressed = PNGEncoder.encode(uniform).count
        XCTAssertGreaterThan(stored, 256 * 256 * 3)
        XCTAssertLessThan(compressed, stored / 50, "uniform image should shrink at least 50×")
        let noise = try Self.noise(width: 256, height: 256, seed: 9)
        // Incompressible data falls back to stored blocks: only filter bytes and headers may differ.
        XCTAssertLessThan(PNGEncoder.encode(noise).count, PNGEncoder.encode(noise, compression: .stored).count + 1024)
    }

    func testHeaderAndChunkLayout() throws {
        let data = [UInt8](PNGEncoder.encode(try Self.pattern(width: 300, height: 2)))
        XCTAssertEqual(Array(data[0..<8]), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        XCTAssertEqual(Array(data[8..<16]), [0, 0, 0, 13] + Array("IHDR".utf8))
        XCTAssertEqual(Array(data[16..<29]), [0, 0, 1, 44, 0, 0, 0, 2, 8, 2, 0, 0, 0])
        XCTAssertEqual(Array(data.suffix(12)), [0, 0, 0, 0] + Array("IEND".utf8) + [0xAE, 0x42, 0x60, 0x82])
    }

    func testWriteIsAtomicAndReportsFailures() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qwenvl-png-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("out.png")
        let first = try Self.pattern(width: 20, height: 10)
        try PNGEncoder.write(first, to: url)
        XCTAssertEqual(try ImageDecoder().decode(contentsOfFile: url.path), first)
        // Overwriting replaces the file whole.
        let second = try Self.noise(width: 11, height: 13, seed: 5)
        try PNGEncoder.write(second, to: url)
        XCTAssertEqual(try ImageDecoder().decode(contentsOfFile: url.path), second)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["out.png"], "no temp file left")

        // A missing folder and a directory target both fail with the path named, leaving nothing behind.
        let missing = dir.appendingPathComponent("nope/out.png")
        XCTAssertThrowsError(try PNGEncoder.write(first, to: missing)) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.contains(missing.path) && text.contains("does not exist"), text)
        }
        XCTAssertThrowsError(try PNGEncoder.write(first, to: dir)) { error in
            XCTAssertTrue(String(describing: error).contains("directory"), String(describing: error))
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["out.png"])
    }
}
