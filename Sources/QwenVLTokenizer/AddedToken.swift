/// A token from `tokenizer.json`'s `added_tokens` (for Qwen2-VL: the 14 special tokens, ids 151643–151656).
///
/// Added tokens are matched in the input as whole strings before any normalization or BPE.
public struct AddedToken: Sendable, Equatable, Hashable {
    /// The literal text, e.g. `<|im_start|>`.
    public var content: String
    public var id: Int32
    /// Special tokens are dropped by `decode(_:skipSpecialTokens: true)`.
    public var special: Bool
    /// Whether the match swallows white space on its left / right.
    public var lstrip: Bool
    public var rstrip: Bool
    /// Whether the token only matches when not glued to word characters.
    public var singleWord: Bool
    /// Whether the token is matched in the normalized (NFC) text instead of the raw input.
    public var normalized: Bool

    public init(content: String, id: Int32, special: Bool = true, lstrip: Bool = false, rstrip: Bool = false,
                singleWord: Bool = false, normalized: Bool = false) {
        self.content = content
        self.id = id
        self.special = special
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.singleWord = singleWord
        self.normalized = normalized
    }
}

/// Finds added tokens in text: leftmost-longest, non-overlapping (HF's Aho-Corasick `LeftmostLongest`),
/// then HF's `single_word`, `lstrip` and `rstrip` rules.
struct AddedTokenMatcher: Sendable {
    struct Pattern: Sendable {
        var bytes: [UInt8]
        var token: AddedToken
    }

    /// One piece of the input: either an added token (`id`) or plain text to tokenize (`id == nil`).
    struct Segment {
        var start: Int
        var end: Int
        var id: Int32?
    }

    let patterns: [Pattern]
    /// Pattern indices by first byte, longest first. Shape [256].
    let byFirstByte: [[Int]]

    init(tokens: [AddedToken], normalize: (String) -> String) {
        var patterns: [Pattern] = []
        for token in tokens where !token.content.isEmpty {
            let text = token.normalized ? normalize(token.content) : token.content
            patterns.append(Pattern(bytes: Array(text.utf8), token: token))
        }
        var table = [[Int]](repeating: [], count: 256)
        for (index, pattern) in patterns.enumerated() { table[Int(pattern.bytes[0])].append(index) }
        for b in 0..<256 { table[b].sort { patterns[$0].bytes.count > patterns[$1].bytes.count } }
        self.patterns = patterns
        self.byFirstByte = table
    }

    var isEmpty: Bool { patterns.isEmpty }

    /// Splits `p` into added-token and plain segments that tile it (empty plain segments are omitted).
    func split(_ p: UnsafeBufferPointer<UInt8>) -> [Segment] {
        var segments: [Segment] = []
        var startOffset = 0
        var i = 0
        let n = p.count
        while i < n {
            let candidates = byFirstByte[Int(p[i])]
            if candidates.isEmpty { i += 1; continue }
            var matched: Pattern?
            for index in candidates {
                let bytes = patterns[index].bytes
                if i + bytes.count <= n, memoryEqual(p, i, bytes) {
                    matched = patterns[index]
                    break
                }
            }
            guard let pattern = matched else { i += 1; continue }
            var start = i
            var stop = i + pattern.bytes.count
            i = stop  // the automaton resumes after the raw match
            let token = pattern.token
            if token.singleWord {
                let startOK = start == 0 || !UnicodeWordRules.endsWithWord(p, before: start)
                let stopOK = stop == n || !UnicodeWordRules.startsWithWord(p, at: stop)
                if !startOK || !stopOK { continue }
            }
            if token.lstrip { start = max(UnicodeWordRules.leadingSpaceStart(p, before: start), startOffset) }
            if token.rstrip { stop = UnicodeWordRules.trailingSpaceEnd(p, from: stop) }
            if startOffset < start { segments.append(Segment(start: startOffset, end: start, id: nil)) }
            segments.append(Segment(start: start, end: stop, id: token.id))
            startOffset = stop
        }
        if startOffset < n { segments.append(Segment(start: startOffset, end: n, id: nil)) }
        return segments
    }

    @inline(__always)
    private func memoryEqual(_ p: UnsafeBufferPointer<UInt8>, _ at: Int, _ bytes: [UInt8]) -> Bool {
        for k in 0..<bytes.count where p[at + k] != bytes[k] { return false }
        return true
    }
}

/// The `\w` / `\s` tests HF applies around added tokens (Rust `regex` Unicode classes).
enum UnicodeWordRules {
    static func isWord(_ v: UInt32) -> Bool {
        guard let s = Unicode.Scalar(v) else { return false }
        let p = s.properties
        if p.isAlphabetic || p.isJoinControl { return true }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }

    static func isSpace(_ v: UInt32) -> Bool {
        Unicode.Scalar(v)?.properties.isWhitespace ?? false
    }

    /// Start of the scalar that ends just before byte offset `end`.
    static func previousScalarStart(_ p: UnsafeBufferPointer<UInt8>, before end: Int) -> Int {
        var k = end - 1
        while k > 0, p[k] & 0xC0 == 0x80 { k -= 1 }
        return k
    }

    static func endsWithWord(_ p: UnsafeBufferPointer<UInt8>, before end: Int) -> Bool {
        guard end > 0 else { return false }
        return isWord(UTF8Coding.decode(p, at: previousScalarStart(p, before: end)).value)
    }

    static func startsWithWord(_ p: UnsafeBufferPointer<UInt8>, at start: Int) -> Bool {
        guard start < p.count else { return false }
        return isWord(UTF8Coding.decode(p, at: start).value)
    }

    static func leadingSpaceStart(_ p: UnsafeBufferPointer<UInt8>, before end: Int) -> Int {
        var k = end
        while k > 0 {
            let s = previousScalarStart(p, before: k)
            if !isSpace(UTF8Coding.decode(p, at: s).value) { break }
            k = s
        }
        return k
    }

    static func trailingSpaceEnd(_ p: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var k = start
        while k < p.count {
            let (v, length) = UTF8Coding.decode(p, at: k)
            if !isSpace(v) { break }
            k += length
        }
        return k
    }
}
