import Foundation
import QwenVLCore
import QwenVLTokenizer

/// Why generation ended.
public enum FinishReason: String, Sendable, Codable {
    /// An end-of-sequence token or a stop string.
    case stop
    /// The token limit (or the context length).
    case length
    /// The caller stopped it.
    case cancelled
}

/// Seconds spent per stage and the rates they imply.
public struct GenerationTimings: Sendable, Equatable {
    public var visionSeconds: Double = 0
    public var prefillSeconds: Double = 0
    public var decodeSeconds: Double = 0
    public var prefillTokens: Int = 0
    public var decodeTokens: Int = 0

    public var prefillTokensPerSecond: Double { prefillSeconds > 0 ? Double(prefillTokens) / prefillSeconds : 0 }
    /// Decode rate over the tokens after the first (the first comes from prefill).
    public var decodeTokensPerSecond: Double { decodeSeconds > 0 ? Double(max(decodeTokens - 1, 0)) / decodeSeconds : 0 }
}

/// The outcome of one generation call.
public struct GenerationResult: Sendable {
    public var promptTokenIDs: [Int32]
    /// Generated ids in order, including the stop token if one ended generation.
    public var tokenIDs: [Int32]
    /// The answer text (special tokens skipped, cut before a stop string).
    public var text: String
    public var finishReason: FinishReason
    public var timings: GenerationTimings
    /// Logits of the last prompt position before any processing: [vocab].
    public var promptLogits: [Float]
    /// Prompt tokens whose keys and values came from a cache instead of being prefilled.
    public var cachedPromptTokens: Int = 0
    /// Cost of constrained decoding, when ``GenerationParameters/constraint`` was set.
    public var constraintStatistics: ConstraintStatistics? = nil
}

/// Progress of a long stage, for progress bars.
public struct GenerationProgress: Sendable {
    public enum Stage: String, Sendable { case vision, prefill }
    public var stage: Stage
    /// Units done (vision: blocks; prefill: tokens) out of `total`.
    public var completed: Int
    public var total: Int
}

/// One streamed piece of output.
public struct GenerationChunk: Sendable {
    public var tokenID: Int32
    /// New text that is final (complete characters, never part of a pending stop string).
    public var text: String
}

extension QwenVLModel {
    /// Generates an answer to `messages` and returns it whole; `onChunk` sees each token as it comes and may
    /// return false to stop.
    public func generate(messages: [ChatMessage], parameters: GenerationParameters? = nil, options: PrepareOptions = PrepareOptions(),
                         onChunk: ((GenerationChunk) -> Bool)? = nil) async throws -> GenerationResult {
        let input = try await prepare(messages: messages, options: options)
        var state = makeState()
        return try generate(input, parameters: parameters ?? generationDefaults, state: &state, onChunk: onChunk)
    }

