import Foundation
import XCTest
import QwenVLMedia

/// Speed and peak memory of fetching qwen-vl-utils' evenly spaced frames, seeking versus decoding everything.
/// Skipped unless `QWENVL_VIDEO_BENCH` names a video; run in release, e.g. with the 60 s 1280×720 testsrc2 clip
/// `scripts/fixtures/generate_video_decode.py --bench` writes:
/// `QWENVL_VIDEO_BENCH=/tmp/viddec-bench/testsrc2_720p_60s.mp4 swift test -c release --filter VideoBenchmarkTests`
final class VideoBenchmarkTests: XCTestCase {
    /// Peak resident set size (VmHWM) in MiB.
    private func peakRSS() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kib = Double(line.split(separator: " ").dropFirst().first ?? "") else { return -1 }
        return kib / 1024
    }

    /// Resets VmHWM to the current RSS (Linux: write 5 to clear_refs).
    private func resetPeakRSS() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }

    private func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    func testEvenlySpacedFrames() throws {
        guard let path = ProcessInfo.processInfo.environment["QWENVL_VIDEO_BENCH"] else {
            throw XCTSkip("set QWENVL_VIDEO_BENCH=/path/to/video.mp4 to run the video decode benchmark")
        }
        var video: VideoDecoder?
        let open = try seconds { video = try VideoDecoder(path: path) }
        let decoder = try XCTUnwrap(video)
        let info = decoder.info
        // qwen-vl-utils: n = floor2(total / fps · 2), indices = round_half_even(linspace(0, total − 1, n)).
        let total = info.frameCount
        let n = min(768, max(2, Int(Double(total) / info.fps * 2) / 2 * 2))  // FPS_MAX_FRAMES = 768
        let indices = (0..<n).map { i in
            (Double(i) * Double(total - 1) / Double(n - 1)).rounded(.toNearestOrEven)
        }.map { Int($0) }
        print(String(format: "%@: %d×%d %@, %d frames @ %.3f fps, %.1f s; open+scan %.3f s",
                     path, info.width, info.height, info.codec, total, info.fps, info.duration, open))

        func run(_ label: String, options: VideoDecodeOptions, keep: Bool, wanted: [Int]) throws {
            let decoder = try VideoDecoder(path: path, options: options)
            resetPeakRSS()
            let before = peakRSS()
            var kept: [RGBImage] = []
            var decoded = 0
            var seeks = 0
            let time = try seconds {
                let reader = try VideoFrameReader(decoder: decoder, indices: wanted)
                while let frame = try reader.next() {
                    if keep { kept.append(frame.image) }
                }
                decoded = reader.decodedFrameCount
                seeks = reader.seekCount
            }
            print(String(format: "  %@: %.3f s, %d frames decoded, %d seeks, %d kept; peak RSS %.0f MiB "
                         + "(%.0f MiB above the start)", label, time, decoded, seeks, kept.count, peakRSS(),
                         peakRSS() - before))
            XCTAssertEqual(decoded >= wanted.count, true)
        }

        let everything = VideoDecodeOptions(minimumFramesSkippedBySeek: Int.max, skipUnwantedNonReferenceFrames: false)
        try run("\(n) frames, defaults (seek + skip non-ref), kept", options: VideoDecodeOptions(), keep: true,
                wanted: indices)
        try run("\(n) frames, defaults, streamed", options: VideoDecodeOptions(), keep: false, wanted: indices)
        try run("\(n) frames, seek only", options: VideoDecodeOptions(skipUnwantedNonReferenceFrames: false),
                keep: false, wanted: indices)
        try run("\(n) frames, decoding everything", options: everything, keep: false, wanted: indices)
        guard total <= 5000 else { return }  // long videos: the comparisons above are enough
        try run("all \(total) frames converted, streamed", options: everything, keep: false,
                wanted: Array(0..<total))
        try run("\(n) frames, defaults, 1 decoder thread", options: VideoDecodeOptions(threads: 1), keep: false,
                wanted: indices)
    }
}
