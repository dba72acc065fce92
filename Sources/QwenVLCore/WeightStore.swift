import Foundation

/// All safetensors tensors of a checkpoint folder, single-file or sharded, memory-mapped.
///
/// Sharded checkpoints are resolved through `model.safetensors.index.json` (`weight_map`: tensor → shard), never by
/// guessing shard contents. Lookups accept several candidate names so the legacy (`model.`, `visual.`) and the
/// transformers-5 (`model.language_model.`, `model.visual.`) layouts both load.
public final class WeightStore: Sendable {
    /// The folder the checkpoint was read from.
    public let directory: URL
    private let files: [SafeTensorsFile]
    /// Tensor name → (file index, info).
    private let entries: [String: (Int, TensorInfo)]

    /// Opens `model.safetensors` or the shards listed by `model.safetensors.index.json` in `directory`.
    public init(directory: URL) throws {
        self.directory = directory
        let fm = FileManager.default
        let index = directory.appendingPathComponent("model.safetensors.index.json")
        let single = directory.appendingPathComponent("model.safetensors")
        var shardNames: [String] = []
        var weightMap: [String: String]? = nil
        if fm.fileExists(atPath: index.path) {
            let data: Data
            do { data = try Data(contentsOf: index) } catch {
                throw CheckpointError("model.safetensors.index.json: cannot read (\(error.localizedDescription))")
            }
            guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                throw CheckpointError("model.safetensors.index.json: not valid JSON")
            }
            guard let map = object["weight_map"] as? [String: String] else {
                throw CheckpointError("model.safetensors.index.json: missing or invalid \"weight_map\"")
            }
            weightMap = map
            shardNames = Array(Set(map.values)).sorted()
        } else if fm.fileExists(atPath: single.path) {
            shardNames = ["model.safetensors"]
        } else {
            throw CheckpointError("no weights in \(directory.path): missing model.safetensors (or model.safetensors.index.json)")
        }
        var files: [SafeTensorsFile] = []
        var entries: [String: (Int, TensorInfo)] = [:]
        for (fileIndex, shard) in shardNames.enumerated() {
            let url = directory.appendingPathComponent(shard)
            guard fm.fileExists(atPath: url.path) else {
                throw CheckpointError("missing weight shard \(shard) (listed in model.safetensors.index.json)")
            }
            let file = try SafeTensorsFile(url: url)
            files.append(file)
            for (name, info) in file.tensors {
                if let map = weightMap, map[name] != shard { continue }
                entries[name] = (fileIndex, info)
            }
        }
        if let map = weightMap {
            for (name, shard) in map.sorted(by: { $0.key < $1.key }) where entries[name] == nil {
                throw CheckpointError("tensor '\(name)' is listed in model.safetensors.index.json under \(shard) but that file does not contain it")
            }
        }
        self.files = files
        self.entries = entries
    }

    /// Every tensor name.
    public var names: [String] { Array(entries.keys) }

    /// Whether any of `candidates` exists.
    public func contains(_ candidates: [String]) -> Bool { candidates.contains { entries[$0] != nil } }

    /// The first tensor found among `candidates`, checked against `shape` when given.
    public func tensor(_ candidates: [String], shape: [Int]? = nil) throws -> StoredTensor {
        for name in candidates {
            guard let (fileIndex, info) = entries[name] else { continue }
            if let shape, shape != info.shape {
                throw CheckpointError("tensor '\(name)' has shape \(info.shape), expected \(shape) from config.json")
            }
            return StoredTensor(info: info, pointer: files[fileIndex].pointer(for: info), owner: files[fileIndex])
        }
        throw CheckpointError("missing tensor '\(candidates[0])' in \(directory.lastPathComponent)")
    }
}

/// A tensor inside a mapped file: its info and a pointer to its raw bytes, kept alive by `owner`.
public struct StoredTensor: @unchecked Sendable {
    public let info: TensorInfo
    public let pointer: UnsafeRawPointer
    let owner: AnyObject

    /// The tensor converted to Float32 (vectors and small tensors).
    public func floats() -> [Float] {
        [Float](unsafeUninitializedCapacity: info.elementCount) { buffer, count in
            convertToFloat(info.dtype, pointer, buffer.baseAddress!, count: info.elementCount)
            count = info.elementCount
        }
    }
}
