import Foundation

/// The parts of a HF `tokenizer.json` this runtime uses, validated (byte-level BPE with the Qwen2 split).
struct TokenizerFile {
    /// Token string (byte-level form, e.g. `Ġhello`) per id of the BPE vocabulary.
    var vocab: [(token: String, id: Int32)] = []
    /// Merge pairs in rank order.
    var merges: [(String, String)] = []
    var addedTokens: [AddedToken] = []
    var normalizeNFC = false

    /// The Qwen2 / Qwen2-VL split pattern the hand-written pre-tokenizer implements.
    static let qwen2Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// Reads and validates a `tokenizer.json` file.
    static func load(_ url: URL) throws -> TokenizerFile {
        let path = url.path
        guard FileManager.default.fileExists(atPath: path) else { throw TokenizerError.fileNotFound(path: path) }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TokenizerError.unreadableFile(path: path, reason: error.localizedDescription)
        }
        let root = try JSONValue.parse([UInt8](data), source: path)
        return try TokenizerFile(root: root, source: path)
    }

    init(root: JSONValue, source: String) throws {
        func fail(_ field: String, _ expected: String) -> TokenizerError {
            .invalidField(source: source, field: field, expected: expected)
        }
        guard root.objectValue != nil else { throw fail("(root)", "an object") }

        // normalizer: NFC or none.
        if let normalizer = root["normalizer"], !normalizer.isNull {
            let type = normalizer["type"]?.stringValue
            switch type {
            case "NFC": normalizeNFC = true
            default: throw TokenizerError.unsupported(source: source, feature: "normalizer type \(type ?? "?")")
            }
        }

        // pre_tokenizer: the Qwen2 split (Isolated) followed by ByteLevel without its own regex.
        guard let pre = root["pre_tokenizer"], !pre.isNull else {
            throw TokenizerError.unsupported(source: source, feature: "missing pre_tokenizer (need the Qwen2 split)")
        }
        try TokenizerFile.validatePreTokenizer(pre, source: source)

        if let decoder = root["decoder"], !decoder.isNull, decoder["type"]?.stringValue != "ByteLevel" {
            let type = decoder["type"]?.stringValue ?? "?"
            throw TokenizerError.unsupported(source: source, feature: "decoder type \(type) (need ByteLevel)")
        }

        guard let model = root["model"], model.objectValue != nil else { throw fail("model", "an object") }
        if let type = model["type"]?.stringValue, type != "BPE" {
            throw TokenizerError.unsupported(source: source, feature: "model type \(type) (need BPE)")
        }
        if let dropout = model["dropout"], !dropout.isNull, dropout != .number("0"), dropout != .number("0.0") {
            throw TokenizerError.unsupported(source: source, feature: "BPE dropout")
        }
        if model["byte_fallback"]?.boolValue == true {
            throw TokenizerError.unsupported(source: source, feature: "BPE byte_fallback")
        }
        if model["ignore_merges"]?.boolValue == true {
            throw TokenizerError.unsupported(source: source, feature: "BPE ignore_merges")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let value = model[key]?.stringValue, !value.isEmpty {
                throw TokenizerError.unsupported(source: source, feature: "BPE \(key) \"\(value)\"")
            }
        }

        guard let vocabMembers = model["vocab"]?.objectValue else { throw fail("model.vocab", "an object") }
        vocab.reserveCapacity(vocabMembers.count)
        for member in vocabMembers {
            guard let id = member.value.intValue, id >= 0, id < Int(Int32.max) else {
                throw fail("model.vocab[\(member.key)]", "a non-negative integer id")
            }
            vocab.append((member.key, Int32(id)))
        }

        guard let mergeValues = model["merges"]?.arrayValue else { throw fail("model.merges", "an array") }
        merges.reserveCapacity(mergeValues.count)
        for (index, value) in mergeValues.enumerated() {
            switch value {
            case .string(let line):
                // Legacy form "a b" (tokens never contain a plain space).
                let parts = line.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw fail("model.merges[\(index)]", "\"left right\"") }
                merges.append((String(parts[0]), String(parts[1])))
            case .array(let pair):
                guard pair.count == 2, let a = pair[0].stringValue, let b = pair[1].stringValue else {
                    throw fail("model.merges[\(index)]", "a pair of strings")
                }
                merges.append((a, b))
            default:
                throw fail("model.merges[\(index)]", "a string or a pair of strings")
            }
        }

        if let added = root["added_tokens"], !added.isNull {
            guard let list = added.arrayValue else { throw fail("added_tokens", "an array") }
            for (index, entry) in list.enumerated() {
                guard let content = entry["content"]?.stringValue,
                      let id = entry["id"]?.intValue, id >= 0, id < Int(Int32.max) else {
                    throw fail("added_tokens[\(index)]", "an object with `id` and `content`")
                }
                addedTokens.append(AddedToken(
                    content: content, id: Int32(id),
                    special: entry["special"]?.boolValue ?? false,
                    lstrip: entry["lstrip"]?.boolValue ?? false,
                    rstrip: entry["rstrip"]?.boolValue ?? false,
                    singleWord: entry["single_word"]?.boolValue ?? false,
                    normalized: entry["normalized"]?.boolValue ?? !(entry["special"]?.boolValue ?? false)))
            }
        }
    }

    static func validatePreTokenizer(_ pre: JSONValue, source: String) throws {
        func unsupported(_ what: String) -> TokenizerError {
            .unsupported(source: source, feature: "pre_tokenizer \(what) (need the Qwen2 split + ByteLevel)")
        }
        guard pre["type"]?.stringValue == "Sequence", let steps = pre["pretokenizers"]?.arrayValue,
              steps.count == 2 else { throw unsupported(pre["type"]?.stringValue ?? "?") }
        let split = steps[0]
        guard split["type"]?.stringValue == "Split",
              split["pattern"]?["Regex"]?.stringValue == qwen2Pattern,
              split["behavior"]?.stringValue == "Isolated",
              split["invert"]?.boolValue != true else { throw unsupported("split pattern") }
        let byteLevel = steps[1]
        guard byteLevel["type"]?.stringValue == "ByteLevel",
              byteLevel["use_regex"]?.boolValue == false,
              byteLevel["add_prefix_space"]?.boolValue != true else { throw unsupported("ByteLevel options") }
    }
}
