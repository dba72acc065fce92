/// Incremental detokenization for streaming generation: push ids one at a time, get only complete text.
///
/// Bytes of a UTF-8 character split across tokens wait until the character is complete, so no output ever ends
/// in half a character; `finish()` flushes what is left (a truly incomplete tail becomes U+FFFD). The
/// concatenation of all outputs equals `tokenizer.decode(allIDs, skipSpecialTokens:)` exactly.
///
///     var stream = StreamingDecoder(tokenizer: tokenizer, skipSpecialTokens: true)
///     for id in generatedIDs { print(stream.push(id), terminator: "") }
///     print(stream.finish())
public struct StreamingDecoder: Sendable {
    public let tokenizer: QwenTokenizer
    public let skipSpecialTokens: Bool
    /// Bytes not yet returned: a prefix of a UTF-8 character that may still be completed. At most 3 bytes.
    private var pending: [UInt8] = []

    public init(tokenizer: QwenTokenizer, skipSpecialTokens: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// Adds one token and returns the text that became complete (possibly empty).
    public mutating func push(_ id: Int32) -> String {
        tokenizer.appendBytes(of: id, skipSpecialTokens: skipSpecialTokens, to: &pending)
        return drainComplete()
    }

    /// Adds several tokens and returns the text that became complete.
    public mutating func push<S: Sequence>(contentsOf ids: S) -> String where S.Element == Int32 {
        for id in ids { tokenizer.appendBytes(of: id, skipSpecialTokens: skipSpecialTokens, to: &pending) }
        return drainComplete()
    }

    /// Returns everything still held (an incomplete character decodes to U+FFFD) and resets the decoder.
    public mutating func finish() -> String {
        defer { pending.removeAll(keepingCapacity: true) }
        return String(decoding: pending, as: UTF8.self)
    }

    /// True when bytes of an unfinished character are being held back.
    public var hasPendingBytes: Bool { !pending.isEmpty }

    private mutating func drainComplete() -> String {
        let cut = UTF8Coding.incompleteTailStart(pending)
        if cut == 0 { return "" }
        let text = String(decoding: pending[0..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return text
    }
}
