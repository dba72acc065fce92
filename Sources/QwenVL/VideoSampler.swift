import Foundation

/// Which frames of a video the model sees and at what size: qwen-vl-utils' `fetch_video` rules (spec §4.1).
///
/// Frames are taken at 2 fps by default, in pairs (frame factor 2, one temporal patch = two frames), at least 4 and
/// at most 768 of them, optionally from a `videoStart`…`videoEnd` window (seconds). The sampled indices are the
/// half-to-even rounded `linspace(start, end, n)` (so the first and the last frame of the window are always in).
/// Each frame then gets the same pixel budget: at most 768·28² pixels, and a share of a total budget over all
/// frames (`totalPixels / n · 2`), but never less than 1.05 × the 128·28² minimum. All functions are pure.
///
/// ```swift
/// var options = VideoSampler.Options()
/// options.fps = 1
/// let indices = try VideoSampler.indices(totalFrames: 300, videoFPS: 30, options: options)  // [0, 33, …, 299]
/// let size = try VideoSampler.frameSize(height: 1080, width: 1920, frameCount: indices.count, options: options)
/// ```
///
/// The default total budget is the Qwen2-VL release's (qwen-vl-utils 0.0.8: 24576·28² = 19,267,584 pixels);
/// qwen-vl-utils 0.0.14 uses 128000·28²·0.9 = 90,316,800. Give `totalPixels` to pick another.
public enum VideoSampler {
    /// Frames per temporal patch: frame counts are multiples of this.
    public static let frameFactor = 2
    /// Sampling rate when neither `fps` nor `nframes` is given.
    public static let defaultFPS = 2.0
    /// Fewest frames sampled by the fps rule (rounded up to the frame factor).
    public static let defaultMinFrames = 4
    /// Most frames sampled by the fps rule.
    public static let defaultMaxFrames = 768
    /// Per-frame minimum pixels: 128·28² = 100,352.
    public static let defaultMinPixels = 128 * 28 * 28
    /// Per-frame maximum pixels: 768·28² = 602,112.
    public static let defaultMaxPixels = 768 * 28 * 28
    /// Pixels shared by all frames of one video: 24576·28² = 19,267,584 (Qwen2-VL release, qwen-vl-utils 0.0.8).
    public static let defaultTotalPixels = 24576 * 28 * 28
    /// Side multiple of a resized frame (patch 14 × merge 2).
    public static let sizeFactor = 28

    /// The per-video options of a qwen-vl-utils video content part (`{"type": "video", "fps": 1, …}`).
    public struct Options: Sendable, Equatable {
        /// Target frames per second (`fps`); nil means ``defaultFPS``. Exclusive with `nframes`.
        public var fps: Double?
        /// Exact frame count (`nframes`), rounded half-to-even to a multiple of 2. Exclusive with `fps`.
        public var nframes: Int?
        /// `min_frames` for the fps rule (rounded up to a multiple of 2).
        public var minFrames: Int
        /// `max_frames` for the fps rule (rounded down to a multiple of 2); never more than the video has.
        public var maxFrames: Int
        /// `min_pixels` per frame; nil means ``defaultMinPixels``.
        public var minPixels: Int?
        /// `max_pixels` per frame: a cap on the computed budget (it can only lower it); nil means no cap.
        public var maxPixels: Int?
        /// `total_pixels` over all frames; nil means ``defaultTotalPixels``.
        public var totalPixels: Int?
        /// `video_start` in seconds (window start, rounded up to a frame).
        public var videoStart: Double?
        /// `video_end` in seconds (window end, rounded down to a frame).
        public var videoEnd: Double?
        /// `resized_height` / `resized_width`: when both are given the frame size is
        /// `SmartResize.size(resizedHeight, resizedWidth)` with the image defaults, ignoring the pixel budget.
        public var resizedHeight: Int?
        public var resizedWidth: Int?

