import Foundation
import QwenVLCore
import QwenVLTokenizer

/// Weight formats, re-exported so API users need only `import QwenVL`.
public typealias WeightFormat = QwenVLCore.WeightFormat

/// How weights are held in memory after loading.
public struct LoadOptions: Sendable, Equatable {
    /// Format of the language model's matrices: `.stored` keeps the checkpoint dtype memory-mapped (no copy).
    public var languageWeights: WeightFormat = .stored
    /// A LoRA adapter merged into the language model's weights at load (W + scaling·B·A in f32, then the format
    /// above: stored bf16 rounds the merged values to bf16). Nil: the checkpoint's weights as they are.
    public var adapter: LoRAAdapter?

    public init(languageWeights: WeightFormat = .stored, adapter: LoRAAdapter? = nil) {
        self.languageWeights = languageWeights
        self.adapter = adapter
    }
}

/// A loaded Qwen2-VL checkpoint: configuration, tokenizer, chat template and weights.
///
/// Immutable and `Sendable`: one instance serves any number of conversations. Per-request state (the KV cache,
/// the rope delta, the sampler's random generator) lives in ``DecodeState`` values handed in and out.
///
/// ```swift
/// let model = try QwenVLModel.load(from: URL(fileURLWithPath: "Qwen2-VL-2B-Instruct"))
/// let result = try model.generate(messages: [ChatMessage(role: "user", text: "Hello!")])
/// print(result.text)
/// ```
public final class QwenVLModel: Sendable {
    /// The checkpoint folder.
    public let directory: URL
    public let configuration: Configuration
    /// Sampling defaults from `generation_config.json`.
    public let generationDefaults: GenerationParameters
    /// Image budget from `preprocessor_config.json`.
    public let preprocessor: PreprocessorConfiguration
    public let tokenizer: QwenTokenizer
    public let chatTemplate: ChatTemplate
    public let languageModel: LanguageModel
    public let visionEncoder: VisionEncoder
    /// Seconds spent in `load`.
    public let loadSeconds: Double

    /// Loads a HuggingFace Qwen2-VL checkpoint folder as downloaded (config, generation config, tokenizer,
    /// safetensors single-file or sharded, memory-mapped).
    ///
    /// `progress(done, total)`, if given, follows the language model's layers as they are bound (and, for `.f32`,
    /// `.q8` and `.q4`, converted: seconds — a 2B model quantizes in 3–6 s on 2 cores; the stored format is a memory
    /// map and reports at once).
    public static func load(from directory: URL, options: LoadOptions = LoadOptions(),
                            progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws -> QwenVLModel {
        try QwenVLModel(directory: directory, options: options, progress: progress)
    }

    private init(directory: URL, options: LoadOptions, progress: ((Int, Int) -> Void)?) throws {
        let start = Date()
        HeapTuning.keepLargeBlocks()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw QwenVLError("model folder not found: \(directory.path)")
        }
        self.directory = directory
        configuration = try Configuration(directory: directory)
        generationDefaults = try GenerationParameters.defaults(directory: directory, configuration: configuration)
        preprocessor = try PreprocessorConfiguration(directory: directory)
        do {
            tokenizer = try QwenTokenizer.load(directory: directory)
        } catch {
            throw QwenVLError("tokenizer: \(error)")
        }
        chatTemplate = .qwen2VL
        let weights: WeightStore
        do {
            weights = try WeightStore(directory: directory)
            languageModel = try LanguageModel(config: configuration.text, weights: weights, format: options.languageWeights,
                                              adapter: options.adapter, progress: progress)
            visionEncoder = try VisionEncoder(config: configuration.vision, weights: weights)
        } catch let error as CheckpointError {
            throw QwenVLError(error.description)
        }
        loadSeconds = Date().timeIntervalSince(start)
    }

    /// A fresh per-conversation state.
    public func makeState() -> DecodeState { DecodeState(cache: languageModel.makeCache()) }
}
