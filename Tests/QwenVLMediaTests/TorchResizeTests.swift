import Foundation
import XCTest
@testable import QwenVLMedia

/// `TorchResize` against torchvision's v1 tensor resize (BICUBIC, antialias) as run by torch 2.13.0+cpu
/// (Tests/Fixtures/video/torch_resize_cases.*, written by scripts/fixtures/generate_video.py --only resize).
final class TorchResizeTests: XCTestCase {
    struct Case: Decodable {
        let src_width: Int
        let src_height: Int
        let dst_width: Int
        let dst_height: Int
        let src_offset: Int
        let dst_offset: Int
        let content: String
    }

    struct Manifest: Decodable { let cases: [Case] }

    static let videoFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/video")

    func testMatchesTorchvisionOnAllFixtureShapes() throws {
        let manifest = try JSONDecoder().decode(
            Manifest.self, from: Data(contentsOf: Self.videoFixtures.appendingPathComponent("torch_resize_cases.json")))
        let blob = [UInt8](try Data(contentsOf: Self.videoFixtures.appendingPathComponent("torch_resize_cases.bin")))
        XCTAssertGreaterThanOrEqual(manifest.cases.count, 10)
        var kinds = Set<String>(), samples = 0, differing = 0, maxDiff = 0
        for c in manifest.cases {
            let srcCount = c.src_width * c.src_height * 3, dstCount = c.dst_width * c.dst_height * 3
            let source = try RGBImage(width: c.src_width, height: c.src_height,
                                      pixels: Array(blob[c.src_offset..<c.src_offset + srcCount]))
            let expected = Array(blob[c.dst_offset..<c.dst_offset + dstCount])
            let label = "\(c.content) \(c.src_width)×\(c.src_height) → \(c.dst_width)×\(c.dst_height)"
            let actual = try TorchResize.resize(source, width: c.dst_width, height: c.dst_height)
            XCTAssertEqual(actual.width, c.dst_width, label)
            XCTAssertEqual(actual.height, c.dst_height, label)
            guard actual.pixels.count == expected.count else { continue }
            for (a, e) in zip(actual.pixels, expected) where a != e {
                differing += 1
                maxDiff = max(maxDiff, abs(Int(a) - Int(e)))
            }
            samples += expected.count
            XCTAssertLessThanOrEqual(maxDiff, 1, label)
            // The float arithmetic mirrors torch's kernel, so the bytes are expected to be identical.
            assertSameRGB(actual, expected: expected, width: c.dst_width, height: c.dst_height, label)
            kinds.insert(Self.kind(c.src_width, c.dst_width) + "/" + Self.kind(c.src_height, c.dst_height))
        }
        print("TorchResize vs torchvision: \(differing) of \(samples) samples differ "
              + "(\(String(format: "%.4f", 100 * Double(differing) / Double(max(samples, 1))))%), max |Δ| \(maxDiff)")
        for kind in ["down/down", "up/up", "up/down", "down/up", "same/down", "up/same", "same/same"] {
            XCTAssertTrue(kinds.contains(kind), "no resize case of kind \(kind)")
        }
    }

    func testPlanIsReusableAndChecksTheSourceSize() throws {
        let pixels = (0..<(40 * 30 * 3)).map { UInt8(truncatingIfNeeded: $0 &* 7919 >> 3) }
        let image = try RGBImage(width: 40, height: 30, pixels: pixels)
        let plan = try TorchResize.Plan(sourceWidth: 40, sourceHeight: 30, width: 23, height: 17)
        let once = try plan.apply(image)
        XCTAssertEqual(try plan.apply(image), once)
        XCTAssertEqual(try TorchResize.resize(image, width: 23, height: 17), once)
        let other = try RGBImage(width: 30, height: 40, pixels: pixels)
        XCTAssertThrowsError(try plan.apply(other)) { error in
            XCTAssertEqual(error as? MediaError, .invalidDimensions(width: 30, height: 40))
        }
        XCTAssertEqual(try TorchResize.resize(image, width: 40, height: 30), image, "same size returns the input")
    }