        public init(fps: Double? = nil, nframes: Int? = nil, minFrames: Int = VideoSampler.defaultMinFrames,
                    maxFrames: Int = VideoSampler.defaultMaxFrames, minPixels: Int? = nil, maxPixels: Int? = nil,
                    totalPixels: Int? = nil, videoStart: Double? = nil, videoEnd: Double? = nil,
                    resizedHeight: Int? = nil, resizedWidth: Int? = nil) {
            self.fps = fps
            self.nframes = nframes
            self.minFrames = minFrames
            self.maxFrames = maxFrames
            self.minPixels = minPixels
            self.maxPixels = maxPixels
            self.totalPixels = totalPixels
            self.videoStart = videoStart
            self.videoEnd = videoEnd
            self.resizedHeight = resizedHeight
            self.resizedWidth = resizedWidth
        }
    }

    /// The frames chosen from one video.
    public struct Sampling: Sendable, Equatable {
        /// First and last frame of the `videoStart`…`videoEnd` window (the whole video without one).
        public var window: ClosedRange<Int>
        /// Sampled frame indices, ascending, `count` a multiple of 2.
        public var indices: [Int]
        /// `n / windowFrames · videoFPS` (Qwen2.5-VL uses it for temporal ids; Qwen2-VL ignores it).
        public var sampleFPS: Double
    }

    /// The frame window `[start, end]` selected by `videoStart`/`videoEnd` (qwen-vl-utils
    /// `calculate_video_frame_range`): `start = ceil(clamp(videoStart)·fps)`, `end = min(floor(clamp(videoEnd)·fps),
    /// total − 1)`, times clamped to `[0, total / fps]`.
    public static func frameRange(totalFrames: Int, videoFPS: Double, options: Options) throws -> ClosedRange<Int> {
        guard videoFPS > 0, videoFPS.isFinite else { throw QwenVLError("video fps must be a positive number (got \(videoFPS))") }
        guard totalFrames > 0 else { throw QwenVLError("the video has no frames (total_frames \(totalFrames))") }
        if options.videoStart == nil && options.videoEnd == nil { return 0...(totalFrames - 1) }
        let duration = Double(totalFrames) / videoFPS
        func clamped(_ seconds: Double, _ name: String) throws -> Double {
            guard seconds.isFinite else { throw QwenVLError("\(name) must be a finite number of seconds (got \(seconds))") }
            return max(0, min(seconds, duration))
        }
        var start = 0, end = totalFrames - 1
        if let videoStart = options.videoStart {
            start = Int((try clamped(videoStart, "video_start") * videoFPS).rounded(.up))
        }
        if let videoEnd = options.videoEnd {
            end = min(Int((try clamped(videoEnd, "video_end") * videoFPS).rounded(.down)), totalFrames - 1)
        }
        guard start < end else {
            throw QwenVLError("invalid video time range: start frame \(start) is not before end frame \(end) "
                + "(video_start \(options.videoStart.map { "\($0)" } ?? "0") s, video_end "
                + "\(options.videoEnd.map { "\($0)" } ?? "end") s; the video has \(totalFrames) frames at \(videoFPS) fps)")
        }
        return start...end
    }

    /// Number of frames to sample (qwen-vl-utils `smart_nframes` on the frame window): `nframes` rounded to a
    /// multiple of 2, or `windowFrames / videoFPS · fps` clamped to `[minFrames, maxFrames]` and to the window,
    /// rounded down to a multiple of 2. Throws unless 2 ≤ n ≤ window frames.
    public static func frameCount(totalFrames: Int, videoFPS: Double, options: Options) throws -> Int {
        let window = try frameRange(totalFrames: totalFrames, videoFPS: videoFPS, options: options)
        return try smartFrameCount(windowFrames: window.count, videoFPS: videoFPS, options: options)
    }

