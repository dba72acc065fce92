import Foundation
import QwenVLTokenizer

/// A byte trie over a set of tokens, stored in preorder for walks that skip rejected subtrees in one jump.
///
/// Node 0 is the root (no byte); the children of node `n` start at `n + 1`, and `subtreeEnd[n]` is the first
/// node after `n`'s subtree.
struct TokenTrie: Sendable {
    /// Byte leading into each node: [nodes] (0 for the root).
    let label: [UInt8]
    /// One past the last node of each node's subtree: [nodes].
    let subtreeEnd: [Int32]
    /// Tokens ending at node `n`: `tokenIDs[tokenStart[n]..<tokenStart[n + 1]]`. Shape [nodes + 1].
    let tokenStart: [Int32]
    /// Token ids in node order: [tokens].
    let tokenIDs: [Int32]

    var nodeCount: Int { label.count }

    /// The trie of `ids`, whose bytes are `bytes(id)` (non-empty).
    init(ids: [Int32], bytes: (Int32) -> ArraySlice<UInt8>) {
        let sorted = ids.sorted { x, y in
            let a = bytes(x), b = bytes(y)
            return a.lexicographicallyPrecedes(b) || (a == b && x < y)
        }
        var label: [UInt8] = [0]
        var subtreeEnd: [Int32] = [0]
        var owner: [Int32] = []            // node of each token of `sorted`
        var path: [Int32] = [0]            // nodes from the root to the previous token's node
        var previous: ArraySlice<UInt8> = []
        for id in sorted {
            let token = bytes(id)
            var common = 0
            while common < token.count && common < previous.count
                    && token[token.startIndex + common] == previous[previous.startIndex + common] { common += 1 }
            while path.count > common + 1 { subtreeEnd[Int(path.removeLast())] = Int32(label.count) }
            for byte in token.dropFirst(common) {
                label.append(byte)
                subtreeEnd.append(0)
                path.append(Int32(label.count - 1))
            }
            owner.append(path.last!)       // sorted order: a token's node is the newest one (or a duplicate's)
            previous = token
        }
        for node in path { subtreeEnd[Int(node)] = Int32(label.count) }
        var tokenStart = [Int32](repeating: 0, count: label.count + 1)
        for node in owner { tokenStart[Int(node) + 1] += 1 }
        for n in 0..<label.count { tokenStart[n + 1] += tokenStart[n] }
        self.label = label
        self.subtreeEnd = subtreeEnd
        self.tokenStart = tokenStart
        tokenIDs = sorted
    }
}

/// Every token's decoded bytes once per tokenizer, with the tries and tables token masks are computed from.
///
/// Special tokens are left out (``ConstrainedDecoder`` allows the end tokens on its own). Most tokens are
/// *plain string content* — complete UTF-8 characters without `"`, `\` or control bytes — and inside a JSON
/// string they are allowed exactly when their characters still fit: ``plainWithin`` holds those masks by
/// room left, so a string step walks only the small ``stringTrie`` of the other tokens.
final class TokenVocabulary: Sendable {
    /// Ids `0..<size` (the tokenizer's vocabulary; logits above it are always masked).
    let size: Int
    /// Decoded bytes per id (empty for special or unknown ids): `bytes[byteStart[id]..<byteStart[id + 1]]`.
    let byteStart: [Int32]
    let bytes: [UInt8]
    /// All tokens with bytes.
    let trie: TokenTrie
    /// The tokens that are not plain string content.
    let stringTrie: TokenTrie
    /// `plainWithin[r]`: the plain-content tokens of at most `r` characters. Shape [maxPlainLength + 1].
    let plainWithin: [TokenMask]
    /// The longest token in bytes (bounds how many string characters one token can add).
    let maxTokenLength: Int

    /// The longest token that `bytes` begins with, and its length (nil for empty bytes or no token): a walk down
    /// ``trie`` (the lowest id where several tokens decode alike).
    func longestToken(prefixing bytes: ArraySlice<UInt8>) -> (id: Int32, length: Int)? {
        var node = 0, depth = 0
        var best: (id: Int32, length: Int)?
        for byte in bytes {
            let end = Int(trie.subtreeEnd[node])
            var child = node + 1
            while child < end && trie.label[child] != byte { child = Int(trie.subtreeEnd[child]) }
            guard child < end else { break }
            node = child
            depth += 1
            let first = Int(trie.tokenStart[node])
            if first < Int(trie.tokenStart[node + 1]) { best = (trie.tokenIDs[first], depth) }
        }
        return best
    }