    func testRejectsBadSizes() throws {
        let image = try RGBImage(width: 2, height: 2, pixels: [UInt8](repeating: 9, count: 12))
        XCTAssertThrowsError(try TorchResize.resize(image, width: 0, height: 2)) { error in
            XCTAssertEqual(error as? MediaError, .invalidDimensions(width: 0, height: 2))
        }
        XCTAssertThrowsError(try TorchResize.resize(image, width: 3, height: -1))
        XCTAssertThrowsError(try TorchResize.resize(image, width: 1 << 40, height: 1 << 40))
    }

    func testUniformImageStaysUniform() throws {
        // Weights are normalised, so a flat colour survives any resize (up to float rounding, then exact bytes).
        let image = try RGBImage(width: 37, height: 23, pixels: [UInt8](repeating: 0, count: 37 * 23 * 3).enumerated()
            .map { [200, 17, 255][$0.offset % 3] })
        for (w, h) in [(11, 5), (90, 61), (37, 9), (5, 23)] {
            let out = try TorchResize.resize(image, width: w, height: h)
            for y in 0..<h { for x in 0..<w { XCTAssertTrue(out[x, y] == (200, 17, 255), "\(w)×\(h) at \(x),\(y)") } }
        }
    }

    func testWeightsFollowTorchBounds() {
        // 300 → 84: scale 3.5714…, support 7.142…, ksize = 8·2 + 1 = 17; output 0: center 1.786, taps
        // [0, trunc(1.786 + 7.143 + 0.5) = 9); normalised weights sum to 1 (float rounding aside).
        let c = TorchResampleWeights(inSize: 300, outSize: 84)
        XCTAssertEqual(c.ksize, 17)
        XCTAssertEqual(c.start(0), 0)
        XCTAssertEqual(c.count(0), 9)
        for i in 0..<c.outSize {
            let sum = (0..<c.count(i)).reduce(Float(0)) { $0 + c.weights[i * c.ksize + $1] }
            XCTAssertEqual(sum, 1, accuracy: 1e-5)
        }
        // Upscaling keeps Keys' 4-tap footprint: support 2, ksize 5.
        XCTAssertEqual(TorchResampleWeights(inSize: 40, outSize: 97).ksize, 5)
        XCTAssertEqual(TorchResampleWeights.filter(0), 1)
        XCTAssertEqual(TorchResampleWeights.filter(1), 0)
        XCTAssertEqual(TorchResampleWeights.filter(-2), 0)
        XCTAssertEqual(TorchResampleWeights.filter(0.5), 0.5625)  // (1.5·0.5 − 2.5)·0.25 + 1
    }

    func testSpeedOnVideoFrames() throws {
        // Opt-in (QWENVL_BENCH=1, release build): 1280×720 → 644×364 and 1920×1080 → 1008×560 per frame.
        guard ProcessInfo.processInfo.environment["QWENVL_BENCH"] == "1" else { throw XCTSkip("set QWENVL_BENCH=1") }
        for (sw, sh, w, h) in [(1280, 720, 644, 364), (1920, 1080, 1008, 560), (1000, 600, 644, 392)] {
            let pixels = (0..<(sw * sh * 3)).map { UInt8(truncatingIfNeeded: ($0 &* 2654435761) >> 13) }
            let frame = try RGBImage(width: sw, height: sh, pixels: pixels)
            let plan = try TorchResize.Plan(sourceWidth: sw, sourceHeight: sh, width: w, height: h)
            _ = try plan.apply(frame)
            let frames = 20, start = Date(), cpuStart = Self.cpuSeconds()
            for _ in 0..<frames { _ = try plan.apply(frame) }
            let perFrame = Date().timeIntervalSince(start) / Double(frames)
            let cpuPerFrame = (Self.cpuSeconds() - cpuStart) / Double(frames)
            print(String(format: "TorchResize %d×%d → %d×%d: %.2f ms/frame wall, %.2f ms CPU (768 frames: %.1f s wall)",
                         sw, sh, w, h, perFrame * 1000, cpuPerFrame * 1000, perFrame * 768))
        }
    }

    /// CPU time of this process (all threads), in seconds.
    static func cpuSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    static func kind(_ source: Int, _ target: Int) -> String {
        source == target ? "same" : (target < source ? "down" : "up")
    }
}
