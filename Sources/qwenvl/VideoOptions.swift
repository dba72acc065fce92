import ArgumentParser
import QwenVL

/// `--fps`, `--max-frames`, `--video-total-pixels`: how `--video` files are sampled (qwen-vl-utils semantics).
struct VideoOptions: ParsableArguments {
    @Option(help: "Frames sampled per second of video (default 2).") var fps: Double?
    @Option(name: .customLong("max-frames"), help: "Most frames sampled from a video (default 768).") var maxFrames: Int?
    @Option(name: .customLong("video-total-pixels"), help: "Pixel budget over all frames of a video (default 24576·28·28 = 19267584).")
    var videoTotalPixels: Int?

    func validate() throws {
        if let fps, !(fps > 0 && fps.isFinite) { throw ValidationError("--fps must be > 0") }
        if let maxFrames, maxFrames < 2 { throw ValidationError("--max-frames must be ≥ 2") }
        if let videoTotalPixels, videoTotalPixels < 784 { throw ValidationError("--video-total-pixels must be ≥ 784") }
    }

    /// A video part for `path` with these options.
    func videoInput(_ path: String) -> VideoInput {
        var input = VideoInput(source: .file(path))
        input.fps = fps
        input.maxFrames = maxFrames
        input.totalPixels = videoTotalPixels
        return input
    }
}
