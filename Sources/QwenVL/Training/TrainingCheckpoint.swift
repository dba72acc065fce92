import Foundation
import QwenVLCore

/// A resumable training state in one safetensors file: the adapter factors, both AdamW moments, the step, the
/// dropout RNG state and the LoRA configuration (metadata). Written atomically (temporary file + rename).
///
/// Tensors: `{module}.lora_A` / `.lora_B` and the same names with `.exp_avg` / `.exp_avg_sq`, F32.
public enum TrainingCheckpoint {
    public static let fileName = "training_state.safetensors"
    public static let format = "qwenvl-lora-train-1"

    /// Saves `trainer`'s state to `directory/training_state.safetensors` (the folder is created).
    public static func save(_ trainer: LoRATrainer, to directory: URL) throws {
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw QwenVLError("cannot create checkpoint folder \(directory.path): \(error.localizedDescription)")
        }
        var entries: [SafeTensorsWriter.Entry] = []
        let w = trainer.weights
        for (kind, state) in [("", w), (".exp_avg", trainer.optimizer.exponentialAverage), (".exp_avg_sq", trainer.optimizer.exponentialAverageOfSquares)] {
            for (path, f) in state.modules {
                entries.append(.f32("\(path).lora_A\(kind)", shape: [w.rank, f.inFeatures], f.a))
                entries.append(.f32("\(path).lora_B\(kind)", shape: [f.outFeatures, w.rank], f.b))
            }
        }
        let metadata: [String: String] = [
            "format": format, "step": String(trainer.step), "rank": String(w.rank), "alpha": "\(w.alpha)",
            "dropout": "\(w.dropout)", "targets": w.targets.map(\.rawValue).joined(separator: ","),
            "rng": trainer.rng.state.map(String.init).joined(separator: ","),
            "weight_decay": "\(trainer.optimizer.weightDecay)", "total_steps": String(trainer.options.totalSteps),
        ]
        do {
            try SafeTensorsWriter.write(entries, metadata: metadata, to: directory.appendingPathComponent(fileName))
        } catch let error as CheckpointError {
            throw QwenVLError("cannot write the training checkpoint: \(error.description)")
        }
    }

    /// A trainer restored from `directory/training_state.safetensors` with `options` for the rest of the run.
    public static func load(from directory: URL, model: QwenVLModel, options: TrainingOptions) throws -> LoRATrainer {
        let url = directory.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else { throw QwenVLError("no training checkpoint at \(url.path)") }
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(url: url) } catch let error as CheckpointError {
            throw QwenVLError("training checkpoint \(url.path): \(error.description)")
        }
        let m = file.metadata
        guard m["format"] == format, let step = m["step"].flatMap(Int.init), let rank = m["rank"].flatMap(Int.init),
              let alpha = m["alpha"].flatMap(Float.init), let dropout = m["dropout"].flatMap(Float.init),
              let rngState = m["rng"]?.split(separator: ",").compactMap({ UInt64($0) }), rngState.count == 4 else {
            throw QwenVLError("\(url.path) is not a \(format) training checkpoint")
        }
        func values(_ name: String, _ count: Int) throws -> [Float] {
            guard let info = file.tensors[name], info.elementCount == count else {
                throw QwenVLError("training checkpoint: tensor \(name) is missing or has the wrong size")
            }
            return [Float](unsafeUninitializedCapacity: count) { buffer, n in
                convertToFloat(info.dtype, file.pointer(for: info), buffer.baseAddress!, count: count)
                n = count
            }
        }
        let config = model.languageModel.config
        func state(_ kind: String) throws -> [String: (a: [Float], b: [Float])] {
            var factors: [String: (a: [Float], b: [Float])] = [:]
            for name in file.tensors.keys where name.hasSuffix(".lora_A\(kind)") {
                let path = String(name.dropLast(".lora_A\(kind)".count))
                guard let (_, target) = LoRAWeights.parse(path) else { throw QwenVLError("training checkpoint: unknown module \(path)") }
                let (outF, inF) = target.shape(config)
                factors[path] = (try values(name, rank * inF), try values("\(path).lora_B\(kind)", outF * rank))
            }
            return factors
        }
        let weights = try LoRAWeights(config: config, rank: rank, alpha: alpha, dropout: dropout, factors: state(""))
        var trainer = try LoRATrainer(model: model, weights: weights, options: options)
        trainer.optimizer.exponentialAverage = try LoRAWeights(config: config, rank: rank, alpha: alpha, dropout: dropout, factors: state(".exp_avg"))
        trainer.optimizer.exponentialAverageOfSquares = try LoRAWeights(config: config, rank: rank, alpha: alpha, dropout: dropout, factors: state(".exp_avg_sq"))
        trainer.optimizer.step = step
        trainer.rng.state = rngState
        return trainer
    }
}
