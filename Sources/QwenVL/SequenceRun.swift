import Foundation
import QwenVLCore
import QwenVLTokenizer

/// A generation in progress: one sequence's decode state plus the sampling and text bookkeeping between tokens.
///
/// A plain value, so a scheduler can hold many and advance them together: ``QwenVLModel/startRun(_:parameters:state:progress:)``
/// makes one (rope positions, reused cache prefix, vision features, embeddings), ``QwenVLModel/prefill(_:tokenLimit:progress:)``
/// runs its prompt through the decoder chunk by chunk, then ``sampleNext()`` and ``QwenVLModel/decodeStep(_:)``
/// alternate until ``isFinished``. ``QwenVLModel/generate(_:parameters:state:onChunk:)`` is exactly that loop for
/// one sequence, so a sequence advanced in a batch yields the same tokens as the same sequence alone.
public struct SequenceRun: Sendable {
    /// Where the run is.
    enum Phase: Sendable {
        /// Prompt rows not yet through the decoder: embeddings [remaining, H] of the tokens from `done` on.
        case prefill(embeddings: [Float], positions: PositionIDs, done: Int)
        /// Logits for the next token are ready: [vocab].
        case sample(logits: [Float])
        /// The last sampled token still has to be fed through the decoder.
        case feed(token: Int32)
        case finished
    }

    public internal(set) var state: DecodeState
    public let parameters: GenerationParameters
    public let promptTokenIDs: [Int32]
    var phase: Phase
    var rng: SamplerRNG
    var decoder: StreamingDecoder
    /// Masks and advances ``GenerationParameters/constraint`` when one is set.
    var constrained: ConstrainedDecoder?
    /// Generated ids so far (including a stop token that ended generation).
    public private(set) var generated: [Int32] = []
    /// The answer so far (special tokens skipped, cut before a stop string).
    public private(set) var text = ""
    /// Characters of `text` already handed out in chunks.
    var emitted = 0
    let holdBack: Int
    let maxTokens: Int
    /// Prompt tokens the cache did not hold (the ones prefilled).
    public let newPromptTokens: Int
    public private(set) var finishReason: FinishReason = .length
    public internal(set) var timings = GenerationTimings()
    var promptLogits: [Float] = []
    var prefillStart: Date?
    var decodeStart: Date?

    /// Whether generation has ended (stop token, stop string, token limit or cancellation).
    public var isFinished: Bool { if case .finished = phase { return true } else { return false } }
    /// Whether the prompt is still being prefilled.
    public var isPrefilling: Bool { if case .prefill = phase { return true } else { return false } }
    /// Whether the next token can be sampled now.
    public var canSample: Bool { if case .sample = phase { return true } else { return false } }
    /// Whether the run waits for a decode step.
    public var needsDecodeStep: Bool { if case .feed = phase { return true } else { return false } }
    /// Prompt tokens still to prefill.
    public var remainingPrefillTokens: Int {
        if case .prefill(_, let positions, let done) = phase { return positions.count - done }
        return 0
    }

    /// Samples the next token from the pending logits, appends it and returns the text that became final.
    public mutating func sampleNext() -> GenerationChunk {
        guard case .sample(var logits) = phase else { preconditionFailure("sampleNext: no logits pending") }
        if decodeStart == nil { decodeStart = Date() }
        // Constrained decoding: disallowed tokens −∞ before sampling, the automaton advanced by the chosen token.
        constrained?.maskLogits(&logits, remainingTokens: maxTokens - generated.count)
        let token = Sampler.next(logits, history: state.tokens, parameters: parameters, rng: &rng)
        constrained?.advance(token)
        generated.append(token)
        state.tokens.append(token)
        text += decoder.push(token)
        var stop = parameters.eosTokenIDs.contains(token)
        // The last token flushes any incomplete character, so the final chunk carries it too.
        if stop || generated.count == maxTokens { text += decoder.finish() }
        if let cut = QwenVLModel.stopCut(text, parameters.stopStrings) {
            text = String(text[..<cut])
            stop = true
        }
        let final = stop || generated.count == maxTokens
        let ready = final ? text.count : max(emitted, text.count - holdBack)
        let delta = String(text.dropFirst(emitted).prefix(ready - emitted))
        emitted = ready
        if stop {
            finish(.stop)
        } else if generated.count == maxTokens {
            finish(.length)
        } else {
            phase = .feed(token: token)
        }
        return GenerationChunk(tokenID: token, text: delta)
    }

    /// Ends the run early (the caller stopped it); text held back for stop strings is released.
    public mutating func cancel() {
        guard !isFinished else { return }
        text += decoder.finish()
        finish(.cancelled)
    }

    private mutating func finish(_ reason: FinishReason) {
        finishReason = reason
        phase = .finished
        if let decodeStart { timings.decodeSeconds = Date().timeIntervalSince(decodeStart) }
        timings.decodeTokens = generated.count
    }

    /// The outcome so far (complete once ``isFinished``).
    public var result: GenerationResult {
        GenerationResult(promptTokenIDs: promptTokenIDs, tokenIDs: generated, text: text, finishReason: finishReason,
                         timings: timings, promptLogits: promptLogits, cachedPromptTokens: promptTokenIDs.count - newPromptTokens,
                         constraintStatistics: constrained?.statistics)
    }
}

