import ArgumentParser
import Foundation
import QwenVL
import QwenVLCore

/// `qwenvl finetune`: LoRA fine-tuning of the language model on `qwenvl dataset` shards (ViT and merger frozen).
struct FinetuneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "LoRA fine-tuning of the language model on SFT shards (vision tower and merger frozen).",
        discussion: """
        Reads every *.safetensors shard in --data (written by `qwenvl dataset`), trains LoRA factors with AdamW, \
        linear warm-up + cosine decay, gradient accumulation and global-norm clipping, and saves the adapter in \
        PEFT format to --output (plus a resumable checkpoint in --output/checkpoint). Each optimizer step \
        accumulates --grad-accum examples; the loss is normalized by the supervised tokens of the whole step.
        Example: qwenvl finetune --model Qwen2-VL-2B-Instruct --data train-shards --eval-data eval-shards \
        --output my-adapter --rank 8 --alpha 16 --epochs 2 --lr 2e-4 --warmup-steps 10
        """)

    @Option(help: "Checkpoint folder of the base model.") var model: String
    @Option(help: "Folder of training shards (*.safetensors from `qwenvl dataset`).") var data: String
    @Option(name: .customLong("eval-data"), help: "Folder of held-out shards: eval loss printed after each epoch.") var evalData: String?
    @Option(help: "Output folder for the adapter (PEFT format) and the checkpoint.") var output: String
    @Option(help: "LoRA rank.") var rank = 8
    @Option(help: "LoRA alpha (scaling = alpha / rank).") var alpha: Float = 16
    @Option(help: "LoRA dropout on each adapted layer's input.") var dropout: Float = 0.05
    @Option(help: "Comma-separated targets among q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj, or all.")
    var targets = "all"
    @Option(help: "Peak learning rate.") var lr: Double = 2e-4
    @Option(name: .customLong("warmup-steps"), help: "Linear warm-up steps.") var warmupSteps = 0
    @Option(help: "Epochs over the training data (ignored with --max-steps).") var epochs = 1
    @Option(name: .customLong("max-steps"), help: "Optimizer steps in total (overrides --epochs).") var maxSteps: Int?
    @Option(name: .customLong("grad-accum"), help: "Examples per optimizer step.") var gradAccum = 1
    @Option(name: .customLong("max-grad-norm"), help: "Global gradient-norm clip (0 disables).") var maxGradNorm: Float = 1.0
    @Option(name: .customLong("weight-decay"), help: "AdamW decoupled weight decay.") var weightDecay: Float = 0.01
    @Option(help: "Seed for the LoRA init, data order and dropout.") var seed: UInt64 = 0
    @Option(name: .customLong("save-every"), help: "Save the adapter and a checkpoint every N steps (0: only at the end).") var saveEvery = 0
    @Flag(help: "Resume from --output/checkpoint.") var resume = false
    @Option(name: .customLong("stop-after"), help: "Stop after N steps of this session (adapter and checkpoint saved; --resume continues).")
    var stopAfter: Int?
    @Flag(name: .customLong("no-checkpointing"), help: "Keep every layer's activations instead of recomputing them (more memory).")
    var noCheckpointing = false
    @Option(help: "Worker threads (default: all cores).") var threads: Int?

    func validate() throws {
        if rank <= 0 { throw ValidationError("--rank must be ≥ 1 (got \(rank))") }
        if !(alpha > 0) { throw ValidationError("--alpha must be positive") }
        if !(dropout >= 0 && dropout < 1) { throw ValidationError("--dropout must be in [0, 1)") }
        if !(lr >= 0) { throw ValidationError("--lr must be ≥ 0") }
        if warmupSteps < 0 { throw ValidationError("--warmup-steps must be ≥ 0") }
        if epochs < 1 { throw ValidationError("--epochs must be ≥ 1") }
        if let maxSteps, maxSteps < 1 { throw ValidationError("--max-steps must be ≥ 1") }
        if gradAccum < 1 { throw ValidationError("--grad-accum must be ≥ 1") }
        if maxGradNorm < 0 { throw ValidationError("--max-grad-norm must be ≥ 0") }
        if let stopAfter, stopAfter < 1 { throw ValidationError("--stop-after must be ≥ 1") }
        if saveEvery < 0 { throw ValidationError("--save-every must be ≥ 0") }
        do { _ = try LoRATarget.parse(targets) } catch { throw ValidationError("\(error)") }
    }

    /// Every example of the shards in `folder`, in file-name order.
    static func readShards(_ folder: String, label: String) throws -> [SFTExample] {
        let url = URL(fileURLWithPath: folder)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw QwenVLError("\(label) folder not found: \(folder)")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: url.path).filter { $0.hasSuffix(".safetensors") }.sorted()
        guard !files.isEmpty else { throw QwenVLError("no .safetensors shards in \(label) folder \(folder) (write them with `qwenvl dataset`)") }
        var examples: [SFTExample] = []
        for file in files { examples += try SFTShard.read(url.appendingPathComponent(file)) }
        guard !examples.isEmpty else { throw QwenVLError("the \(label) shards in \(folder) hold no examples") }
        return examples
    }

    /// The example order of `epoch`: a seeded shuffle.
    static func order(count: Int, epoch: Int, seed: UInt64) -> [Int] {
        var rng = TrainingRNG(seed: seed &+ 0x9E37_79B9 &* UInt64(epoch + 1))
        var order = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, rng.next(below: i + 1)) }
        return order
    }

    func run() async throws {
        if let threads { Parallel.setThreadCount(threads) }
        let outputURL = URL(fileURLWithPath: output)
        let checkpointURL = outputURL.appendingPathComponent("checkpoint")
        let train = try Self.readShards(data, label: "training data")
        let eval = try evalData.map { try Self.readShards($0, label: "eval data") }
        let qwen = try QwenVLModel.load(from: URL(fileURLWithPath: model))
        let config = qwen.languageModel.config
        let stepsPerEpoch = (train.count + gradAccum - 1) / gradAccum
        let totalSteps = maxSteps ?? epochs * stepsPerEpoch
        let options = TrainingOptions(totalSteps: totalSteps, learningRate: lr, warmupSteps: warmupSteps, gradientAccumulation: gradAccum,
                                      maxGradNorm: maxGradNorm > 0 ? maxGradNorm : nil, weightDecay: weightDecay,
                                      checkpointing: !noCheckpointing, seed: seed)
        var trainer: LoRATrainer
        if resume {
            trainer = try TrainingCheckpoint.load(from: checkpointURL, model: qwen, options: options)
            print("resuming at step \(trainer.step) of \(totalSteps)")
        } else {
            let weights = try LoRAWeights(config: config, rank: rank, alpha: alpha, dropout: dropout, targets: try LoRATarget.parse(targets), seed: seed)
            trainer = try LoRATrainer(model: qwen, weights: weights, options: options)
        }
        // Shapes against the model before the first step.
        for (i, example) in (train + (eval ?? [])).enumerated() {
            do { _ = try LoRAGradients.validate(example, model: qwen, weights: trainer.weights) } catch {
                throw QwenVLError("example \(i + 1) (\(i < train.count ? "training" : "eval")): \(error)")
            }
        }
        print("training \(trainer.weights.parameterCount) LoRA parameters (rank \(trainer.weights.rank), alpha \(trainer.weights.alpha), " +
              "\(trainer.weights.targets.map(\.rawValue).joined(separator: ","))) on \(train.count) examples: \(totalSteps) steps, " +
              "\(gradAccum) per step, checkpointing \(noCheckpointing ? "off" : "on"), \(Parallel.threadCount) threads")
        let bar = ProgressBar()
        let baseModelPath = URL(fileURLWithPath: model).standardizedFileURL.path
        func save() throws {
            try trainer.weights.adapter(baseModelPath: baseModelPath).save(to: outputURL)
            try TrainingCheckpoint.save(trainer, to: checkpointURL)
        }
        var epochLoss = TrainingLoss(), epochTokens = 0, epochSeconds = 0.0
        let runStart = Date(), firstStep = trainer.step
        while trainer.step < totalSteps {
            if let stopAfter, trainer.step - firstStep >= stopAfter { break }
            let s = trainer.step
            let epoch = s / stepsPerEpoch, offset = (s % stepsPerEpoch) * gradAccum
            let order = Self.order(count: train.count, epoch: epoch, seed: seed)
            let batch = order[offset..<min(offset + gradAccum, train.count)].map { train[$0] }
            let report = try trainer.step(batch)
            epochLoss = epochLoss + report.loss
            epochTokens += report.tokens
            epochSeconds += report.seconds
            let label = String(format: "step %d/%d loss %.4f lr %.3g %.1f tok/s", trainer.step, totalSteps, report.loss.mean,
                               report.learningRate, Double(report.tokens) / max(report.seconds, 1e-9))
            bar.update(label, trainer.step, totalSteps)
            if isatty(STDERR_FILENO) == 0 { FileHandle.standardError.write(Data((label + String(format: " |g| %.4f\n", report.gradientNorm)).utf8)) }
            if saveEvery > 0, trainer.step % saveEvery == 0, trainer.step < totalSteps { try save() }
            let endOfEpoch = trainer.step % stepsPerEpoch == 0 || trainer.step == totalSteps
            if endOfEpoch {
                bar.finish()
                var line = String(format: "epoch %d: train loss %.4f, %.1f tokens/s", epoch + 1, epochLoss.mean,
                                  Double(epochTokens) / max(epochSeconds, 1e-9))
                if let eval {
                    let loss = try trainer.evaluate(eval)
                    line += String(format: ", eval loss %.4f (%d tokens)", loss.mean, loss.tokens)
                }
                print(line)
                epochLoss = TrainingLoss(); epochTokens = 0; epochSeconds = 0
            }
        }
        try save()
        print(String(format: "saved adapter to %@ after %d steps (%.1f s)", outputURL.path, trainer.step, Date().timeIntervalSince(runStart)))
    }
}
