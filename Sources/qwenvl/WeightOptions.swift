import ArgumentParser
import Foundation
import QwenVL
import QwenVLCore

/// `--weights`: how the language model's matrices are held in memory (shared by generate, chat, serve and bench).
///
/// `bf16` keeps the checkpoint's tensors memory-mapped as stored; `f32` converts them (2× the memory, no
/// conversion in prefill); `q8` and `q4` quantize them on load (about ½ and ⅓ of bf16's bytes, faster decode,
/// small logit drift — see the README's speed section). The vision tower always stays as stored.
struct WeightOptions: ParsableArguments {
    static let formats: [String: WeightFormat] = ["bf16": .stored, "stored": .stored, "f32": .f32, "q8": .q8, "q4": .q4]

    @Option(help: "Language-model weights: bf16 (as stored, memory-mapped), f32, q8 or q4 (quantized on load).")
    var weights: String = "bf16"

    @Option(help: ArgumentHelp("A PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors), merged into the language model's weights on load.",
                               valueName: "dir"))
    var adapter: String?

    func validate() throws {
        guard Self.formats[weights] != nil else { throw ValidationError("--weights must be bf16, f32, q8 or q4 (got '\(weights)')") }
    }

    /// The chosen format (validated).
    var format: WeightFormat { Self.formats[weights] ?? .stored }

    /// Load options for the chosen format and adapter (read from `--adapter`).
    func loadOptions() throws -> LoadOptions {
        LoadOptions(languageWeights: format, adapter: try adapter.map { try LoRAAdapter.load(from: URL(fileURLWithPath: $0)) })
    }

    /// Loads `model` in the chosen format, with a progress bar on stderr while weights are converted.
    func load(_ model: String) throws -> QwenVLModel {
        let bar = ProgressBar()
        defer { bar.finish() }
        let options = try loadOptions()
        let label = adapter == nil ? "converting weights to \(weights)" : "merging the adapter (\(weights))"
        let progress: ((Int, Int) -> Void)? = format == .stored && adapter == nil ? nil : { done, total in
            bar.update(label, done, total)
        }
        return try QwenVLModel.load(from: URL(fileURLWithPath: model), options: options, progress: progress)
    }
}
