import Foundation
import XCTest
import QwenVLMedia

/// Fixtures written by scripts/fixtures/generate_video_decode.py: videos encoded by the ffmpeg CLI, references
/// decoded by PyAV 18.1 (`frame.to_ndarray(format="rgb24")`, frames sorted by pts as torchvision does).
enum VideoFixtures {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/video/decode")

    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    struct Case: Decodable {
        let name: String
        let file: String
        let codec: String
        let pix_fmt: String
        let width: Int
        let height: Int
        let decoded_frames: Int
        let stream_frames: Int
        let average_rate: Double?
        let base_rate: Double?
        let stream_duration: Double?
        let container_duration: Double?
        let time_base: [Int]?
        let pts: [Int64]?
        let rotation: Int
        let out_width: Int
        let out_height: Int
        let crc32: [UInt32]
        let mean_rgb: [[Double]]
        let rgb: String?
        let rgb_frames: [Int]

        /// The stored reference frames, keyed by frame index.
        func referenceFrames() throws -> [Int: [UInt8]] {
            guard let rgb else { return [:] }
            let bytes = [UInt8](try Data(contentsOf: VideoFixtures.root.appendingPathComponent(rgb)))
            let frameBytes = out_width * out_height * 3
            precondition(bytes.count == frameBytes * rgb_frames.count, "fixture \(rgb) has the wrong size")
            var frames: [Int: [UInt8]] = [:]
            for (slot, index) in rgb_frames.enumerated() {
                frames[index] = Array(bytes[slot * frameBytes ..< (slot + 1) * frameBytes])
            }
            return frames
        }
    }

    struct Manifest: Decodable {
        let cases: [Case]
    }

    struct BadCase: Decodable {
        let file: String
        let expect: String
        let pyav: String
    }

    struct BadManifest: Decodable {
        let cases: [BadCase]
    }

    static func cases() throws -> [Case] {
        try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: root.appendingPathComponent("cases.json"))).cases
    }

    static func named(_ name: String) throws -> Case {
        guard let found = try cases().first(where: { $0.name == name }) else {
            throw XCTSkip("fixture case \(name) missing")
        }
        return found
    }

    static func badCases() throws -> [BadCase] {
        try JSONDecoder().decode(BadManifest.self,
                                 from: Data(contentsOf: root.appendingPathComponent("bad_cases.json"))).cases
    }

    /// CRC-32 (zlib's polynomial), as Python's `zlib.crc32`.
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc >> 1) ^ (0xEDB8_8320 & (0 &- (crc & 1))) }
        }
        return ~crc
    }

    /// Largest absolute difference and count of differing samples between two equally sized buffers.
    static func difference(_ a: [UInt8], _ b: [UInt8]) -> (maxAbs: Int, differing: Int) {
        var maxAbs = 0
        var differing = 0
        for i in 0..<min(a.count, b.count) where a[i] != b[i] {
            differing += 1
            maxAbs = max(maxAbs, abs(Int(a[i]) - Int(b[i])))
        }
        return (maxAbs, differing)
    }
}

/// Probing and full-sequence decoding against PyAV.
final class VideoDecoderTests: XCTestCase {
    /// Files without a pts on every packet (AVI with B-frames, a raw H.264 stream): numbered by decode output.
    static let unindexedCases: Set<String> = ["mpeg4_bframes", "h264_raw"]