    /// Sampled frame indices: `round_half_even(start + i·(end − start)/(n − 1))` for i in 0..<n (the float32
    /// `torch.linspace(start, end, n).round()` of qwen-vl-utils gives the same integers; spec §4.1).
    public static func indices(totalFrames: Int, videoFPS: Double, options: Options) throws -> [Int] {
        try sample(totalFrames: totalFrames, videoFPS: videoFPS, options: options).indices
    }

    /// Window, indices and sample fps in one call.
    public static func sample(totalFrames: Int, videoFPS: Double, options: Options) throws -> Sampling {
        let window = try frameRange(totalFrames: totalFrames, videoFPS: videoFPS, options: options)
        let n = try smartFrameCount(windowFrames: window.count, videoFPS: videoFPS, options: options)
        let start = Double(window.lowerBound), span = Double(window.upperBound - window.lowerBound)
        let indices = (0..<n).map { i in Int((start + Double(i) * span / Double(n - 1)).rounded(.toNearestOrEven)) }
        return Sampling(window: window, indices: indices, sampleFPS: Double(n) / Double(window.count) * videoFPS)
    }

    /// Per-frame pixel budget for `frameCount` sampled frames:
    /// `max = max(min(768·28², total / n · 2), int(minPixels · 1.05))`, then capped by `options.maxPixels`.
    /// `maxPixels` is fractional when `total / n · 2` is (qwen-vl-utils keeps the float).
    public static func frameBudget(frameCount: Int, options: Options) throws -> (minPixels: Int, maxPixels: Double) {
        guard frameCount > 0 else { throw QwenVLError("a video needs at least one frame (got \(frameCount))") }
        let minPixels = options.minPixels ?? defaultMinPixels
        let total = options.totalPixels ?? defaultTotalPixels
        guard minPixels > 0, total > 0 else {
            throw QwenVLError("video min_pixels and total_pixels must be positive (got \(minPixels), \(total))")
        }
        let share = Double(total) / Double(frameCount) * Double(frameFactor)
        let floor = Double(Int((Double(minPixels) * 1.05).rounded(.towardZero)))
        var maxPixels = max(min(Double(defaultMaxPixels), share), floor)
        if let cap = options.maxPixels { maxPixels = min(Double(cap), maxPixels) }
        return (minPixels, maxPixels)
    }

    /// Size (height, width) every sampled frame is resized to: `smart_resize` with factor 28 and the budget of
    /// ``frameBudget(frameCount:options:)``, or of `resizedHeight`×`resizedWidth` when both are given.
    public static func frameSize(height: Int, width: Int, frameCount: Int,
                                 options: Options) throws -> (height: Int, width: Int) {
        if let h = options.resizedHeight, let w = options.resizedWidth {
            return try SmartResize.size(height: h, width: w, factor: sizeFactor)
        }
        let budget = try frameBudget(frameCount: frameCount, options: options)
        return try smartResize(height: height, width: width, factor: sizeFactor,
                               minPixels: Double(budget.minPixels), maxPixels: budget.maxPixels)
    }

    // MARK: - frame lists

    /// Side multiple of the first resize of a listed frame. qwen-vl-utils 0.0.14 calls
    /// `fetch_image(frame, image_factor)` where the parameter is `image_patch_size`, so the factor becomes 28·2.
    public static let listImageFactor = 56

    /// Frames used for a frame list (`"video": [image, …]`): all of them, the last repeated to an even count.
    public static func listFrameCount(_ count: Int) throws -> Int {
        guard count > 0 else { throw QwenVLError("a video frame list is empty") }
        return (count + frameFactor - 1) / frameFactor * frameFactor
    }

