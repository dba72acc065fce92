import Foundation
import XCTest
@testable import QwenVL

/// Frame sampling and frame budgets against qwen-vl-utils 0.0.14's own `fetch_video`
/// (reference/video_sampling.json, written by scripts/fixtures/generate_video.py --only sampling).
final class VideoSamplerTests: XCTestCase {
    struct Case {
        let name: String
        let totalFrames: Int
        let videoFPS: Double
        let height: Int
        let width: Int
        let options: VideoSampler.Options
        let raw: [String: Any]
        var error: String? { raw["error"] as? String }
    }

    static func cases() throws -> [Case] {
        let url = Fixtures.reference.appendingPathComponent("video_sampling.json")
        let root = try XCTUnwrap(try Fixtures.json(url) as? [String: Any])
        let items = try XCTUnwrap(root["cases"] as? [[String: Any]])
        return try items.map { item in
            let o = try XCTUnwrap(item["options"] as? [String: Any])
            func int(_ key: String) -> Int? { (o[key] as? NSNumber).map { Int($0.doubleValue) } }
            func double(_ key: String) -> Double? { (o[key] as? NSNumber)?.doubleValue }
            var options = VideoSampler.Options()
            options.fps = double("fps")
            options.nframes = int("nframes")
            if let v = int("min_frames") { options.minFrames = v }
            if let v = int("max_frames") { options.maxFrames = v }
            options.minPixels = int("min_pixels")
            options.maxPixels = int("max_pixels")
            // 0.0.14's default total differs from ours: cases without total_pixels ran with 0.0.14's default.
            options.totalPixels = int("total_pixels") ?? (root["qwen_vl_utils_0_0_14_total_pixels"] as? NSNumber).map { Int($0.doubleValue) }
            options.videoStart = double("video_start")
            options.videoEnd = double("video_end")
            options.resizedHeight = int("resized_height")
            options.resizedWidth = int("resized_width")
            return Case(name: try XCTUnwrap(item["name"] as? String), totalFrames: try XCTUnwrap(item["total_frames"] as? Int),
                        videoFPS: try XCTUnwrap((item["video_fps"] as? NSNumber)?.doubleValue),
                        height: try XCTUnwrap(item["height"] as? Int), width: try XCTUnwrap(item["width"] as? Int),
                        options: options, raw: item)
        }
    }

    func testIndicesMatchQwenVLUtils() throws {
        let cases = try Self.cases().filter { $0.error == nil }
        XCTAssertGreaterThanOrEqual(cases.count, 25)
        for c in cases {
            let sampling = try VideoSampler.sample(totalFrames: c.totalFrames, videoFPS: c.videoFPS, options: c.options)
            let expected = try XCTUnwrap(c.raw["indices"] as? [Int])
            XCTAssertEqual(sampling.indices, expected, c.name)
            XCTAssertEqual(try VideoSampler.frameCount(totalFrames: c.totalFrames, videoFPS: c.videoFPS, options: c.options),
                           c.raw["nframes"] as? Int, c.name)
            XCTAssertEqual(sampling.window.lowerBound, c.raw["start_frame"] as? Int, c.name)
            XCTAssertEqual(sampling.window.upperBound, c.raw["end_frame"] as? Int, c.name)
            XCTAssertEqual(sampling.window.count, c.raw["range_frames"] as? Int, c.name)
            let sampleFPS = try XCTUnwrap((c.raw["sample_fps"] as? NSNumber)?.doubleValue)
            XCTAssertEqual(sampling.sampleFPS, sampleFPS, accuracy: 1e-12 * sampleFPS, c.name)
        }
    }

    func testBudgetsAndFrameSizesMatchQwenVLUtils() throws {
        for c in try Self.cases() where c.error == nil {
            let n = try XCTUnwrap(c.raw["nframes"] as? Int)
            if let minPixels = c.raw["min_pixels"] as? Int {
                let budget = try VideoSampler.frameBudget(frameCount: n, options: c.options)
                XCTAssertEqual(budget.minPixels, minPixels, c.name)
                XCTAssertEqual(budget.maxPixels, try XCTUnwrap((c.raw["max_pixels"] as? NSNumber)?.doubleValue), c.name)
            }
            let size = try VideoSampler.frameSize(height: c.height, width: c.width, frameCount: n, options: c.options)
            XCTAssertEqual(size.height, c.raw["resized_height"] as? Int, c.name)
            XCTAssertEqual(size.width, c.raw["resized_width"] as? Int, c.name)
        }
    }

