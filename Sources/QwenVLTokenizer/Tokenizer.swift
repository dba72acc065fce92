import Foundation

/// The Qwen2 / Qwen2-VL tokenizer: byte-level BPE loaded from a HF `tokenizer.json`, bit-exact with HF
/// `tokenizers` (added tokens first, NFC, the Qwen2 split, byte-level BPE; no BOS).
///
/// Immutable and `Sendable`: one instance serves any number of threads.
///
///     let tokenizer = try QwenTokenizer.load(directory: checkpointURL)
///     let ids = tokenizer.encode("<|im_start|>user\nHello<|im_end|>")   // [151644, 872, 198, 9707, 151645]
///     let text = tokenizer.decode(ids, skipSpecialTokens: true)          // "user\nHello"
public final class QwenTokenizer: Sendable {
    /// Max id + 1 over the BPE vocabulary and the added tokens (151,657 for Qwen2-VL).
    public let vocabularySize: Int
    /// All added tokens (special or not), by ascending id.
    public let addedTokens: [AddedToken]
    /// Special tokens by content, e.g. `["<|im_end|>": 151645, …]`.
    public let specialTokens: [String: Int32]
    /// `eos_token` / `pad_token` of `tokenizer_config.json`, when it was given and names a known token.
    public let eosTokenID: Int32?
    public let padTokenID: Int32?

    /// Token string per id (byte-level form for BPE tokens); nil for ids no token uses.
    private let idToToken: [String?]
    private let modelTokenToID: TokenLookupTable
    private let addedTokenToID: TokenLookupTable
    /// Bytes of each id's text: `decodeBytes[decodeOffsets[id]..<decodeOffsets[id + 1]]`.
    private let decodeOffsets: [Int32]
    private let decodeBytes: [UInt8]
    /// Whether each id is a special token (skipped by `skipSpecialTokens`).
    private let specialFlags: [Bool]
    private let bpe: BytePairEncoding
    private let rawMatcher: AddedTokenMatcher
    private let normalizedMatcher: AddedTokenMatcher
    private let normalizeNFC: Bool
    private let cache: WordCache

    /// Ids at or above this are rejected as corrupt (real vocabularies have well under a million tokens).
    static let maxTokenID: Int32 = 1 << 24

    /// Loads `tokenizer.json` (and, when present in the same folder, `tokenizer_config.json`).
    public static func load(directory: URL) throws -> QwenTokenizer {
        let config = directory.appendingPathComponent("tokenizer_config.json")
        let hasConfig = FileManager.default.fileExists(atPath: config.path)
        return try QwenTokenizer(tokenizerJSON: directory.appendingPathComponent("tokenizer.json"),
                                 tokenizerConfig: hasConfig ? config : nil)
    }

    /// Loads a `tokenizer.json` file, optionally with a `tokenizer_config.json` for the eos/pad token names.
    public convenience init(tokenizerJSON: URL, tokenizerConfig: URL? = nil) throws {
        let file = try TokenizerFile.load(tokenizerJSON)
        var configValue: JSONValue?
        if let configURL = tokenizerConfig {
            guard FileManager.default.fileExists(atPath: configURL.path) else {
                throw TokenizerError.fileNotFound(path: configURL.path)
            }
            let data: Data
            do { data = try Data(contentsOf: configURL) } catch {
                throw TokenizerError.unreadableFile(path: configURL.path, reason: error.localizedDescription)
            }
            configValue = try JSONValue.parse([UInt8](data), source: configURL.path)
        }
        try self.init(file: file, config: configValue, source: tokenizerJSON.path)
    }