    /// Size (height, width) of the first, PIL-bicubic resize of each listed image (qwen-vl-utils 0.0.14
    /// `fetch_image` at factor 56 with the image budget 4·56² … 16384·56², or the part's own `min_pixels` /
    /// `max_pixels` / `resized_height`×`resized_width`). The stacked frames are then resized again to
    /// ``frameSize(height:width:frameCount:options:)`` of this size with ``listFrameCount(_:)`` frames, by the torch
    /// resize (a no-op when the sizes agree).
    public static func listFrameImageSize(height: Int, width: Int, options: Options) throws -> (height: Int, width: Int) {
        let f = listImageFactor
        let defaultMin = Double(4 * f * f), defaultMax = Double(16384 * f * f)
        if let h = options.resizedHeight, let w = options.resizedWidth {
            return try smartResize(height: h, width: w, factor: f, minPixels: defaultMin, maxPixels: defaultMax)
        }
        return try smartResize(height: height, width: width, factor: f,
                               minPixels: options.minPixels.map(Double.init) ?? defaultMin,
                               maxPixels: options.maxPixels.map(Double.init) ?? defaultMax)
    }

    // MARK: - internals

    /// `smart_nframes` for a window of `windowFrames` frames.
    static func smartFrameCount(windowFrames total: Int, videoFPS: Double, options: Options) throws -> Int {
        let factor = Double(frameFactor)
        var n: Double
        if let requested = options.nframes {
            guard options.fps == nil else { throw QwenVLError("a video takes either fps or nframes, not both") }
            n = (Double(requested) / factor).rounded(.toNearestOrEven) * factor
        } else {
            let fps = options.fps ?? defaultFPS
            guard fps.isFinite, fps > 0 else { throw QwenVLError("video fps must be a positive number (got \(fps))") }
            let minFrames = (Double(options.minFrames) / factor).rounded(.up) * factor
            let maxFrames = (Double(min(options.maxFrames, total)) / factor).rounded(.down) * factor
            n = Double(total) / videoFPS * fps
            n = min(min(max(n, minFrames), maxFrames), Double(total))
            n = (n / factor).rounded(.down) * factor
        }
        guard n >= factor, n <= Double(total) else {
            throw QwenVLError("cannot sample \(n.isFinite ? String(Int(n)) : "\(n)") frames from a video window of "
                + "\(total) frames: the count must be between \(frameFactor) and \(total)")
        }
        return Int(n)
    }

    /// qwen-vl-utils 0.0.14 `smart_resize` with a fractional pixel budget (SmartResize.size takes integers; a
    /// truncated budget can change the result, e.g. 720×1280 at 235,548.67 → 364×644, at 235,548 → 336×644).
    /// Unlike the image path, a side is not raised to `factor` in the max branch: a zero side is an error here.
    static func smartResize(height: Int, width: Int, factor: Int, minPixels: Double,
                            maxPixels: Double) throws -> (height: Int, width: Int) {
        guard height > 0, width > 0 else { throw QwenVLError("video frame has an empty side (\(width)×\(height))") }
        guard minPixels <= maxPixels else {
            throw QwenVLError("video min_pixels (\(minPixels)) is larger than max_pixels (\(maxPixels))")
        }
        let H = Double(height), W = Double(width), f = Double(factor)
        let ratio = max(H, W) / min(H, W)
        guard ratio <= SmartResize.maxAspectRatio else {
            throw QwenVLError("video frame aspect ratio \(String(format: "%.1f", ratio)) is above "
                + "\(Int(SmartResize.maxAspectRatio)) (\(width)×\(height))")
        }
        var h = max(f, (H / f).rounded(.toNearestOrEven) * f)
        var w = max(f, (W / f).rounded(.toNearestOrEven) * f)
        if h * w > maxPixels {
            let beta = ((H * W) / maxPixels).squareRoot()
            h = (H / beta / f).rounded(.down) * f
            w = (W / beta / f).rounded(.down) * f
        } else if h * w < minPixels {
            let beta = (minPixels / (H * W)).squareRoot()
            h = (H * beta / f).rounded(.up) * f
            w = (W * beta / f).rounded(.up) * f
        }
        guard h >= f, w >= f else {
            throw QwenVLError("video frame \(width)×\(height) would shrink to \(Int(w))×\(Int(h)) under max_pixels \(maxPixels)")
        }
        return (Int(h), Int(w))
    }
}
