import ArgumentParser
import QwenVL

/// Sampling flags shared by `generate` and `chat`; unset flags keep the checkpoint's generation_config values.
struct SamplingOptions: ParsableArguments {
    @Option(name: .customLong("max-tokens"), help: "Maximum tokens to generate.") var maxTokens: Int = 128
    @Option(help: "Sampling temperature; 0 = greedy.") var temperature: Float?
    @Option(name: .customLong("top-p"), help: "Nucleus sampling mass.") var topP: Float?
    @Option(name: .customLong("top-k"), help: "Keep the k most likely tokens (0 = off).") var topK: Int?
    @Option(name: .customLong("min-p"), help: "Drop tokens below min-p × the top probability.") var minP: Float?
    @Option(name: .customLong("repetition-penalty"), help: "HF repetition penalty; 1 disables it.") var repetitionPenalty: Float?
    @Option(help: "Random seed for sampling.") var seed: UInt64?
    @Option(help: "Stop when this text appears (repeatable).") var stop: [String] = []

    func validate() throws {
        if maxTokens < 0 { throw ValidationError("--max-tokens must be ≥ 0") }
        if let temperature, temperature < 0 || !temperature.isFinite { throw ValidationError("--temperature must be ≥ 0") }
        if let topP, !(topP > 0 && topP <= 1) { throw ValidationError("--top-p must be in (0, 1]") }
        if let topK, topK < 0 { throw ValidationError("--top-k must be ≥ 0") }
        if let minP, !(minP >= 0 && minP <= 1) { throw ValidationError("--min-p must be in [0, 1]") }
        if let repetitionPenalty, !(repetitionPenalty > 0) { throw ValidationError("--repetition-penalty must be > 0") }
    }

    /// The checkpoint defaults with these flags applied.
    func parameters(defaults: GenerationParameters) -> GenerationParameters {
        var p = defaults
        p.maxTokens = maxTokens
        if let temperature {
            p.temperature = temperature
            p.doSample = temperature > 0
        }
        if let topP { p.topP = topP }
        if let topK { p.topK = topK }
        if let minP { p.minP = minP }
        if let repetitionPenalty { p.repetitionPenalty = repetitionPenalty }
        p.seed = seed
        p.stopStrings = stop
        return p
    }
}
