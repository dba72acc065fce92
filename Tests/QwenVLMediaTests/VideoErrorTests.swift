import Foundation
import XCTest
import QwenVLMedia

/// Bad video input fails with a clear, typed error, never a crash and never partial output.
final class VideoErrorTests: XCTestCase {
    /// Opens `path` and decodes every frame; returns the error thrown at either step.
    private func failure(_ path: String) -> VideoError? {
        do {
            let video = try VideoDecoder(path: path)
            _ = try video.frames(at: Array(0..<video.info.frameCount))
            return nil
        } catch let error as VideoError {
            return error
        } catch {
            XCTFail("\(path): untyped error \(error)")
            return nil
        }
    }

    private func kind(_ error: VideoError) -> String {
        switch error {
        case .unreadablePath: return "unreadablePath"
        case .unsupportedReference: return "unsupportedReference"
        case .notAVideo: return "notAVideo"
        case .truncated: return "truncated"
        case .noVideoStream: return "noVideoStream"
        case .unsupportedCodec: return "unsupportedCodec"
        case .noDecodableFrames: return "noDecodableFrames"
        case .frameIndexOutOfRange: return "frameIndexOutOfRange"
        case .frameNotDecoded: return "frameNotDecoded"
        case .decodeFailed: return "decodeFailed"
        case .invalidDimensions: return "invalidDimensions"
        case .outOfMemory: return "outOfMemory"
        }
    }

    func testEveryBadFixtureFailsWithTheExpectedKind() throws {
        let cases = try VideoFixtures.badCases()
        XCTAssertGreaterThanOrEqual(cases.count, 6)
        for item in cases {
            // PyAV cannot use any of them either (it raises or finds no video frames).
            XCTAssertFalse(item.pyav.hasPrefix("ok") && !item.pyav.hasPrefix("ok: 0"), "PyAV decodes \(item.file)")
            let path = VideoFixtures.path("bad/" + item.file)
            guard let error = failure(path) else {
                XCTFail("\(item.file) decoded without error")
                continue
            }
            XCTAssertEqual(kind(error), item.expect, "\(item.file): \(error)")
            XCTAssertTrue(error.description.contains(path), "\(item.file): message names the file: \(error)")
        }
    }

    func testMessagesExplainTheProblem() throws {
        let truncated = failure(VideoFixtures.path("bad/truncated_moov.mp4"))
        XCTAssertTrue(truncated?.description.contains("'moov' box") ?? false, "\(String(describing: truncated))")
        let audio = failure(VideoFixtures.path("bad/audio_only.m4a"))
        XCTAssertTrue(audio?.description.contains("audio (aac)") ?? false, "\(String(describing: audio))")
        let text = failure(VideoFixtures.path("bad/text.mp4"))
        XCTAssertTrue(text?.description.contains("This is a plain") ?? false, "\(String(describing: text))")
    }

    func testUnreadablePaths() throws {
        let missing = "/nonexistent/dir/clip.mp4"
        XCTAssertEqual(failure(missing), .unreadablePath(path: missing, reason: "No such file or directory"))
        XCTAssertEqual(failure(VideoFixtures.root.path), .unreadablePath(path: VideoFixtures.root.path,
                                                                         reason: "it is a directory"))
        XCTAssertEqual(failure(""), .unreadablePath(path: "", reason: "the path is empty"))
        // A protocol-looking name is a file name, never an FFmpeg protocol.
        XCTAssertEqual(kind(failure("concat:a.mp4|b.mp4") ?? .outOfMemory(what: "")), "unreadablePath")
        XCTAssertThrowsError(try VideoDecoder(reference: "https://example.com/a.mp4")) { error in
            XCTAssertEqual(error as? VideoError, .unsupportedReference("https://example.com/a.mp4"))
        }
        XCTAssertThrowsError(try VideoDecoder(reference: "file:///nonexistent.mp4")) { error in
            XCTAssertEqual(error as? VideoError, .unreadablePath(path: "/nonexistent.mp4",
                                                                 reason: "No such file or directory"))
        }
    }

    func testIndexBeyondTheLastFrameThrowsBeforeDecoding() throws {
        let video = try VideoDecoder(path: VideoFixtures.path("h264_yuv420p.mp4"))
        XCTAssertEqual(video.info.frameCount, 40)
        for bad in [[40], [0, 5, 40], [-1], [Int.max]] {
            XCTAssertThrowsError(try video.frames(at: bad)) { error in
                XCTAssertEqual(error as? VideoError, .frameIndexOutOfRange(index: bad.last == 40 ? 40 : bad[0],
                                                                           frameCount: 40))
            }
        }
        XCTAssertThrowsError(try video.forEachFrame(at: [3, 41]) { _ in XCTFail("no frame before the error") })
        XCTAssertEqual(VideoError.frameIndexOutOfRange(index: 40, frameCount: 40).description,
                       "frame index 40 is out of range: the video has 40 frames (valid 0…39)")
    }

    func testPixelLimitIsCheckedBeforeDecoding() throws {
        let options = VideoDecodeOptions(maxPixels: 1000)
        XCTAssertThrowsError(try VideoDecoder(path: VideoFixtures.path("h264_yuv420p.mp4"), options: options)) {
            XCTAssertEqual($0 as? VideoError, .invalidDimensions(width: 64, height: 48, maxPixels: 1000))
        }
    }
}
