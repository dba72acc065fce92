import Foundation
import QwenVLMedia

/// One video made ready for the vision encoder.
public struct PreparedVideo: Sendable {
    /// Frames in the source (a file's frame count, or the length of a frame list).
    public var totalFrames: Int
    /// Source frame rate (nil for frame lists).
    public var sourceFPS: Double?
    /// Seconds (nil for frame lists).
    public var duration: Double?
    /// Sampled frame indices (a frame list repeats its last frame up to an even count).
    public var indices: [Int]
    public var frameWidth: Int
    public var frameHeight: Int
    /// (frames/2, h/14, w/14).
    public var grid: VisionGrid
    /// Patch rows: [grid.patchCount, 1176].
    public var pixels: [Float]
    public var tokenCount: Int
    /// qwen-vl-utils' `sample_fps` (frames sampled ÷ window frames × source fps; 2 for frame lists), the rate
    /// Qwen2.5-VL's absolute-time positions use.
    public var sampleFPS: Double = 2
}

/// Videos as qwen-vl-utils 0.0.14 prepares them (spec §4): 2 fps sampling with frame factor 2, a per-frame pixel
/// budget from the video's total budget, torchvision's antialiased bicubic resize, then frame pairs as 3-D tubes.
///
/// Frames are streamed: each sampled frame is decoded, resized and kept; nothing else of the video stays in memory.
public struct VideoProcessor: Sendable {
    /// Used for frame lists, whose frames are fetched like images first.
    public var imageProcessor: ImageProcessor

    public init(imageProcessor: ImageProcessor) { self.imageProcessor = imageProcessor }

    /// The sampler options of a video part.
    static func options(_ input: VideoInput) -> VideoSampler.Options {
        var o = VideoSampler.Options(fps: input.fps, nframes: input.nframes, minPixels: input.minPixels,
                                     maxPixels: input.maxPixels, totalPixels: input.totalPixels,
                                     videoStart: input.videoStart, videoEnd: input.videoEnd,
                                     resizedHeight: input.resizedHeight, resizedWidth: input.resizedWidth)
        if let v = input.minFrames { o.minFrames = v }
        if let v = input.maxFrames { o.maxFrames = v }
        return o
    }

    /// Decodes, samples and resizes one video (file or frame list).
    public func prepare(_ input: VideoInput, progress: ((Int, Int) -> Void)? = nil) async throws -> PreparedVideo {
        let options = Self.options(input)
        switch input.source {
        case .file(let path):
            return try prepareFile(path, options: options, progress: progress)
        case .frames(let paths):
            return try await prepareFrames(paths, input: input, options: options)
        }
    }

    func prepareFile(_ path: String, options: VideoSampler.Options, progress: ((Int, Int) -> Void)?) throws -> PreparedVideo {
        let decoder: VideoDecoder
        do { decoder = try VideoDecoder(reference: path) } catch let error as VideoError {
            throw QwenVLError("video '\(path)': \(error.description)")
        }
        let info = decoder.info
        let sampling = try VideoSampler.sample(totalFrames: info.frameCount, videoFPS: info.fps, options: options)
        let (h, w) = try VideoSampler.frameSize(height: info.height, width: info.width, frameCount: sampling.indices.count, options: options)
        var frames: [[UInt8]] = []
        frames.reserveCapacity(sampling.indices.count)
        do {
            let plan = try TorchResize.Plan(sourceWidth: info.width, sourceHeight: info.height, width: w, height: h)
            // Duplicated indices (short videos) are decoded once: map each decoded frame to its positions.
            var byIndex: [Int: [UInt8]] = [:]
            let wanted = Set(sampling.indices)
            try decoder.forEachFrame(at: sampling.indices) { frame in
                byIndex[frame.index] = try plan.apply(frame.image).pixels
                progress?(byIndex.count, wanted.count)
            }
            for index in sampling.indices {
                guard let pixels = byIndex[index] else { throw QwenVLError("video '\(path)': frame \(index) was not decoded") }
                frames.append(pixels)
            }
        } catch let error as VideoError {
            throw QwenVLError("video '\(path)': \(error.description)")
        } catch let error as MediaError {
            throw QwenVLError("video '\(path)': \(error.description)")
        }
        let (values, grid) = PatchEmbedding.patchify(frames: frames, height: h, width: w,
                                                     patchSize: imageProcessor.patchSize, temporalPatch: imageProcessor.temporalPatchSize,
                                                     mergeSize: imageProcessor.mergeSize, fused: true)
        return PreparedVideo(totalFrames: info.frameCount, sourceFPS: info.fps, duration: info.duration, indices: sampling.indices,
                             frameWidth: w, frameHeight: h, grid: grid, pixels: values,
                             tokenCount: grid.patchCount / (imageProcessor.mergeSize * imageProcessor.mergeSize),
                             sampleFPS: sampling.sampleFPS)
    }

    /// A list of frame images: each fetched like an image (the part's min/max pixels and resized size apply),
    /// padded to an even count with the last frame, then resized to the video budget.
    ///
    /// qwen-vl-utils 0.0.14 passes the size factor (28) where `fetch_image` expects the patch size (14), so list
    /// frames are fetched on a 56-pixel grid with a 4·56² … 16384·56² budget; this reproduces that.
    func prepareFrames(_ paths: [String], input: VideoInput, options: VideoSampler.Options) async throws -> PreparedVideo {
        var frameProcessor = imageProcessor
        frameProcessor.patchSize = imageProcessor.patchSize * imageProcessor.mergeSize
        let factor = frameProcessor.patchSize * frameProcessor.mergeSize
        frameProcessor.minPixels = 4 * factor * factor
        frameProcessor.maxPixels = 16384 * factor * factor
        var images: [RGBImage] = []
        for path in paths {
            var frameInput = ImageInput(source: path, minPixels: input.minPixels, maxPixels: input.maxPixels)
            frameInput.resizedHeight = input.resizedHeight
            frameInput.resizedWidth = input.resizedWidth
            let frame = try await frameProcessor.fetch(frameInput)
            if let first = images.first, first.width != frame.width || first.height != frame.height {
                throw QwenVLError("video frame list: '\(path)' is \(frame.width)×\(frame.height) after resizing, the first frame \(first.width)×\(first.height); frames must match")
            }
            images.append(frame)
        }
        let count = (images.count + 1) / 2 * 2
        while images.count < count { images.append(images[images.count - 1]) }
        let height = images[0].height, width = images[0].width
        let (h, w) = try VideoSampler.frameSize(height: height, width: width, frameCount: images.count, options: options)
        var frames: [[UInt8]] = []
        do {
            let plan = try TorchResize.Plan(sourceWidth: width, sourceHeight: height, width: w, height: h)
            for image in images { frames.append((h == height && w == width) ? image.pixels : try plan.apply(image).pixels) }
        } catch let error as MediaError {
            throw QwenVLError("video frame list: \(error.description)")
        }
        let (values, grid) = PatchEmbedding.patchify(frames: frames, height: h, width: w, patchSize: imageProcessor.patchSize,
                                                     temporalPatch: imageProcessor.temporalPatchSize, mergeSize: imageProcessor.mergeSize, fused: true)
        return PreparedVideo(totalFrames: paths.count, sourceFPS: nil, duration: nil,
                             indices: Array(0..<paths.count) + Array(repeating: paths.count - 1, count: count - paths.count),
                             frameWidth: w, frameHeight: h, grid: grid, pixels: values,
                             tokenCount: grid.patchCount / (imageProcessor.mergeSize * imageProcessor.mergeSize))
    }

}
