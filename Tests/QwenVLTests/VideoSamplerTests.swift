import Foundation
import XCTest
@testable import QwenVL
import QwenVLMedia

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

    // MARK: - the model-level video cases (reference/video_cases.json + reference/tiny-f32/video.json)

    /// Options of one qwen-vl-utils video part.
    static func options(_ part: [String: Any]) -> VideoSampler.Options {
        func int(_ key: String) -> Int? { (part[key] as? NSNumber).map { Int($0.doubleValue) } }
        func double(_ key: String) -> Double? { (part[key] as? NSNumber)?.doubleValue }
        var options = VideoSampler.Options(fps: double("fps"), nframes: int("nframes"), minPixels: int("min_pixels"),
                                           maxPixels: int("max_pixels"), totalPixels: int("total_pixels"),
                                           videoStart: double("video_start"), videoEnd: double("video_end"),
                                           resizedHeight: int("resized_height"), resizedWidth: int("resized_width"))
        if let v = int("min_frames") { options.minFrames = v }
        if let v = int("max_frames") { options.maxFrames = v }
        return options
    }

    /// (case name, video part, reference facts) for every video of every model-level case.
    static func videoReferenceParts() throws -> [(String, [String: Any], [String: Any])] {
        let cases = try XCTUnwrap(try Fixtures.json(Fixtures.reference.appendingPathComponent("video_cases.json")) as? [[String: Any]])
        let reference = try XCTUnwrap(try Fixtures.json(Fixtures.reference.appendingPathComponent("tiny-f32/video.json")) as? [String: Any])
        let results = try XCTUnwrap(reference["cases"] as? [[String: Any]])
        XCTAssertEqual(cases.count, results.count)
        var parts: [(String, [String: Any], [String: Any])] = []
        for (c, result) in zip(cases, results) {
            let name = try XCTUnwrap(c["name"] as? String)
            XCTAssertEqual(result["name"] as? String, name)
            let messages = try XCTUnwrap(c["messages"] as? [[String: Any]])
            let videoParts = messages.compactMap { $0["content"] as? [[String: Any]] }.joined().filter { $0["video"] != nil }
            let facts = try XCTUnwrap(result["videos"] as? [[String: Any]])
            XCTAssertEqual(videoParts.count, facts.count, name)
            for (part, fact) in zip(videoParts, facts) { parts.append((name, part, fact)) }
        }
        return parts
    }

    func testModelLevelVideoCasesFollowTheseRules() throws {
        let parts = try Self.videoReferenceParts()
        XCTAssertGreaterThanOrEqual(parts.count, 6)
        for (name, part, fact) in parts {
            let options = Self.options(part)
            let source = try XCTUnwrap(fact["source_size"] as? [Int])
            let size = try XCTUnwrap(fact["frame_size"] as? [Int])
            let count = try XCTUnwrap(fact["frame_count"] as? Int)
            if part["video"] is String {
                let total = try XCTUnwrap(fact["total_frames"] as? Int)
                let fps = try XCTUnwrap((fact["video_fps"] as? NSNumber)?.doubleValue)
                XCTAssertEqual(try VideoSampler.indices(totalFrames: total, videoFPS: fps, options: options),
                               fact["indices"] as? [Int], name)
                let resized = try VideoSampler.frameSize(height: source[0], width: source[1], frameCount: count, options: options)
                XCTAssertEqual([resized.height, resized.width], size, name)
            } else {
                let list = try XCTUnwrap(part["video"] as? [String])
                XCTAssertEqual(try VideoSampler.listFrameCount(list.count), count, name)
                let first = try VideoSampler.listFrameImageSize(height: source[0], width: source[1], options: options)
                XCTAssertEqual([first.height, first.width], fact["list_image_size"] as? [Int], name)
                let resized = try VideoSampler.frameSize(height: first.height, width: first.width, frameCount: count,
                                                         options: options)
                XCTAssertEqual([resized.height, resized.width], size, name)
            }
        }
    }

    func testFrameListPixelsMatchQwenVLUtils() throws {
        // Frame lists end to end: PNG decode, PIL bicubic to the factor-56 size, pad to an even count, torch resize
        // to the video size; per-frame sums of the uint8 frames equal qwen-vl-utils' (the frames are not stored).
        let videoDirectory = Fixtures.root.appendingPathComponent("video")
        var checked = 0
        for (name, part, fact) in try Self.videoReferenceParts() {
            guard let list = part["video"] as? [String] else { continue }
            let options = Self.options(part)
            let count = try VideoSampler.listFrameCount(list.count)
            let size = try XCTUnwrap(fact["frame_size"] as? [Int])
            let sums = try XCTUnwrap(fact["frame_sums"] as? [Int])
            let squares = try XCTUnwrap(fact["frame_square_sums"] as? [Int])
            var frames: [RGBImage] = []
            for path in list {
                let image = try ImageDecoder().decode(contentsOfFile: videoDirectory.appendingPathComponent(path).path)
                let first = try VideoSampler.listFrameImageSize(height: image.height, width: image.width, options: options)
                frames.append(try image.resized(width: first.width, height: first.height))
            }
            while frames.count < count, let last = frames.last { frames.append(last) }
            for (k, frame) in frames.enumerated() {
                let out = try TorchResize.resize(frame, width: size[1], height: size[0])
                var sum = 0, square = 0
                out.pixels.withUnsafeBufferPointer { p in
                    for v in p { let v = Int(v); sum += v; square += v * v }
                }
                XCTAssertEqual(sum, sums[k], "\(name) frame \(k)")
                XCTAssertEqual(square, squares[k], "\(name) frame \(k)")
                checked += 1
            }
        }
        XCTAssertGreaterThanOrEqual(checked, 12)
    }
}