    init(file: TokenizerFile, config: JSONValue?, source: String) throws {
        var maxID: Int32 = -1
        for entry in file.vocab { maxID = max(maxID, entry.id) }
        for token in file.addedTokens { maxID = max(maxID, token.id) }
        guard maxID < QwenTokenizer.maxTokenID else {
            throw TokenizerError.invalidVocabulary(source: source, reason: "token id \(maxID) is implausibly large")
        }
        let size = Int(maxID) + 1
        vocabularySize = size

        var strings = [String?](repeating: nil, count: size)
        var modelVocab = TokenLookupTable(capacity: file.vocab.count)
        for (token, id) in file.vocab {
            strings[Int(id)] = token
            modelVocab.insert(token, id: id, replace: true)
        }

        // Merges refer to BPE vocabulary strings; the merged token is the concatenation of the pair.
        var byteToID = [Int32](repeating: -1, count: 256)
        for b in 0..<256 { byteToID[b] = modelVocab.lookup(ByteLevel.encode([UInt8(b)])) ?? -1 }
        var table = MergeTable(capacity: file.merges.count)
        var joined: [UInt8] = []
        for (rank, (left, right)) in file.merges.enumerated() {
            joined.removeAll(keepingCapacity: true)
            joined.append(contentsOf: left.utf8)
            joined.append(contentsOf: right.utf8)
            guard let a = modelVocab.lookup(left), let b = modelVocab.lookup(right),
                  let merged = joined.withUnsafeBufferPointer({ modelVocab.lookup($0) }) else {
                throw TokenizerError.invalidVocabulary(
                    source: source, reason: "merge #\(rank) \"\(left) \(right)\" uses a token missing from the vocab")
            }
            table.insert(left: a, right: b, rank: UInt32(rank), merged: merged)
        }
        bpe = BytePairEncoding(byteToID: byteToID, merges: table)

        // Added tokens take precedence for id → token and token → id, as in HF's AddedVocabulary.
        var added = file.addedTokens
        added.sort { $0.id < $1.id }
        var addedLookup = TokenLookupTable(capacity: added.count)
        for token in added {
            strings[Int(token.id)] = token.content
            addedLookup.insert(token.content, id: token.id, replace: true)
        }
        idToToken = strings
        modelTokenToID = modelVocab
        addedTokenToID = addedLookup
        addedTokens = added

        // HF skips, with skip_special_tokens, every id whose token string is a special token's content.
        var specials: [String: Int32] = [:]
        var flags = [Bool](repeating: false, count: size)
        for token in added where token.special {
            specials[token.content] = token.id
            flags[Int(token.id)] = true
            if let modelID = modelVocab.lookup(token.content), strings[Int(modelID)] == token.content {
                flags[Int(modelID)] = true
            }
        }
        specialTokens = specials
        specialFlags = flags

        var offsets = [Int32](repeating: 0, count: size + 1)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size * 7)
        for id in 0..<size {
            if let token = strings[id] { ByteLevel.appendDecoded(token, to: &bytes) }
            offsets[id + 1] = Int32(bytes.count)
        }
        decodeOffsets = offsets
        decodeBytes = bytes

        normalizeNFC = file.normalizeNFC
        let nfc = file.normalizeNFC
        let normalize: (String) -> String = { nfc ? UnicodeNormalization.nfc($0) : $0 }
        rawMatcher = AddedTokenMatcher(tokens: added.filter { !$0.normalized }, normalize: normalize)
        normalizedMatcher = AddedTokenMatcher(tokens: added.filter { $0.normalized }, normalize: normalize)
        cache = WordCache()
        // Build the lazily initialized Unicode tables now (~15 ms, once per process), not in the first request.
        if nfc { _ = NFCData.shared }
        _ = ScalarClassTable.bmp