    /// How many tokens `bytes` takes when cut greedily into the longest tokens (nil if some byte has no token).
    func greedyTokenCount(_ bytes: [UInt8]) -> Int? {
        var count = 0, i = 0
        while i < bytes.count {
            guard let (_, length) = longestToken(prefixing: bytes[i...]) else { return nil }
            i += length
            count += 1
        }
        return count
    }

    init(tokenizer: QwenTokenizer) {
        size = tokenizer.vocabularySize
        var byteStart: [Int32] = [0]
        var bytes: [UInt8] = []
        byteStart.reserveCapacity(size + 1)
        bytes.reserveCapacity(size * 7)
        for id in 0..<Int32(size) {
            if !tokenizer.isSpecial(id), let b = tokenizer.bytes(of: id) { bytes.append(contentsOf: b) }
            byteStart.append(Int32(bytes.count))
        }
        self.byteStart = byteStart
        self.bytes = bytes
        let slice = { (id: Int32) in bytes[Int(byteStart[Int(id)])..<Int(byteStart[Int(id) + 1])] }
        let ids = (0..<Int32(size)).filter { byteStart[Int($0) + 1] > byteStart[Int($0)] }
        trie = TokenTrie(ids: ids, bytes: slice)
        maxTokenLength = ids.map { slice($0).count }.max() ?? 0

        // Characters of each plain-content token (-1: not plain).
        var plainLength = [Int](repeating: -1, count: size)
        for id in ids {
            var characters = 0, utf8: Int32 = 0
            var plain = true
            for byte in slice(id) {
                if utf8 != 0 {
                    guard let next = Utf8Step.next(utf8, byte) else { plain = false; break }
                    utf8 = next
                } else if byte < 0x20 || byte == 0x22 || byte == 0x5C {
                    plain = false; break
                } else if byte < 0x80 {
                    characters += 1
                } else {
                    guard let state = Utf8Step.lead(byte) else { plain = false; break }
                    utf8 = state
                    characters += 1
                }
            }
            if plain && utf8 == 0 { plainLength[Int(id)] = characters }
        }
        stringTrie = TokenTrie(ids: ids.filter { plainLength[Int($0)] < 0 }, bytes: slice)
        let longestPlain = plainLength.max() ?? 0
        var masks: [TokenMask] = []
        var mask = TokenMask(size: size)
        var byLength = [[Int32]](repeating: [], count: longestPlain + 1)
        for id in ids where plainLength[Int(id)] >= 0 { byLength[plainLength[Int(id)]].append(id) }
        for r in 0...longestPlain {
            for id in byLength[r] { mask.insert(id) }
            masks.append(mask)
        }
        plainWithin = masks
    }

    /// The decoded bytes of `id` (empty for special tokens).
    func tokenBytes(_ id: Int32) -> ArraySlice<UInt8> {
        guard id >= 0, Int(id) < size else { return [] }
        return bytes[Int(byteStart[Int(id)])..<Int(byteStart[Int(id) + 1])]
    }

    // MARK: - One vocabulary per tokenizer

    private static let lock = NSLock()
    nonisolated(unsafe) private static var shared: [ObjectIdentifier: (tokenizer: WeakTokenizer, vocabulary: TokenVocabulary)] = [:]

    /// The vocabulary of `tokenizer`, built on first use (≈0.2 s for 151k tokens) and kept while it lives.
    static func shared(for tokenizer: QwenTokenizer) -> TokenVocabulary {
        lock.lock()
        defer { lock.unlock() }
        let key = ObjectIdentifier(tokenizer)
        if let entry = shared[key], entry.tokenizer.value === tokenizer { return entry.vocabulary }
        shared = shared.filter { $0.value.tokenizer.value != nil }
        let vocabulary = TokenVocabulary(tokenizer: tokenizer)
        shared[key] = (WeakTokenizer(value: tokenizer), vocabulary)
        return vocabulary
    }

    private struct WeakTokenizer {
        weak var value: QwenTokenizer?
    }
}
