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
        let lm = languageModel
        let tokens = input.tokenIDs
        let context = lm.config.maxPositionEmbeddings
        guard !tokens.isEmpty else { throw QwenVLError("the prompt is empty") }
        guard tokens.count < context else {
            throw QwenVLError("the prompt has \(tokens.count) tokens, more than the model's context of \(context) tokens")
        }
        let (positions, delta) = try RopeIndex.compute(
            tokens: tokens, imageTokenID: configuration.imageTokenID, videoTokenID: configuration.videoTokenID,
            imageGrids: input.imageGrids, videoGrids: input.videoGrids, mergeSize: configuration.vision.spatialMergeSize)

        // Reuse the cached prefix: equal tokens, and vision blocks only when their content is the same.
        let prefix = reusablePrefix(state: state, input: input)
        let skipped = visionBlocks(in: tokens[..<prefix])
        state.cache.truncate(to: prefix)
        state.tokens = Array(tokens[..<prefix])

        var timings = GenerationTimings()
        let newTokens = Array(tokens[prefix...])
        var embeddings = lm.embed(newTokens)                              // [new, H]
        if input.imageGrids.count > skipped.images || input.videoGrids.count > skipped.videos {
            let visionStart = Date()
            try scatterVisionFeatures(input, skippingImages: skipped.images, videos: skipped.videos, into: &embeddings, tokens: newTokens,
                                      progress: progress)
            timings.visionSeconds = Date().timeIntervalSince(visionStart)
        }
        let prefillStart = Date()
        let newPositions = PositionIDs(t: Array(positions.t[prefix...]), h: Array(positions.h[prefix...]), w: Array(positions.w[prefix...]))
        let hidden = lm.forward(embeddings: embeddings, positions: newPositions, cache: &state.cache) { done in
            progress?(GenerationProgress(stage: .prefill, completed: done, total: newTokens.count))
        }
        var logits = lm.logits(hidden)
        let promptLogits = logits
        state.tokens = tokens
        state.ropeDelta = delta
        state.imageKeys = input.imageKeys
        state.videoKeys = input.videoKeys
        timings.prefillSeconds = Date().timeIntervalSince(prefillStart)
        timings.prefillTokens = newTokens.count

        var rng = SamplerRNG(seed: parameters.seed ?? UInt64.random(in: 0...UInt64.max))
        let maxTokens = min(parameters.maxTokens, context - tokens.count)
        var generated: [Int32] = []
        var decoder = StreamingDecoder(tokenizer: tokenizer, skipSpecialTokens: true)
        var text = ""
        var emitted = 0                       // characters of `text` already handed to onChunk
        let holdBack = max(0, (parameters.stopStrings.map(\.count).max() ?? 0) - 1)
        var finish = FinishReason.length
        let decodeStart = Date()
        // Constrained decoding: disallowed tokens −∞ before sampling, the automaton advanced by the chosen token.
        var constrained = parameters.constraint.map {
            ConstrainedDecoder(constraint: $0, tokenizer: tokenizer, endTokenIDs: parameters.eosTokenIDs)
        }
        while generated.count < maxTokens {
            constrained?.maskLogits(&logits)
            let token = Sampler.next(logits, history: state.tokens, parameters: parameters, rng: &rng)
            constrained?.advance(token)
            generated.append(token)
            state.tokens.append(token)
            text += decoder.push(token)
            var stop = parameters.eosTokenIDs.contains(token)
            // The last token flushes any incomplete character, so the final chunk carries it too.
            if stop || generated.count == maxTokens { text += decoder.finish() }
            if let cut = Self.stopCut(text, parameters.stopStrings) {
                text = String(text[..<cut])
                stop = true
            }
            let final = stop || generated.count == maxTokens
            let ready = final ? text.count : max(emitted, text.count - holdBack)
            if let onChunk {
                let delta = String(text.dropFirst(emitted).prefix(ready - emitted))
                emitted = ready
                if !onChunk(GenerationChunk(tokenID: token, text: delta)) { finish = .cancelled; break }
            }
            if stop { finish = .stop; break }
            if generated.count == maxTokens { break }
            // Feed the token: position = cache index + rope delta on all three axes.
            let position = state.cache.count + delta
            let next = lm.forward(embeddings: lm.embed([token]), positions: PositionIDs(text: position, count: 1), cache: &state.cache)
            logits = lm.logits(next)
        }
        if finish == .cancelled { text += decoder.finish() }
        timings.decodeSeconds = Date().timeIntervalSince(decodeStart)
        timings.decodeTokens = generated.count
        return GenerationResult(promptTokenIDs: tokens, tokenIDs: generated, text: text, finishReason: finish,
                                timings: timings, promptLogits: promptLogits, constraintStatistics: constrained?.statistics)
    }

    /// Encodes the images and videos not already in the cache and overwrites their placeholder rows in
    /// `embeddings` (spec §7.1); `tokens` are the new tokens the embeddings belong to.
    func scatterVisionFeatures(_ input: ModelInput, skippingImages: Int, videos skippingVideos: Int,
                               into embeddings: inout [Float], tokens: [Int32],
                               progress: ((GenerationProgress) -> Void)? = nil) throws {
        let h = languageModel.config.hiddenSize, rowLength = configuration.vision.patchValues
        for (grids, pixels, id, skip) in [(input.imageGrids, input.imagePixels, configuration.imageTokenID, skippingImages),
                                          (input.videoGrids, input.videoPixels, configuration.videoTokenID, skippingVideos)]
        where grids.count > skip {
            let offset = grids[..<skip].reduce(0) { $0 + $1.patchCount } * rowLength
            let features = visionEncoder.encode(pixels: Array(pixels[offset...]), grids: Array(grids[skip...])) { done, total in
                progress?(GenerationProgress(stage: .vision, completed: done, total: total))
            }                                                                                      // [Σ tokens, H]
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