extension QwenVLModel {
    /// Starts a generation of `input` continuing `state` (pass it with `consume` so the cache is not copied): computes M-RoPE positions, keeps the cache prefix that
    /// `state` shares with the prompt, encodes the images and videos not in that prefix and embeds the new tokens.
    /// Images and videos found in `featureCache` are not encoded again. The decoder has not run yet: call
    /// ``prefill(_:tokenLimit:progress:)``.
    public func startRun(_ input: ModelInput, parameters: GenerationParameters, state: consuming DecodeState,
                         featureCache: VisionFeatureCache? = nil,
                         progress: ((GenerationProgress) -> Void)? = nil) throws -> SequenceRun {
        let lm = languageModel
        let tokens = input.tokenIDs
        let context = lm.config.maxPositionEmbeddings
        guard !tokens.isEmpty else { throw QwenVLError("the prompt is empty") }
        guard tokens.count < context else {
            throw QwenVLError("the prompt has \(tokens.count) tokens, more than the model's context of \(context) tokens")
        }
        let (positions, delta) = try ropePositions(input)

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
                                      featureCache: featureCache, progress: progress)
            timings.visionSeconds = Date().timeIntervalSince(visionStart)
        }
        let newPositions = PositionIDs(t: Array(positions.t[prefix...]), h: Array(positions.h[prefix...]), w: Array(positions.w[prefix...]))
        state.ropeDelta = delta
        state.imageKeys = input.imageKeys
        state.videoKeys = input.videoKeys
        timings.prefillTokens = newTokens.count
        var run = SequenceRun(state: state, parameters: parameters, promptTokenIDs: tokens,
                              phase: .prefill(embeddings: embeddings, positions: newPositions, done: 0),
                              rng: SamplerRNG(seed: parameters.seed ?? UInt64.random(in: 0...UInt64.max)),
                              decoder: StreamingDecoder(tokenizer: tokenizer, skipSpecialTokens: true),
                              holdBack: max(0, (parameters.stopStrings.map(\.count).max() ?? 0) - 1),
                              maxTokens: min(parameters.maxTokens, context - tokens.count),
                              newPromptTokens: newTokens.count)
        run.timings = timings
        run.constrained = parameters.constraint.map {
            ConstrainedDecoder(constraint: $0, tokenizer: tokenizer, endTokenIDs: parameters.eosTokenIDs)
        }
        return run
    }

    /// Runs up to `tokenLimit` more prompt tokens (rounded up to whole ``LanguageModel/prefillChunk`` chunks, the
    /// same chunks a whole prefill uses) through the decoder; when the prompt is done the run's logits are ready.
    public func prefill(_ run: inout SequenceRun, tokenLimit: Int = .max, progress: ((GenerationProgress) -> Void)? = nil) {
        guard case .prefill(let embeddings, let positions, var done) = run.phase else { return }
        // Hand the buffers to the decoder without a second reference (the cache is extended in place).
        run.phase = .finished
        if run.prefillStart == nil { run.prefillStart = Date() }
        let lm = languageModel, h = lm.config.hiddenSize, n = positions.count
        var budget = tokenLimit
        var hidden: [Float] = []
        repeat {
            let count = min(LanguageModel.prefillChunk, n - done)
            let rows = Array(embeddings[(done * h)..<((done + count) * h)])
            let chunk = PositionIDs(t: Array(positions.t[done..<(done + count)]), h: Array(positions.h[done..<(done + count)]),
                                    w: Array(positions.w[done..<(done + count)]))
            hidden = lm.forward(embeddings: rows, positions: chunk, cache: &run.state.cache)
            done += count
            budget -= count
            progress?(GenerationProgress(stage: .prefill, completed: done, total: n))
        } while done < n && budget > 0
        guard done == n else {
            run.phase = .prefill(embeddings: embeddings, positions: positions, done: done)
            return
        }
        let logits = lm.logits(hidden)
        run.promptLogits = logits
        run.state.tokens = run.promptTokenIDs
        run.timings.prefillSeconds = Date().timeIntervalSince(run.prefillStart!)
        run.phase = run.maxTokens > 0 ? .sample(logits: logits) : .finished
    }

    /// Feeds the last sampled token of every run that waits for it through one batched decoder step (each weight
    /// matrix read once for all of them) and makes their next logits ready. Other runs are left as they are.
    public func decodeStep(_ runs: inout [SequenceRun]) {
        var members: [Int] = [], tokens: [Int32] = [], positions: [Int] = [], caches: [KVCache] = []
        let empty = KVCache(layers: 0, width: 0)
        for i in runs.indices {
            guard case .feed(let token) = runs[i].phase else { continue }
            members.append(i)
            tokens.append(token)
            // Position = cache index + rope delta on all three axes (spec §7.5).
            positions.append(runs[i].state.cache.count + runs[i].state.ropeDelta)
            caches.append(runs[i].state.cache)
            runs[i].state.cache = empty                                   // the batch holds the only reference
        }
        guard !members.isEmpty else { return }
        let lm = languageModel, vocab = lm.config.vocabSize
        let hidden = lm.forwardStep(tokens: tokens, positions: positions, caches: &caches)   // [B, H]
        let logits = lm.logitsRows(hidden, count: members.count)                             // [B, vocab]
        for (k, i) in members.enumerated() {
            runs[i].state.cache = caches[k]
            caches[k] = empty
            runs[i].phase = .sample(logits: Array(logits[(k * vocab)..<((k + 1) * vocab)]))
        }
    }
}
