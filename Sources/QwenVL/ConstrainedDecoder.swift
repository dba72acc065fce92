import Foundation
import QwenVLTokenizer

/// What constrained decoding cost in one generation.
public struct ConstraintStatistics: Sendable, Equatable {
    /// Tokens masked.
    public var steps = 0
    /// Seconds computing and applying masks (trie walks on cache misses included).
    public var maskSeconds: Double = 0
    /// Seconds advancing the automaton by the chosen tokens' bytes.
    public var advanceSeconds: Double = 0
    /// Masks computed by a trie walk (the rest came from the cache).
    public var cacheMisses = 0
    /// Trie nodes visited by those walks.
    public var nodesVisited = 0

    public init() {}

    /// Adds another generation's figures.
    public mutating func add(_ other: ConstraintStatistics) {
        steps += other.steps
        maskSeconds += other.maskSeconds
        advanceSeconds += other.advanceSeconds
        cacheMisses += other.cacheMisses
        nodesVisited += other.nodesVisited
    }

    /// Mean mask + advance seconds per token.
    public var secondsPerToken: Double { steps > 0 ? (maskSeconds + advanceSeconds) / Double(steps) : 0 }
}

/// Applies a ``ResponseConstraint`` during decoding: before each sampling step ``maskLogits(_:)`` sets every
/// token the automaton rejects to −∞, after it ``advance(_:)`` feeds the chosen token's bytes.
///
/// The end tokens are allowed exactly when the output so far is complete. Masks are cached per parse state in
/// the constraint (string positions far from both length bounds share one entry; generations with the same
/// constraint value share the cache), so most steps cost a dictionary lookup and one pass over the logits.
/// Per-request state: make one per generation.
///
/// ```swift
/// var decoder = ConstrainedDecoder(constraint: try .jsonSchema(schema), tokenizer: model.tokenizer,
///                                  endTokenIDs: [151645])
/// decoder.maskLogits(&logits)                  // logits: [vocab]
/// let token = Sampler.next(logits, history: history, parameters: p, rng: &rng)
/// decoder.advance(token)
/// ```
public struct ConstrainedDecoder: Sendable {
    public let constraint: ResponseConstraint
    let vocabulary: TokenVocabulary
    /// Tokens that end the output (allowed only once it is complete).
    public let endTokenIDs: [Int32]
    var state: JSONGrammarState
    /// Steers the output to a valid end near the token limit.
    var budget = TokenBudget()
    public private(set) var statistics = ConstraintStatistics()
    /// The bytes generated so far (the end token excluded).
    public private(set) var outputBytes: [UInt8] = []

    /// `endTokenIDs` empty: the tokenizer's `<|im_end|>` (or its eos token).
    public init(constraint: ResponseConstraint, tokenizer: QwenTokenizer, endTokenIDs: [Int32]) {
        self.constraint = constraint
        vocabulary = TokenVocabulary.shared(for: tokenizer)
        let fallback = tokenizer.specialTokens["<|im_end|>"] ?? tokenizer.eosTokenID
        self.endTokenIDs = endTokenIDs.isEmpty ? fallback.map { [$0] } ?? [] : endTokenIDs
        state = JSONGrammarState(grammar: constraint.grammar)
    }

    /// The output so far is complete and valid (an end token may follow).
    public var isComplete: Bool { state.isComplete }

    /// The tokens allowed next: the union over live parses, plus the end tokens when the output is complete
    /// (or, should no token be allowed at all, so that generation stops).
    mutating func allowedTokens() -> TokenMask {
        var mask = TokenMask(size: vocabulary.size)
        for (i, stack) in state.stacks.enumerated() {
            let key = TokenMaskCache.Key(vocabulary: ObjectIdentifier(vocabulary), stack: cacheKey(stack))
            let part: TokenMask
            if let hit = constraint.grammar.maskCache.mask(key) {
                part = hit
            } else {
                let (computed, visited) = TokenMaskWalker.mask(for: stack, grammar: constraint.grammar, vocabulary: vocabulary)
                statistics.cacheMisses += 1
                statistics.nodesVisited += visited
                constraint.grammar.maskCache.store(computed, for: key)
                part = computed
            }
            if i == 0 { mask = part } else { mask.formUnion(part) }
        }
        if state.isComplete || mask.isEmpty {
            let n = max(mask.words.count * 64, (endTokenIDs.max().map(Int.init) ?? 0) + 1)
            if mask.words.count * 64 < n { mask.words += [UInt64](repeating: 0, count: (n + 63) / 64 - mask.words.count) }
            for id in endTokenIDs where id >= 0 { mask.insert(id) }
        }
        return mask
    }

    /// Sets the logits of every token the constraint does not allow now to −∞. logits: [vocab].
    ///
    /// Call it on the raw logits before ``Sampler/next(_:history:parameters:rng:)``: the repetition penalty keeps −∞
    /// at −∞, temperature, top-k, top-p and min-p then only see allowed tokens, and greedy picks the best allowed one.
    ///
    /// `remainingTokens` (this one included), when given, keeps the output completable within the limit
    /// (``TokenBudget``): near it only the tokens of the shortest completion, then an end token, are allowed.
    public mutating func maskLogits(_ logits: inout [Float], remainingTokens: Int? = nil) {
        let start = DispatchTime.now().uptimeNanoseconds
        switch remainingTokens.map({ budget.steer(state, remaining: $0, vocabulary: vocabulary) }) ?? .free {
        case .free:
            allowedTokens().apply(to: &logits)
        case .token(let id):
            Self.allowOnly([id], in: &logits)
        case .end:
            Self.allowOnly(endTokenIDs, in: &logits)
        }
        statistics.steps += 1
        statistics.maskSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
    }

    /// Sets every logit but those of `ids` to −∞.
    private static func allowOnly(_ ids: [Int32], in logits: inout [Float]) {
        let kept = ids.compactMap { Int($0) < logits.count && $0 >= 0 ? (Int($0), logits[Int($0)]) : nil }
        logits.withUnsafeMutableBufferPointer { $0.update(repeating: -.infinity) }
        for (i, value) in kept { logits[i] = value.isFinite ? value : 0 }
    }

    /// Feeds the chosen token's bytes to the automaton (an end token changes nothing).
    public mutating func advance(_ token: Int32) {
        guard !endTokenIDs.contains(token) else { return }
        let start = DispatchTime.now().uptimeNanoseconds
        let bytes = vocabulary.tokenBytes(token)
        for byte in bytes { state.advance(byte) }
        outputBytes += bytes
        statistics.advanceSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
    }

    /// The parse with string character counts folded into classes that allow the same tokens: far enough from
    /// both bounds that no token (at most `maxTokenLength` characters) can reach one.
    private func cacheKey(_ stack: GrammarStack) -> GrammarStack {
        guard var top = stack.last, top.phase >= 1,
              case .string(let minLength, let maxLength) = constraint.grammar.nodes[Int(top.node)] else { return stack }
        let reach = Int32(vocabulary.maxTokenLength)
        if top.a + reach <= maxLength {
            if top.a >= minLength { top.a = -1 } else if top.a + reach < minLength { top.a = -2 }
        }
        var key = stack
        key[key.count - 1] = top
        return key
    }
}