    /// Streams the answer to `messages` as an `AsyncThrowingStream`; cancelling the consuming task stops
    /// generation within one token.
    public func stream(messages: [ChatMessage], parameters: GenerationParameters? = nil,
                       options: PrepareOptions = PrepareOptions()) -> AsyncThrowingStream<GenerationChunk, Error> {
        AsyncThrowingStream { continuation in
            let task = Task.detached { [self] in
                do {
                    _ = try await self.generate(messages: messages, parameters: parameters, options: options) { chunk in
                        if Task.isCancelled { return false }
                        continuation.yield(chunk)
                        return true
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Runs prefill over the part of `input` not yet in `state`, then decodes.
    ///
    /// `state` carries the KV cache between calls: when its tokens are a prefix of `input.tokenIDs`, only the new
    /// tokens are prefilled (multi-turn chat).
    public func generate(_ input: ModelInput, parameters: GenerationParameters, state: inout DecodeState,
                         onChunk: ((GenerationChunk) -> Bool)? = nil) throws -> GenerationResult {
        try generate(input, parameters: parameters, state: &state, progress: nil, onChunk: onChunk)
    }

    /// ``generate(_:parameters:state:onChunk:)`` reporting progress of the long stages (vision encoding, prefill).
    public func generate(_ input: ModelInput, parameters: GenerationParameters, state: inout DecodeState,
                         progress: ((GenerationProgress) -> Void)?,
                         onChunk: ((GenerationChunk) -> Bool)?) throws -> GenerationResult {
        // The run takes the state over (one reference, so the cache grows in place); on an error it starts afresh.
        var taken = DecodeState(cache: KVCache(layers: 0, width: 0))
        swap(&taken, &state)
        state = makeState()
        var runs = [try startRun(input, parameters: parameters, state: consume taken, progress: progress)]
        prefill(&runs[0], progress: progress)
        while runs[0].canSample {
            let chunk = runs[0].sampleNext()
            if let onChunk, !onChunk(chunk) { runs[0].cancel() }
            if runs[0].isFinished { break }
            decodeStep(&runs)
        }
        state = runs[0].state
        return runs[0].result
    }

    /// Encodes the images and videos not already in the KV cache and overwrites their placeholder rows in
    /// `embeddings` (spec §7.1); `tokens` are the new tokens the embeddings belong to. Features found in
    /// `featureCache` are not encoded again; the ones encoded are added to it.
    func scatterVisionFeatures(_ input: ModelInput, skippingImages: Int, videos skippingVideos: Int,
                               into embeddings: inout [Float], tokens: [Int32],
                               featureCache: VisionFeatureCache? = nil,
                               progress: ((GenerationProgress) -> Void)? = nil) throws {
        let h = languageModel.config.hiddenSize, rowLength = configuration.vision.patchValues
        let merge = configuration.vision.spatialMergeSize * configuration.vision.spatialMergeSize
        for (grids, pixels, keys, id, skip) in [(input.imageGrids, input.imagePixels, input.imageKeys, configuration.imageTokenID, skippingImages),
                                                (input.videoGrids, input.videoPixels, input.videoKeys, configuration.videoTokenID, skippingVideos)]
        where grids.count > skip {
            // Pixel rows of block k start at offsets[k]; blocks found in the feature cache are skipped.
            var offsets = [0]
            for grid in grids { offsets.append(offsets.last! + grid.patchCount * rowLength) }
            var cached: [Int: [Float]] = [:]
            if let featureCache, keys.count == grids.count {
                for k in skip..<grids.count { if let f = featureCache.features(for: keys[k]) { cached[k] = f } }
            }
            let missing = (skip..<grids.count).filter { cached[$0] == nil }
            var encoded: [Float] = []                                                              // [Σ missing tokens, H]
            if !missing.isEmpty {
                let contiguous = missing == Array(missing.first!..<grids.count)
                let missingPixels = contiguous ? Array(pixels[offsets[missing.first!]...])
                                               : missing.flatMap { pixels[offsets[$0]..<offsets[$0 + 1]] }
                encoded = visionEncoder.encode(pixels: missingPixels, grids: missing.map { grids[$0] }) { done, total in
                    progress?(GenerationProgress(stage: .vision, completed: done, total: total))
                }
            }
            var features: [Float] = []                                                             // [Σ tokens, H]
            var cursor = 0
            for k in skip..<grids.count {
                if let f = cached[k] {
                    features += f
                } else {
                    let count = grids[k].patchCount / merge * h
                    guard cursor + count <= encoded.count else { throw QwenVLError("the vision encoder returned too few features") }
                    let block = Array(encoded[cursor..<(cursor + count)])
                    cursor += count
                    if let featureCache, keys.count == grids.count { featureCache.insert(block, for: keys[k]) }
                    features += block
                }
            }
            let rows = tokens.indices.filter { tokens[$0] == id }
            guard rows.count * h == features.count else {
                throw QwenVLError("\(rows.count) placeholder tokens but \(features.count / h) vision features")
            }
            for (k, row) in rows.enumerated() {
                embeddings.replaceSubrange((row * h)..<((row + 1) * h), with: features[(k * h)..<((k + 1) * h)])
            }
        }
    }

    /// How many leading tokens of `input` the state's cache already holds: the common token prefix, cut at the
    /// start of the first vision block that is incomplete or whose content differs.
    func reusablePrefix(state: DecodeState, input: ModelInput) -> Int {
        let tokens = input.tokenIDs
        let limit = min(state.cache.count, state.tokens.count, tokens.count - 1)
        var prefix = 0
        while prefix < limit && state.tokens[prefix] == tokens[prefix] { prefix += 1 }
        var i = 0, image = 0, video = 0
        while i < prefix {
            let token = tokens[i]
            guard token == configuration.imageTokenID || token == configuration.videoTokenID else { i += 1; continue }
            var end = i
            while end < tokens.count && tokens[end] == token { end += 1 }
            let isImage = token == configuration.imageTokenID
            let k = isImage ? image : video
            let same = isImage ? (k < state.imageKeys.count && k < input.imageKeys.count && state.imageKeys[k] == input.imageKeys[k])
                               : (k < state.videoKeys.count && k < input.videoKeys.count && state.videoKeys[k] == input.videoKeys[k])
            if end > prefix || !same { return i }
            if isImage { image += 1 } else { video += 1 }
            i = end
        }
        return prefix
    }

    /// Complete image and video blocks in a token run.
    func visionBlocks(in tokens: ArraySlice<Int32>) -> (images: Int, videos: Int) {
        var images = 0, videos = 0
        var previous: Int32 = -1
        for token in tokens {
            if token != previous {
                if token == configuration.imageTokenID { images += 1 }
                if token == configuration.videoTokenID { videos += 1 }
            }
            previous = token
        }
        return (images, videos)
    }

    /// Where the earliest stop string starts in `text`, if any occurs.
    static func stopCut(_ text: String, _ stops: [String]) -> String.Index? {
        stops.filter { !$0.isEmpty }.compactMap { text.range(of: $0)?.lowerBound }.min()
    }
}
