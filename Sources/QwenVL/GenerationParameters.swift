import Foundation

/// How tokens are chosen and when generation stops (HF `generate` semantics, spec §8).
///
/// `temperature == 0` (or `doSample == false`) means greedy. Processing order per step, as in transformers:
/// repetition penalty over every distinct id in the sequence so far, then temperature, top-k, top-p, min-p,
/// then sampling from the surviving tokens with a seeded generator.
public struct GenerationParameters: Sendable, Equatable {
    public var maxTokens: Int = 128
    public var doSample: Bool = false
    public var temperature: Float = 1
    public var topK: Int = 0
    public var topP: Float = 1
    public var minP: Float = 0
    public var repetitionPenalty: Float = 1
    public var seed: UInt64? = nil
    /// Token ids that end generation (included in the output).
    public var eosTokenIDs: [Int32] = [151645, 151643]
    /// Strings that end generation; the text stops before them.
    public var stopStrings: [String] = []
    /// What the output must be (a JSON schema, any JSON object, tool calls); nil: free text. Tokens it rejects
    /// are masked to −∞ before each sampling step (see ``ConstrainedDecoder``); equality compares the source.
    public var constraint: ResponseConstraint? = nil

    public init() {}

    /// Whether the next token is the arg-max.
    public var isGreedy: Bool { !doSample || temperature == 0 }

    /// Defaults from a checkpoint's `generation_config.json` (missing file: transformers' defaults).
    public static func defaults(directory: URL, configuration: Configuration) throws -> GenerationParameters {
        var p = GenerationParameters()
        p.eosTokenIDs = configuration.eosTokenIDs
        let url = directory.appendingPathComponent("generation_config.json")
        guard let data = FileManager.default.contents(atPath: url.path) else { return p }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw QwenVLError("generation_config.json: not valid JSON")
        }
        let r = ConfigReader(primary: object, fallback: [:], section: "generation_config.json")
        p.doSample = try r.bool("do_sample", default: false)
        p.temperature = Float(try r.double("temperature", default: 1))
        p.topK = try r.int("top_k", default: 50)
        p.topP = Float(try r.double("top_p", default: 1))
        p.minP = Float(try r.double("min_p", default: 0))
        p.repetitionPenalty = Float(try r.double("repetition_penalty", default: 1))
        p.eosTokenIDs = try r.int32List("eos_token_id", default: configuration.eosTokenIDs)
        if let n = object["max_new_tokens"] as? Int { p.maxTokens = n }
        return p
    }
}
