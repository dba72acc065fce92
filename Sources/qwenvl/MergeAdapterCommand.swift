import ArgumentParser
import Foundation
import QwenVL
import QwenVLCore

/// `qwenvl merge-adapter`: a checkpoint folder with a PEFT LoRA adapter merged into its weights.
struct MergeAdapterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge-adapter",
        abstract: "Write a checkpoint with a LoRA adapter merged into the language model's weights.",
        discussion: """
        The output folder is a complete checkpoint (HF transformers and qwenvl load it): the source's config, \
        tokenizer and processor files copied, the adapter's target matrices merged (W + alpha/r·B·A in float32, \
        stored as --dtype), every other tensor copied unchanged. Written to a temporary folder and renamed when done.
        Example: qwenvl merge-adapter --model Qwen2-VL-2B-Instruct --adapter my-lora --output Qwen2-VL-2B-mine
        """)

    @Option(help: "Source checkpoint folder.") var model: String
    @Option(help: ArgumentHelp("PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors).", valueName: "dir"))
    var adapter: String
    @Option(help: "Output folder (must not exist).") var output: String
    @Option(help: "dtype of the merged matrices: bf16 or f32 (default: each source tensor's own).") var dtype: String?
    @Option(help: "Largest shard, e.g. 5GB, 500MB, 2000000 (bytes).") var maxShardSize: String = "5GB"

    static let dtypes: [String: DType] = ["bf16": .bf16, "f32": .f32]

    func validate() throws {
        if let dtype, Self.dtypes[dtype] == nil { throw ValidationError("--dtype must be bf16 or f32 (got '\(dtype)')") }
        if Self.bytes(maxShardSize) == nil { throw ValidationError("--max-shard-size must be a positive size such as 5GB, 500MB or 2000000 (got '\(maxShardSize)')") }
    }

    /// "5GB" / "500MB" / "64KB" / "2000000" in bytes (decimal units, as transformers' max_shard_size).
    static func bytes(_ text: String) -> Int? {
        let units: [(String, Int)] = [("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1_000), ("B", 1)]
        let upper = text.uppercased()
        for (suffix, factor) in units where upper.hasSuffix(suffix) {
            guard let value = Double(upper.dropLast(suffix.count)), value > 0 else { return nil }
            return Int(value * Double(factor))
        }
        guard let value = Int(upper), value > 0 else { return nil }
        return value
    }

    func run() throws {
        let start = Date()
        let summary: MergedCheckpoint.Summary
        do {
            let lora = try LoRAAdapter.load(from: URL(fileURLWithPath: adapter))
            let bar = ProgressBar()
            defer { bar.finish() }
            summary = try MergedCheckpoint.write(model: URL(fileURLWithPath: model), adapter: lora, to: URL(fileURLWithPath: output),
                                                 dtype: dtype.flatMap { Self.dtypes[$0] }, maxShardBytes: Self.bytes(maxShardSize)!) { done, total in
                bar.update("merging", done, total)
            }
        } catch let error as QwenVLError {
            throw fail(error.description)
        }
        let seconds = Date().timeIntervalSince(start)
        printError(String(format: "merged %d matrices, copied %d tensors and %d files into %@ (%d shard%@, %.1f MB) in %.1f s",
                          summary.mergedTensors, summary.copiedTensors, summary.copiedFiles.count, output, summary.shards,
                          summary.shards == 1 ? "" : "s", Double(summary.totalBytes) / 1e6, seconds))
    }
}
