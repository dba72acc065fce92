import Foundation
import QwenVLCore

/// A checkpoint folder with a LoRA adapter merged into its language-model linears (`qwenvl merge-adapter`).
///
/// The output is a complete HF checkpoint: every non-weight file of the source (config, tokenizer, generation and
/// preprocessor configs, chat template) copied, and safetensors with the source's tensor names where the adapter's
/// target matrices hold W + scaling·B·A (computed in f32, stored in the requested dtype) and every other tensor is
/// byte-copied. Sharded as `model-0000i-of-0000n.safetensors` + `model.safetensors.index.json` above the shard
/// size. Written into a temporary folder beside the output and renamed into place when complete.
public enum MergedCheckpoint {
    /// What was written.
    public struct Summary: Sendable, Equatable {
        public var mergedTensors: Int
        public var copiedTensors: Int
        public var shards: Int
        public var totalBytes: Int
        public var copiedFiles: [String]
    }

    /// HF transformers' default `max_shard_size` (5 GB).
    public static let defaultShardBytes = 5_000_000_000

    /// Merges `adapter` into the checkpoint at `model` and writes the result to `output` (which must not exist).
    ///
    /// - Parameters:
    ///   - dtype: dtype of the merged matrices (`.bf16` or `.f32`); nil keeps each source tensor's dtype.
    ///   - maxShardBytes: shard size limit (one tensor larger than it gets a shard of its own).
    ///   - progress: `(done, total)` over tensors.
    public static func write(model: URL, adapter: LoRAAdapter, to output: URL, dtype: DType? = nil,
                             maxShardBytes: Int = defaultShardBytes,
                             progress: ((Int, Int) -> Void)? = nil) throws -> Summary {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: model.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw QwenVLError("model folder not found: \(model.path)")
        }
        guard !fm.fileExists(atPath: output.path) else {
            throw QwenVLError("output \(output.path) already exists; remove it or choose another --output")
        }
        guard maxShardBytes > 0 else { throw QwenVLError("the shard size must be positive") }
        let configuration = try Configuration(directory: model)
        try AdapterMerge.validate(adapter, against: configuration.text)
        let store: WeightStore
        do { store = try WeightStore(directory: model) } catch let error as CheckpointError { throw QwenVLError(error.description) }

        // Tensors in name order; the adapter's targets are merged, everything else copied byte for byte.
        var used = Set<String>()
        var entries: [SafeTensorsWriter.Entry] = []
        var merged = 0
        let names = store.names.sorted()
        let total = names.count
        var done = 0
        for name in names {
            let tensor: StoredTensor
            do { tensor = try store.tensor([name]) } catch let error as CheckpointError { throw QwenVLError(error.description) }
            let byteCount = tensor.info.byteRange.count
            if name.hasSuffix(".weight"), let path = LoRAAdapter.ModulePath(String(name.dropLast(".weight".count))),
               let pair = adapter.pairs[path.key] {
                guard used.insert(path.key).inserted else {
                    throw QwenVLError("checkpoint has two tensors for \(path.key) (\(name) and another spelling)")
                }
                let target = dtype ?? tensor.info.dtype
                let shape = tensor.info.shape
                let rank = adapter.rank, scaling = adapter.scaling
                merged += 1
                entries.append(SafeTensorsWriter.Entry(name: name, dtype: target.rawValue, shape: shape) {
                    let values = try AdapterMerge.merged(tensor, pair, rank: rank, scaling: scaling)   // [out, in]
                    defer { done += 1; progress?(done, total) }
                    return encode(values.pointer, count: values.count, as: target)
                })
            } else {
                entries.append(SafeTensorsWriter.Entry(name: name, dtype: tensor.info.dtype.rawValue, shape: tensor.info.shape) {
                    defer { done += 1; progress?(done, total) }
                    return Data(bytes: tensor.pointer, count: byteCount)
                })
            }
        }
        for key in adapter.pairs.keys.sorted() where !used.contains(key) {
            throw QwenVLError("the adapter has \(key) but the checkpoint has no weight for it")
        }