    func testMetadataMatchesPyAV() throws {
        for item in try VideoFixtures.cases() {
            let video = try VideoDecoder(path: VideoFixtures.path(item.file))
            let info = video.info
            XCTAssertEqual(info.frameCount, item.decoded_frames, "\(item.name): frame count")
            XCTAssertEqual(info.frameCountSource, .packetScan, item.name)
            XCTAssertEqual(info.headerFrameCount ?? 0, item.stream_frames, "\(item.name): nb_frames")
            XCTAssertEqual(info.averageFrameRate, item.average_rate, "\(item.name): avg_frame_rate")
            if item.name != "h264_raw" {
                // FFmpeg 8 (PyAV) guesses r_frame_rate 50 (field rate) for raw H.264, FFmpeg 5.1 guesses 25.
                XCTAssertEqual(info.baseFrameRate, item.base_rate, "\(item.name): r_frame_rate")
            }
            XCTAssertEqual(info.fps, item.average_rate ?? item.base_rate ?? 0, "\(item.name): fps")
            XCTAssertEqual(info.streamDuration, item.stream_duration, "\(item.name): stream duration")
            XCTAssertEqual(info.containerDuration, item.container_duration, "\(item.name): container duration")
            XCTAssertEqual(info.codedWidth, item.width, item.name)
            XCTAssertEqual(info.codedHeight, item.height, item.name)
            XCTAssertEqual(info.rotation, item.rotation, item.name)
            XCTAssertEqual(info.width, item.out_width, item.name)
            XCTAssertEqual(info.height, item.out_height, item.name)
            XCTAssertEqual(info.isSeekable, !Self.unindexedCases.contains(item.name), "\(item.name): timestamp index")
        }
    }

    func testEveryFrameMatchesPyAV() throws {
        var report: [String] = []
        for item in try VideoFixtures.cases() {
            let video = try VideoDecoder(path: VideoFixtures.path(item.file))
            var frames: [VideoFrame] = []
            try video.forEachFrame(at: Array(0..<video.info.frameCount)) { frames.append($0) }
            XCTAssertEqual(frames.count, item.decoded_frames, item.name)
            let references = try item.referenceFrames()
            var worst = 0
            var differing = 0
            var meanError = 0.0
            for frame in frames {
                XCTAssertEqual(frame.image.width, item.out_width, item.name)
                XCTAssertEqual(frame.image.height, item.out_height, item.name)
                guard frame.index < item.crc32.count else { continue }
                if let pts = item.pts, let base = item.time_base, let time = frame.timestamp {
                    XCTAssertEqual(time, Double(pts[frame.index]) * Double(base[0]) / Double(base[1]),
                                   accuracy: 1e-9, "\(item.name) frame \(frame.index) time")
                }
                // Bit-identical to PyAV: lossless RGB codecs trivially; YUV streams because FFmpeg 5.1 decodes the
                // same YUV as PyAV's FFmpeg 8 and the swscale setup (SWS_BILINEAR, frame colorspace and range) is
                // PyAV's.
                if let reference = references[frame.index] {
                    let diff = VideoFixtures.difference(frame.image.pixels, reference)
                    worst = max(worst, diff.maxAbs)
                    differing += diff.differing
                    XCTAssertEqual(diff.differing, 0, "\(item.name) frame \(frame.index): \(diff.differing) samples "
                                   + "differ from PyAV, max |Δ| \(diff.maxAbs)")
                } else {
                    XCTAssertEqual(VideoFixtures.crc32(frame.image.pixels), item.crc32[frame.index],
                                   "\(item.name) frame \(frame.index) differs from PyAV (CRC-32)")
                }
                // Mean colour of the frame against PyAV's (catches orientation and colour-matrix mistakes).
                var sums = [0.0, 0.0, 0.0]
                for (i, value) in frame.image.pixels.enumerated() { sums[i % 3] += Double(value) }
                let count = Double(frame.image.width * frame.image.height)
                for c in 0..<3 { meanError = max(meanError, abs(sums[c] / count - item.mean_rgb[frame.index][c])) }
            }
            let exact = zip(frames, item.crc32).filter { VideoFixtures.crc32($0.image.pixels) == $1 }.count
            report.append("\(item.name): \(exact)/\(frames.count) frames identical, max |Δ| \(worst) "
                          + "(\(differing) samples in stored frames), max mean-colour error \(meanError)")
            XCTAssertEqual(exact, item.decoded_frames, "\(item.name): frames identical to PyAV")
            XCTAssertLessThanOrEqual(meanError, 0.05, "\(item.name): mean colour differs from PyAV")
        }
        print(report.joined(separator: "\n"))
    }
}
