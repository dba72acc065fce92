import Foundation
import QwenVLTokenizer

/// What the model consumes for one request: token ids plus the vision inputs their placeholders stand for.
public struct ModelInput: Sendable {
    /// The rendered chat text (placeholders not yet expanded).
    public var text: String
    /// Token ids with every `<|image_pad|>`/`<|video_pad|>` expanded to its block length.
    public var tokenIDs: [Int32]
    /// Grids of the images, in prompt order.
    public var imageGrids: [VisionGrid] = []
    /// Patch rows of all images: [Σ patches, C·T·P·P].
    public var imagePixels: [Float] = []
    /// Grids of the videos, in prompt order.
    public var videoGrids: [VisionGrid] = []
    /// Patch rows of all videos: [Σ patches, C·T·P·P].
    public var videoPixels: [Float] = []
    /// Sampled frame rate per video (qwen-vl-utils `video_kwargs["fps"]`), for Qwen2.5-VL's absolute time.
    public var videoSampleFPS: [Double] = []
    /// A content fingerprint per image / video (lets a conversation's KV cache be reused across turns).
    public var imageKeys: [Int] = []
    public var videoKeys: [Int] = []

    /// Fingerprint of one item's patch rows and grid.
    public static func fingerprint(_ pixels: ArraySlice<Float>, _ grid: VisionGrid) -> Int {
        var hasher = Hasher()
        hasher.combine(grid)
        pixels.withUnsafeBytes { hasher.combine(bytes: $0) }
        return hasher.finalize()
    }

    public init(text: String, tokenIDs: [Int32]) { self.text = text; self.tokenIDs = tokenIDs }
}

/// Options for turning messages into model input.
public struct PrepareOptions: Sendable {
    /// Prefix images/videos with "Picture N: " / "Video N: ".
    public var addVisionID = false
    /// Append `<|im_start|>assistant\n`.
    public var addGenerationPrompt = true
    /// Caps every image's max_pixels (the CLI and server use 1280·28·28); nil = the checkpoint's budget.
    public var maxPixelsCap: Int? = nil
    /// Replaces the checkpoint's min_pixels for images that do not set their own.
    public var minPixels: Int? = nil
    /// OpenAI `tools` definitions shown to the model in the system turn (the `# Tools` block); empty: none.
    public var tools: [JSONValue] = []
    /// Called for each image with its original and resized size (e.g. to warn when a cap shrinks it).
    public var onImage: (@Sendable (Int, PreparedImage) -> Void)? = nil
    /// Called for each video once it is sampled and resized.
    public var onVideo: (@Sendable (Int, PreparedVideo) -> Void)? = nil
    /// Called while a video's frames are decoded: (video index, frames done, frames wanted).
    public var videoProgress: (@Sendable (Int, Int, Int) -> Void)? = nil

    public init(addVisionID: Bool = false, addGenerationPrompt: Bool = true, maxPixelsCap: Int? = nil) {
        self.addVisionID = addVisionID
        self.addGenerationPrompt = addGenerationPrompt
        self.maxPixelsCap = maxPixelsCap
    }
}

extension QwenVLModel {
    /// Temporal id step per video of `input` for this model's family (1 each for Qwen2-VL).
    public func videoTemporalSteps(_ input: ModelInput) -> [Int] {
        guard configuration.family == .qwen25VL, let tps = configuration.vision.tokensPerSecond else { return [] }
        return input.videoGrids.indices.map { k in
            AbsoluteTimePositions.temporalStep(sampleFPS: k < input.videoSampleFPS.count ? input.videoSampleFPS[k] : 2,
                                               temporalPatchSize: configuration.vision.temporalPatchSize, tokensPerSecond: tps)
        }
    }

    /// M-RoPE positions and rope delta of `input` by this model's family rule.
    public func ropePositions(_ input: ModelInput) throws -> (PositionIDs, Int) {
        try RopeIndex.compute(tokens: input.tokenIDs, imageTokenID: configuration.imageTokenID, videoTokenID: configuration.videoTokenID,
                              imageGrids: input.imageGrids, videoGrids: input.videoGrids, mergeSize: configuration.vision.spatialMergeSize,
                              videoTemporalSteps: videoTemporalSteps(input))
    }

