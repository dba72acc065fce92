import Foundation
import QwenVL
import QwenVLTokenizer

/// `qwenvl bench --constraint …`: the cost of constrained decoding per token, beside a decode step.
///
/// Drives a ``ConstrainedDecoder`` with random logits (seeded, so a uniform random walk over the allowed tokens,
/// like random weights) for `tokens` steps, starting a new output each time one completes (the constraint's mask
/// cache is kept across outputs, as for repeated requests with the same constraint). Only the mask and advance
/// calls are timed; drawing the random logits and the arg-max are not.
enum ConstraintBench {
    /// The built-in constraints: `agent` (click / type / done tool calls), `json-object`, `schema` (a nested
    /// response schema), or a path to a JSON schema file.
    static func constraint(_ spec: String) throws -> ResponseConstraint {
        switch spec {
        case "json-object": return .jsonObject()
        case "agent":
            let point = #"{"type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}}, "required": ["x", "y"]}"#
            let text = #"{"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}"#
            return try .toolCalls([FunctionSchema(name: "click", parameters: try JSONValue.parse(point)),
                                   FunctionSchema(name: "type", parameters: try JSONValue.parse(text)),
                                   FunctionSchema(name: "done", parameters: .object([]))], parallel: false)
        case "schema":
            return try .jsonSchema(JSONValue.parse(#"""
                {"type": "object", "properties": {
                  "title": {"type": "string", "maxLength": 64},
                  "objects": {"type": "array", "maxItems": 4, "items": {"type": "object", "properties": {
                    "label": {"type": "string", "maxLength": 32}, "box": {"type": "array", "items": {"type": "integer"}, "minItems": 4, "maxItems": 4},
                    "confidence": {"type": "number"}}, "required": ["label", "box"]}},
                  "kind": {"enum": ["photo", "screenshot", "drawing"]}, "text": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
                 "required": ["title", "objects", "kind"]}
                """#))
        default:
            let data = try Data(contentsOf: URL(fileURLWithPath: spec))
            return try .jsonSchema(JSONValue.parse(Array(data), source: spec))
        }
    }

    /// Runs `tokens` constrained steps and returns the statistics and the number of completed outputs.
    static func run(_ constraint: ResponseConstraint, tokenizer: QwenTokenizer, tokens: Int,
                    vocabularySize: Int) -> (statistics: ConstraintStatistics, outputs: Int, firstOutput: ConstraintStatistics) {
        let end = tokenizer.specialTokens["<|im_end|>"] ?? 151645
        var rng = SamplerRNG(seed: 7)
        var total = ConstraintStatistics()
        var first: ConstraintStatistics?
        var outputs = 0
        var logits = [Float](repeating: 0, count: vocabularySize)
        var decoder = ConstrainedDecoder(constraint: constraint, tokenizer: tokenizer, endTokenIDs: [end])
        // Each output gets a 256-token limit, so the cost includes steering to a valid end near it (TokenBudget).
        var step = 0
        for _ in 0..<tokens {
            for i in logits.indices { logits[i] = Float(rng.next() >> 40) }
            decoder.maskLogits(&logits, remainingTokens: 256 - step)
            step += 1
            let token = Sampler.argmax(logits)
            decoder.advance(token)
            if token == end {
                outputs += 1
                if first == nil { first = decoder.statistics }
                total.add(decoder.statistics)
                decoder = ConstrainedDecoder(constraint: constraint, tokenizer: tokenizer, endTokenIDs: [end])
                step = 0
            }
        }
        total.add(decoder.statistics)
        return (total, outputs, first ?? decoder.statistics)
    }
}

extension BenchCommand {
    /// Times constrained decoding with `spec` on the tokenizer of `model`; compares with the decode step measured
    /// before in the same run (`result["decode_s"]`), if any.
    func benchConstraint(_ spec: String, model: String, into result: inout [String: Any]) throws {
        let tokenizer = try QwenTokenizer.load(directory: URL(fileURLWithPath: model))
        let constraint = try ConstraintBench.constraint(spec)
        let t0 = Date()
        var warm = ConstrainedDecoder(constraint: .jsonObject(), tokenizer: tokenizer, endTokenIDs: [])   // builds the vocabulary
        var probe = [Float](repeating: 0, count: tokenizer.vocabularySize)
        warm.maskLogits(&probe)
        let vocabularySeconds = Date().timeIntervalSince(t0)
        let (s, outputs, first) = ConstraintBench.run(constraint, tokenizer: tokenizer, tokens: constraintTokens,
                                                      vocabularySize: 151_936)
        let perToken = s.secondsPerToken
        result["constraint"] = spec
        result["constraint_tokens"] = s.steps
        result["constraint_outputs"] = outputs
        result["constraint_ms_per_token"] = perToken * 1e3
        result["constraint_mask_ms_per_token"] = s.maskSeconds / Double(max(s.steps, 1)) * 1e3
        result["constraint_advance_ms_per_token"] = s.advanceSeconds / Double(max(s.steps, 1)) * 1e3
        result["constraint_first_output_ms_per_token"] = first.secondsPerToken * 1e3
        result["constraint_cache_misses"] = s.cacheMisses
        result["constraint_vocabulary_s"] = vocabularySeconds
        var line = String(format: "constraint %@: %.3f ms/token mask+advance (mask %.3f, advance %.3f) over %d tokens, %d outputs, %d mask walks; first output %.3f ms/token; vocabulary trie %.2f s",
                          spec as NSString, perToken * 1e3, s.maskSeconds / Double(max(s.steps, 1)) * 1e3,
                          s.advanceSeconds / Double(max(s.steps, 1)) * 1e3, s.steps, outputs, s.cacheMisses,
                          first.secondsPerToken * 1e3, vocabularySeconds)
        if let decode = result["decode_s"] as? Double, let n = result["gen_tokens"] as? Int, n > 0 {
            let step = decode / Double(n)
            result["constraint_fraction_of_decode_step"] = perToken / step
            line += String(format: " | %.1f%% of a %.1f ms decode step", perToken / step * 100, step * 1e3)
        }
        if !json { say(line) }
    }
}
