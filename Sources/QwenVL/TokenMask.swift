import Foundation

/// The set of tokens allowed at one step: one bit per token id. Shape [⌈vocabulary / 64⌉] words.
struct TokenMask: Sendable, Equatable {
    var words: [UInt64]

    init(size: Int) { words = [UInt64](repeating: 0, count: (size + 63) / 64) }

    @inline(__always) mutating func insert(_ id: Int32) { words[Int(id) >> 6] |= 1 << UInt64(id & 63) }

    @inline(__always) func contains(_ id: Int32) -> Bool {
        id >= 0 && Int(id) >> 6 < words.count && words[Int(id) >> 6] & (1 << UInt64(id & 63)) != 0
    }

    mutating func formUnion(_ other: TokenMask) {
        for i in words.indices { words[i] |= other.words[i] }
    }

    var count: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }
    var isEmpty: Bool { words.allSatisfy { $0 == 0 } }

    /// Sets every logit whose id is not in the mask to −∞ (ids past the mask, e.g. padding rows, too).
    func apply(to logits: inout [Float]) {
        logits.withUnsafeMutableBufferPointer { l in
            let n = l.count
            for w in 0..<((n + 63) / 64) {
                let bits = w < words.count ? words[w] : 0
                if bits == .max && (w + 1) * 64 <= n { continue }
                let base = w * 64
                let end = min(base + 64, n)
                if bits == 0 {
                    for i in base..<end { l[i] = -.infinity }
                } else {
                    for i in base..<end where bits & (1 << UInt64(i - base)) == 0 { l[i] = -.infinity }
                }
            }
        }
    }
}

/// Computes the tokens one parse allows by walking a vocabulary trie with the automaton.
///
/// A subtree is left as soon as its byte prefix is rejected. Inside a string the walk steps a few integers
/// instead of whole parses until the closing quote; at a string's content start the plain-content tokens come
/// from ``TokenVocabulary/plainWithin`` and only the other tokens (``TokenVocabulary/stringTrie``) are walked.
struct TokenMaskWalker {
    let grammar: JSONGrammar
    let vocabulary: TokenVocabulary
    var trie: TokenTrie
    var mask: TokenMask
    /// Trie nodes visited (a cost measure).
    var visited = 0

    init(grammar: JSONGrammar, vocabulary: TokenVocabulary) {
        self.grammar = grammar
        self.vocabulary = vocabulary
        trie = vocabulary.trie
        mask = TokenMask(size: vocabulary.size)
    }

    /// The tokens whose whole byte string `stack` accepts, and the trie nodes visited.
    static func mask(for stack: GrammarStack, grammar: JSONGrammar, vocabulary: TokenVocabulary) -> (TokenMask, Int) {
        var walker = TokenMaskWalker(grammar: grammar, vocabulary: vocabulary)
        if let top = stack.last, top.phase == 1, top.b == 0,
           case .string(let minLength, let maxLength) = grammar.nodes[Int(top.node)] {
            let room = Int(maxLength - top.a)
            walker.mask = vocabulary.plainWithin[min(room, vocabulary.plainWithin.count - 1)]
            walker.trie = vocabulary.stringTrie
            walker.walkString(0, phase: 1, count: top.a, utf8: 0, minLength: minLength, maxLength: maxLength,
                              rest: stack.dropLast())
        } else {
            walker.walk(0, stack)
        }
        return (walker.mask, walker.visited)
    }

    @inline(__always) private mutating func markTokens(_ node: Int) {
        let start = Int(trie.tokenStart[node]), end = Int(trie.tokenStart[node + 1])
        for i in start..<end { mask.insert(trie.tokenIDs[i]) }
    }

    /// Visits the children of trie node `node` with the parse `stack` (the bytes to `node` already consumed).
    mutating func walk(_ node: Int, _ stack: GrammarStack) {
        if let top = stack.last, top.phase >= 1, case .string(let minLength, let maxLength) = grammar.nodes[Int(top.node)] {
            return walkString(node, phase: top.phase, count: top.a, utf8: top.b, minLength: minLength, maxLength: maxLength,
                              rest: stack.dropLast())
        }
        let end = Int(trie.subtreeEnd[node])
        var child = node + 1
        var next: [GrammarStack] = []
        while child < end {
            visited += 1
            next.removeAll(keepingCapacity: true)
            grammar.step(stack, trie.label[child], &next)
            if !next.isEmpty {
                markTokens(child)
                if next.count > 1 { next = JSONGrammar.unique(next) }
                for s in next { walk(child, s) }
            }
            child = Int(trie.subtreeEnd[child])
        }
    }

    /// The string fast path: content bytes update (phase, count, utf8) only; the closing quote hands the parent
    /// parse (`rest`, completed) back to ``walk(_:_:)``.
    mutating func walkString(_ node: Int, phase: Int32, count: Int32, utf8: Int32, minLength: Int32,
                             maxLength: Int32, rest: ArraySlice<GrammarFrame>) {
        let end = Int(trie.subtreeEnd[node])
        var child = node + 1
        while child < end {
            visited += 1
            switch JSONGrammar.stringStep(phase: phase, count: count, utf8: utf8, byte: trie.label[child],
                                          minLength: minLength, maxLength: maxLength) {
            case .close:
                var completed: [GrammarStack] = []
                grammar.complete(Array(rest), &completed)
                if !completed.isEmpty { markTokens(child) }
                for s in JSONGrammar.unique(completed) { walk(child, s) }
            case .content(let c, let u, let p):
                markTokens(child)
                walkString(child, phase: p, count: c, utf8: u, minLength: minLength, maxLength: maxLength, rest: rest)
            case .reject:
                break
            }
            child = Int(trie.subtreeEnd[child])
        }
    }
}

/// Masks already computed for a grammar, shared by every generation using it (thread-safe).
///
/// Bounded: past `capacity` entries it starts over, so a long string of distinct states cannot grow it without end.
final class TokenMaskCache: @unchecked Sendable {
    struct Key: Hashable {
        var vocabulary: ObjectIdentifier
        var stack: GrammarStack
    }

    private let lock = NSLock()
    private var masks: [Key: TokenMask] = [:]
    let capacity: Int

    init(capacity: Int = 4096) { self.capacity = capacity }

    func mask(_ key: Key) -> TokenMask? {
        lock.lock(); defer { lock.unlock() }
        return masks[key]
    }

    func store(_ mask: TokenMask, for key: Key) {
        lock.lock(); defer { lock.unlock() }
        if masks.count >= capacity { masks.removeAll(keepingCapacity: true) }
        masks[key] = mask
    }
}
