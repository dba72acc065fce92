/// The Qwen2 pre-tokenizer split: a hand-written scanner equivalent to HF's regex (behaviour "Isolated")
///
///     (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
///
/// with leftmost-first alternation and backtracking resolved by hand (spec §6.3). Every position starts a
/// match, so the pieces tile the input. It works on UTF-8 bytes with an ASCII fast path.
enum Qwen2PreTokenizer {
    /// Class of each ASCII byte (CR/LF `newline`, other ASCII white space `space`).
    static let asciiClass: [ScalarClass] = (0..<128).map { b -> ScalarClass in
        switch b {
        case 0x0A, 0x0D: return .newline
        case 0x09, 0x0B, 0x0C, 0x20: return .space
        case 0x30...0x39: return .number
        case 0x41...0x5A, 0x61...0x7A: return .letter
        default: return .other
        }
    }

    /// Class and byte length of the scalar at byte offset `i` (valid UTF-8).
    @inline(__always)
    static func classify(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> (ScalarClass, Int) {
        let b = p[i]
        if b < 0x80 { return (asciiClass[Int(b)], 1) }
        let (v, length) = UTF8Coding.decode(p, at: i)
        return (ScalarClass.of(v), length)
    }

    /// Calls `body(start, end)` for every piece of `p` (byte offsets, in order, covering all of `p`).
    @inline(__always)
    static func split(_ p: UnsafeBufferPointer<UInt8>, _ body: (Int, Int) -> Void) {
        let n = p.count
        var i = 0
        while i < n {
            let end = pieceEnd(p, from: i)
            body(i, end)
            i = end
        }
    }

    /// End (exclusive byte offset) of the piece that starts at `i`.
    static func pieceEnd(_ p: UnsafeBufferPointer<UInt8>, from i: Int) -> Int {
        let n = p.count
        let (c0, len0) = classify(p, i)
        // 1. Contractions: 's 't 're 've 'm 'll 'd, case-insensitively (ſ U+017F folds to s).
        if p[i] == UInt8(ascii: "'"), let end = contractionEnd(p, i) { return end }
        // 2. [^\r\n\p{L}\p{N}]?\p{L}+
        if c0 == .letter { return letterRunEnd(p, from: i + len0) }
        if c0 != .newline, c0 != .number, i + len0 < n, classify(p, i + len0).0 == .letter {
            return letterRunEnd(p, from: i + len0)
        }
        // 3. \p{N}
        if c0 == .number { return i + len0 }
        // 4. ' '?[^\s\p{L}\p{N}]+[\r\n]*
        if c0 == .other { return newlineRunEnd(p, from: otherRunEnd(p, from: i + len0)) }
        if p[i] == 0x20, i + 1 < n, classify(p, i + 1).0 == .other {
            return newlineRunEnd(p, from: otherRunEnd(p, from: i + 1))
        }
        // 5-7. White space (c0 is .space or .newline): scan the run, remembering the last CR/LF and the start of
        // the last scalar.
        var j = i
        var lastNewlineEnd = -1
        var lastScalarStart = i
        while j < n {
            let (c, length) = classify(p, j)
            if c == .newline {
                lastNewlineEnd = j + length
            } else if c != .space {
                break
            }
            lastScalarStart = j
            j += length
        }
        // \s*[\r\n]+ : up to and including the run's last CR/LF.
        if lastNewlineEnd > 0 { return lastNewlineEnd }
        // \s+(?!\S) : the whole run at the end of input, else the run minus its last scalar.
        if j == n { return j }
        if lastScalarStart > i { return lastScalarStart }
        // \s+
        return j
    }

    @inline(__always)
    static func letterRunEnd(_ p: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var j = start
        while j < p.count {
            let (c, length) = classify(p, j)
            if c != .letter { break }
            j += length
        }
        return j
    }

    @inline(__always)
    static func otherRunEnd(_ p: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var j = start
        while j < p.count {
            let (c, length) = classify(p, j)
            if c != .other { break }
            j += length
        }
        return j
    }

    @inline(__always)
    static func newlineRunEnd(_ p: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var j = start
        while j < p.count, p[j] == 0x0A || p[j] == 0x0D { j += 1 }
        return j
    }

    /// Lower-cased ASCII letter of the scalar at `i` if it case-folds to one of s t r e v m l d, else 0.
    @inline(__always)
    static func foldedLetter(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> (UInt8, Int) {
        guard i < p.count else { return (0, 0) }
        let b = p[i]
        if b < 0x80 { return (b | 0x20, 1) }
        // U+017F LATIN SMALL LETTER LONG S (C5 BF) folds to 's'.
        if b == 0xC5, i + 1 < p.count, p[i + 1] == 0xBF { return (UInt8(ascii: "s"), 2) }
        return (0, 0)
    }

    static func contractionEnd(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int? {
        let (a, lengthA) = foldedLetter(p, i + 1)
        switch a {
        case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"):
            return i + 1 + lengthA
        case UInt8(ascii: "r"), UInt8(ascii: "v"):
            let (b, lengthB) = foldedLetter(p, i + 1 + lengthA)
            return b == UInt8(ascii: "e") ? i + 1 + lengthA + lengthB : nil
        case UInt8(ascii: "l"):
            let (b, lengthB) = foldedLetter(p, i + 1 + lengthA)
            return b == UInt8(ascii: "l") ? i + 1 + lengthA + lengthB : nil
        default:
            return nil
        }
    }
}