        // Shards: consecutive tensors up to the size limit.
        var shards: [[SafeTensorsWriter.Entry]] = [[]]
        var shardBytes = 0
        for entry in entries {
            let size = SafeTensorsWriter.dataSize([entry])
            if !shards[shards.count - 1].isEmpty, shardBytes + size > maxShardBytes {
                shards.append([])
                shardBytes = 0
            }
            shards[shards.count - 1].append(entry)
            shardBytes += size
        }

        let parent = output.deletingLastPathComponent()
        let temporary = parent.appendingPathComponent(".\(output.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))")
        do { try fm.createDirectory(at: temporary, withIntermediateDirectories: true) } catch {
            throw QwenVLError("cannot create \(temporary.path): \(error.localizedDescription)")
        }
        var finished = false
        defer { if !finished { try? fm.removeItem(at: temporary) } }
        var copied: [String] = []
        do {
            for file in try fm.contentsOfDirectory(atPath: model.path).sorted() where !file.hasPrefix(".") {
                if file.hasSuffix(".safetensors") || file == "model.safetensors.index.json" { continue }
                let source = model.appendingPathComponent(file).resolvingSymlinksInPath()
                var isFolder: ObjCBool = false
                guard fm.fileExists(atPath: source.path, isDirectory: &isFolder), !isFolder.boolValue else { continue }
                try fm.copyItem(at: source, to: temporary.appendingPathComponent(file))
                copied.append(file)
            }
        } catch {
            throw QwenVLError("cannot copy the checkpoint's files into \(temporary.path): \(error.localizedDescription)")
        }
        let metadata = ["format": "pt"]
        do {
            if shards.count == 1 {
                try SafeTensorsWriter.write(shards[0], metadata: metadata, to: temporary.appendingPathComponent("model.safetensors"))
            } else {
                var weightMap: [String: String] = [:]
                for (index, shard) in shards.enumerated() {
                    let file = String(format: "model-%05d-of-%05d.safetensors", index + 1, shards.count)
                    try SafeTensorsWriter.write(shard, metadata: metadata, to: temporary.appendingPathComponent(file))
                    for entry in shard { weightMap[entry.name] = file }
                }
                let index: [String: Any] = ["metadata": ["total_size": SafeTensorsWriter.dataSize(entries)], "weight_map": weightMap]
                let data = try JSONSerialization.data(withJSONObject: index, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
                try data.write(to: temporary.appendingPathComponent("model.safetensors.index.json"))
            }
        } catch let error as CheckpointError {
            throw QwenVLError("writing the merged weights: \(error.description)")
        } catch let error as QwenVLError {
            throw error
        } catch {
            throw QwenVLError("writing the merged weights: \(error.localizedDescription)")
        }
        guard rename(temporary.path, output.path) == 0 else {
            throw QwenVLError("cannot move the merged checkpoint to \(output.path): \(String(cString: strerror(errno)))")
        }
        finished = true
        return Summary(mergedTensors: merged, copiedTensors: entries.count - merged, shards: shards.count,
                       totalBytes: SafeTensorsWriter.dataSize(entries), copiedFiles: copied)
    }

    /// Float32 values encoded as `dtype` (little-endian; bf16 rounds to nearest even).
    static func encode(_ values: UnsafePointer<Float>, count: Int, as dtype: DType) -> Data {
        switch dtype {
        case .f32:
            return Data(bytes: values, count: count * 4)
        case .bf16:
            var data = Data(count: count * 2)
            data.withUnsafeMutableBytes { raw in
                let out = raw.bindMemory(to: UInt16.self)
                for i in 0..<count { out[i] = floatToBF16(values[i]).littleEndian }
            }
            return data
        case .f16:
            var data = Data(count: count * 2)
            data.withUnsafeMutableBytes { raw in
                let out = raw.bindMemory(to: UInt16.self)
                for i in 0..<count { out[i] = Float16(values[i]).bitPattern.littleEndian }
            }
            return data
        }
    }
}