    func testSpecTestVectors() throws {
        // Spec §12 (qwen-vl-utils 0.0.10+ constants, total 90,316,800): frames, first indices, frame size.
        var options = VideoSampler.Options(totalPixels: 90_316_800)
        let rows: [(Int, Double, Int, Int, Int, [Int], Int, Int)] = [
            (300, 30, 1080, 1920, 20, [0, 16, 31, 47, 63, 79], 560, 1008),
            (3000, 25, 720, 1280, 240, [0, 13, 25, 38, 50, 63], 560, 1008),
            (90, 30, 360, 640, 6, [0, 18, 36, 53, 71, 89], 364, 644),
            (7, 30, 240, 320, 4, [0, 2, 4, 6], 280, 392),
        ]
        for (total, fps, h, w, n, first, rh, rw) in rows {
            let indices = try VideoSampler.indices(totalFrames: total, videoFPS: fps, options: options)
            XCTAssertEqual(indices.count, n)
            XCTAssertEqual(Array(indices.prefix(first.count)), first)
            XCTAssertEqual(indices.last, total - 1)
            let size = try VideoSampler.frameSize(height: h, width: w, frameCount: n, options: options)
            XCTAssertEqual([size.height, size.width], [rh, rw])
        }
        options.totalPixels = nil  // the Qwen2-VL default: 19,267,584 / 240 · 2 = 160,563.2 pixels per frame
        XCTAssertEqual(try VideoSampler.frameBudget(frameCount: 240, options: options).maxPixels, 160_563.2)
        let size = try VideoSampler.frameSize(height: 720, width: 1280, frameCount: 240, options: options)
        XCTAssertEqual([size.height, size.width], [280, 532])
    }

    func testErrorsWhereQwenVLUtilsRaises() throws {
        let cases = try Self.cases().filter { $0.error != nil }
        XCTAssertGreaterThanOrEqual(cases.count, 6)
        for c in cases {
            XCTAssertThrowsError(try {
                let n = try VideoSampler.frameCount(totalFrames: c.totalFrames, videoFPS: c.videoFPS, options: c.options)
                _ = try VideoSampler.frameSize(height: c.height, width: c.width, frameCount: n, options: c.options)
            }(), c.name) { error in
                XCTAssertFalse(String(describing: error).isEmpty, c.name)
            }
        }
    }

    func testBadInputsThrowClearErrors() {
        let options = VideoSampler.Options()
        XCTAssertThrowsError(try VideoSampler.indices(totalFrames: 0, videoFPS: 30, options: options))
        XCTAssertThrowsError(try VideoSampler.indices(totalFrames: 100, videoFPS: 0, options: options))
        XCTAssertThrowsError(try VideoSampler.indices(totalFrames: 100, videoFPS: .nan, options: options))
        XCTAssertThrowsError(try VideoSampler.indices(totalFrames: 100, videoFPS: 30, options: .init(fps: -1)))
        XCTAssertThrowsError(try VideoSampler.indices(totalFrames: 100, videoFPS: 30, options: .init(nframes: -4)))
        XCTAssertThrowsError(try VideoSampler.indices(totalFrames: 100, videoFPS: 30, options: .init(videoStart: .infinity)))
        XCTAssertThrowsError(try VideoSampler.indices(totalFrames: 300, videoFPS: 30, options: .init(videoStart: 4, videoEnd: 4))) { error in
            XCTAssertTrue(String(describing: error).contains("time range"), "\(error)")
        }
        XCTAssertThrowsError(try VideoSampler.frameBudget(frameCount: 0, options: options))
        XCTAssertThrowsError(try VideoSampler.frameSize(height: 0, width: 10, frameCount: 4, options: options))
        XCTAssertThrowsError(try VideoSampler.frameSize(height: 480, width: 640, frameCount: 4,
                                                        options: .init(minPixels: 500_000, maxPixels: 100_000)))
    }

    func testIndicesAreTheRoundedLinspaceForEveryCount() throws {
        // Property check independent of the fixture: n distinct ascending indices, first = start, last = end.
        for total in [2, 3, 7, 30, 301, 4000] {
            for nframes in stride(from: 2, through: min(total, 64), by: 2) {
                let indices = try VideoSampler.indices(totalFrames: total, videoFPS: 25, options: .init(nframes: nframes))
                XCTAssertEqual(indices.count, nframes)
                XCTAssertEqual(indices.first, 0)
                XCTAssertEqual(indices.last, total - 1)
                XCTAssertEqual(indices, indices.sorted())
            }
        }
    }
}