    /// The image processor configured from this checkpoint (patch/merge sizes, pixel budget).
    public func imageProcessor(maxPixelsCap: Int? = nil, minPixels: Int? = nil) -> ImageProcessor {
        var processor = ImageProcessor(minPixels: minPixels ?? preprocessor.minPixels, maxPixels: preprocessor.maxPixels)
        if let cap = maxPixelsCap {
            processor.maxPixels = min(processor.maxPixels, cap)
            processor.minPixels = min(processor.minPixels, processor.maxPixels)
        }
        processor.patchSize = configuration.vision.patchSize
        processor.mergeSize = configuration.vision.spatialMergeSize
        processor.temporalPatchSize = configuration.vision.temporalPatchSize
        return processor
    }

    /// Renders `messages` with the chat template, prepares their images and tokenizes (spec §3, §6).
    ///
    /// Each `<|image_pad|>` becomes `t·h·w/4` copies for its image's grid; images are taken in prompt order.
    public func prepare(messages: [ChatMessage], options: PrepareOptions = PrepareOptions()) async throws -> ModelInput {
        guard !messages.isEmpty else { throw QwenVLError("messages: the conversation is empty") }
        let processor = imageProcessor(maxPixelsCap: options.maxPixelsCap, minPixels: options.minPixels)
        var images: [PreparedImage] = []
        var videos: [PreparedVideo] = []
        let videoProcessor = VideoProcessor(imageProcessor: processor)
        for message in messages {
            for part in message.parts {
                switch part {
                case .text: continue
                case .image(var image):
                    if let cap = options.maxPixelsCap, let requested = image.maxPixels { image.maxPixels = min(requested, cap) }
                    let prepared = try await processor.prepare(image)
                    options.onImage?(images.count, prepared)
                    images.append(prepared)
                case .video(let video):
                    let index = videos.count
                    let prepared = try await videoProcessor.prepare(video) { done, total in options.videoProgress?(index, done, total) }
                    options.onVideo?(index, prepared)
                    videos.append(prepared)
                }
            }
        }
        let text = chatTemplate.render(messages.map(\.templateMessage), tools: options.tools,
                                       addGenerationPrompt: options.addGenerationPrompt, addVisionID: options.addVisionID)
        var input = ModelInput(text: text, tokenIDs: [])
        let withImages = try expandPlaceholders(tokenizer.encode(text), id: configuration.imageTokenID,
                                                counts: images.map(\.tokenCount), kind: "image")
        input.tokenIDs = try expandPlaceholders(withImages, id: configuration.videoTokenID,
                                                counts: videos.map(\.tokenCount), kind: "video")
        input.videoGrids = videos.map(\.grid)
        input.videoSampleFPS = videos.map(\.sampleFPS)
        input.videoPixels = videos.flatMap(\.pixels)
        input.videoKeys = videos.map { ModelInput.fingerprint($0.pixels[...], $0.grid) }
        input.imageGrids = images.map(\.grid)
        input.imagePixels = images.flatMap(\.pixels)
        input.imageKeys = images.map { ModelInput.fingerprint($0.pixels[...], $0.grid) }
        return input
    }

    /// Replaces the k-th placeholder id with `counts[k]` copies (spec §6.2).
    func expandPlaceholders(_ tokens: [Int32], id: Int32, counts: [Int], kind: String) throws -> [Int32] {
        let found = tokens.filter { $0 == id }.count
        guard found == counts.count else {
            throw QwenVLError("the prompt has \(found) \(kind) placeholders but \(counts.count) \(kind)s were given")
        }
        guard !counts.isEmpty else { return tokens }
        var out: [Int32] = []
        out.reserveCapacity(tokens.count + counts.reduce(0, +))
        var k = 0
        for token in tokens {
            if token == id {
                out += repeatElement(id, count: counts[k])
                k += 1
            } else {
                out.append(token)
            }
        }
        return out
    }
}