        func configToken(_ key: String) -> Int32? {
            guard let value = config?[key] else { return nil }
            let name = value.stringValue ?? value["content"]?.stringValue
            guard let name else { return nil }
            return addedLookup.lookup(name) ?? modelVocab.lookup(name)
        }
        eosTokenID = configToken("eos_token")
        padTokenID = configToken("pad_token")
    }

    // MARK: - Vocabulary

    /// The id of a token string (an added token's content, or a BPE token in byte-level form like `Ġhello`).
    public func id(of token: String) -> Int32? {
        addedTokenToID.lookup(token) ?? modelTokenToID.lookup(token)
    }

    /// The token string of an id (byte-level form for BPE tokens), or nil for an unknown id.
    public func token(of id: Int32) -> String? {
        guard id >= 0, Int(id) < idToToken.count else { return nil }
        return idToToken[Int(id)]
    }

    /// Whether `id` is a special token (dropped when decoding with `skipSpecialTokens`).
    public func isSpecial(_ id: Int32) -> Bool {
        id >= 0 && Int(id) < specialFlags.count && specialFlags[Int(id)]
    }

    /// The raw bytes an id decodes to (possibly part of a UTF-8 character), or nil for an unknown id.
    public func bytes(of id: Int32) -> [UInt8]? {
        guard id >= 0, Int(id) < idToToken.count, idToToken[Int(id)] != nil else { return nil }
        return Array(decodeBytes[Int(decodeOffsets[Int(id)])..<Int(decodeOffsets[Int(id) + 1])])
    }

    // MARK: - Encoding

    /// Token ids of `text`: added tokens are matched as whole strings, the rest is NFC-normalized, split by the
    /// Qwen2 pre-tokenizer and byte-level BPE encoded. No BOS/EOS is added.
    public func encode(_ text: String) -> [Int32] {
        var text = text
        return text.withUTF8 { encode(utf8: $0) }
    }

    /// `encode` over UTF-8 bytes that are known to be valid (e.g. a Swift string's storage).
    func encode(utf8 p: UnsafeBufferPointer<UInt8>) -> [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(p.count / 3 + 4)
        var scratch = BytePairEncoding.Scratch()
        if rawMatcher.isEmpty {
            encodeUnmatched(p, scratch: &scratch, into: &out)
        } else {
            for segment in rawMatcher.split(p) {
                if let id = segment.id {
                    out.append(id)
                } else {
                    encodeUnmatched(UnsafeBufferPointer(rebasing: p[segment.start..<segment.end]),
                                    scratch: &scratch, into: &out)
                }
            }
        }
        return out
    }

    /// Normalizes one stretch between raw-matched added tokens, then continues.
    private func encodeUnmatched(_ p: UnsafeBufferPointer<UInt8>, scratch: inout BytePairEncoding.Scratch,
                                 into out: inout [Int32]) {
        if normalizeNFC, let normalized = UnicodeNormalization.nfc(p) {
            normalized.withUnsafeBufferPointer { encodeNormalized($0, scratch: &scratch, into: &out) }
        } else {
            encodeNormalized(p, scratch: &scratch, into: &out)
        }
    }

    private func encodeNormalized(_ p: UnsafeBufferPointer<UInt8>, scratch: inout BytePairEncoding.Scratch,
                                  into out: inout [Int32]) {
        if normalizedMatcher.isEmpty {
            encodePieces(p, scratch: &scratch, into: &out)
            return
        }
        for segment in normalizedMatcher.split(p) {
            if let id = segment.id {
                out.append(id)
            } else {
                encodePieces(UnsafeBufferPointer(rebasing: p[segment.start..<segment.end]), scratch: &scratch, into: &out)
            }
        }
    }

    /// Pre-tokenizes and BPE-encodes normalized text.
    private func encodePieces(_ p: UnsafeBufferPointer<UInt8>, scratch: inout BytePairEncoding.Scratch,
                              into out: inout [Int32]) {
        Qwen2PreTokenizer.split(p) { start, end in
            let piece = UnsafeBufferPointer(rebasing: p[start..<end])
            if piece.count <= 2 {
                bpe.encode(piece, scratch: &scratch, into: &out)
            } else if !cache.lookup(piece, into: &out) {
                let before = out.count
                bpe.encode(piece, scratch: &scratch, into: &out)
                cache.insert(piece, ids: out[before...])
            }
        }
    }

    // MARK: - Decoding

    /// Text of `ids`: the bytes of all tokens concatenated, decoded as UTF-8 with each invalid sequence replaced
    /// by U+FFFD (HF `decode`, `errors="replace"`). Unknown ids are ignored; special tokens are dropped when
    /// `skipSpecialTokens` is true.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool = false) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids { appendBytes(of: id, skipSpecialTokens: skipSpecialTokens, to: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the bytes of one id (nothing for unknown ids or skipped special tokens).
    func appendBytes(of id: Int32, skipSpecialTokens: Bool, to bytes: inout [UInt8]) {
        guard id >= 0, Int(id) < vocabularySize else { return }
        let index = Int(id)
        if skipSpecialTokens && specialFlags[index] { return }
        let start = Int(decodeOffsets[index])
        let end = Int(decodeOffsets[index + 1])
        if start < end { bytes.append(contentsOf: decodeBytes[start..<end]) }
    }
}
