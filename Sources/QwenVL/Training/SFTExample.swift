import Foundation
import QwenVLCore

/// One tokenized supervised example (or a packed run of several), ready for training.
///
/// `labels` follow the HF convention: equal to `inputIDs` on supervised positions and -100 elsewhere (the model
/// shifts them internally). Packed runs keep each example's positions as it would have alone; `sequenceStarts`
/// marks where each packed example begins so attention never crosses one.
public struct SFTExample: Sendable, Equatable {
    /// Token ids: [n].
    public var inputIDs: [Int32]
    /// Supervised targets: [n], -100 where not supervised.
    public var labels: [Int32]
    /// M-RoPE t/h/w ids: [3][n].
    public var positions: PositionIDs
    /// Start offsets of packed examples: [k]; `[0]` when unpacked.
    public var sequenceStarts: [Int32]
    /// Image grids (t, h, w) in prompt order: [m].
    public var imageGrids: [VisionGrid]
    /// Image patch rows: [Σ patches, 1176] as `ModelInput.imagePixels`.
    public var imagePixels: [Float]
    /// Video grids in prompt order: [v].
    public var videoGrids: [VisionGrid]
    /// Video patch rows: [Σ patches, 1176].
    public var videoPixels: [Float]

    /// The label of positions that carry no loss.
    public static let ignoredLabel: Int32 = -100

    public init(inputIDs: [Int32], labels: [Int32], positions: PositionIDs, sequenceStarts: [Int32] = [0],
                imageGrids: [VisionGrid] = [], imagePixels: [Float] = [],
                videoGrids: [VisionGrid] = [], videoPixels: [Float] = []) {
        self.inputIDs = inputIDs
        self.labels = labels
        self.positions = positions
        self.sequenceStarts = sequenceStarts
        self.imageGrids = imageGrids
        self.imagePixels = imagePixels
        self.videoGrids = videoGrids
        self.videoPixels = videoPixels
    }

    /// Tokens in the example (or packed run).
    public var count: Int { inputIDs.count }
    /// Tokens that carry a label.
    public var supervisedCount: Int { labels.reduce(0) { $0 + ($1 == Self.ignoredLabel ? 0 : 1) } }
}

/// A shard file of examples (safetensors, readable by PyTorch `safetensors.torch.load_file`).
///
/// Per example `i` (6-digit zero-padded): `{i}.input_ids` I32 [n], `{i}.labels` I32 [n], `{i}.position_ids`
/// I32 [3, n], `{i}.sequence_starts` I32 [k], and when present `{i}.image_grid_thw` I32 [m, 3],
/// `{i}.pixel_values` F32 [patches, 1176], `{i}.video_grid_thw` I32 [v, 3], `{i}.pixel_values_videos`
/// F32 [patches, 1176]. `__metadata__` is `{"format": "qwenvl-sft-1", "examples": "<count>"}`.
public enum SFTShard {
    /// The `format` value in a shard's metadata.
    public static let format = "qwenvl-sft-1"
    /// Floats per patch row: channels · temporal patch · patch² = 3 · 2 · 14 · 14.
    public static let patchRowWidth = 1176

    /// Writes `examples` to `url` atomically (temporary file in the same folder, then rename).
    public static func write(_ examples: [SFTExample], to url: URL) throws {
        var tensors: [SafeTensorsWriter.Entry] = []
        for (index, example) in examples.enumerated() {
            let n = example.inputIDs.count
            guard example.labels.count == n, example.positions.count == n else {
                throw QwenVLError("SFT example \(index): \(n) input ids but \(example.labels.count) labels and \(example.positions.count) positions")
            }
            guard example.imagePixels.count % patchRowWidth == 0, example.videoPixels.count % patchRowWidth == 0 else {
                throw QwenVLError("SFT example \(index): pixel rows are not a multiple of \(patchRowWidth) floats")
            }
            let prefix = name(index)
            tensors.append(.i32("\(prefix).input_ids", shape: [n], example.inputIDs))
            tensors.append(.i32("\(prefix).labels", shape: [n], example.labels))
            let positions = (example.positions.t + example.positions.h + example.positions.w).map { Int32($0) }  // [3, n]
            tensors.append(.i32("\(prefix).position_ids", shape: [3, n], positions))
            tensors.append(.i32("\(prefix).sequence_starts", shape: [example.sequenceStarts.count], example.sequenceStarts))
            if !example.imageGrids.isEmpty || !example.imagePixels.isEmpty {
                tensors.append(.i32("\(prefix).image_grid_thw", shape: [example.imageGrids.count, 3], flatten(example.imageGrids)))
                tensors.append(.f32("\(prefix).pixel_values", shape: [example.imagePixels.count / patchRowWidth, patchRowWidth], example.imagePixels))
            }
            if !example.videoGrids.isEmpty || !example.videoPixels.isEmpty {
                tensors.append(.i32("\(prefix).video_grid_thw", shape: [example.videoGrids.count, 3], flatten(example.videoGrids)))
                tensors.append(.f32("\(prefix).pixel_values_videos", shape: [example.videoPixels.count / patchRowWidth, patchRowWidth], example.videoPixels))
            }
        }
        do {
            try SafeTensorsWriter.write(tensors, metadata: ["format": format, "examples": String(examples.count)], to: url)
        } catch let error as CheckpointError {
            throw QwenVLError("\(url.path): \(error.description)")
        }
    }

    /// Reads every example of the shard at `url`; a file that is not a valid shard gets an error naming the problem.
    public static func read(_ url: URL) throws -> [SFTExample] {
        let file = url.lastPathComponent
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw QwenVLError("\(file): cannot read the shard (\(error.localizedDescription))")
        }
        let (metadata, tensors) = try ShardTensorFile.decode(data, fileName: file)
        guard metadata["format"] == format else {
            throw QwenVLError("\(file): not an SFT shard (metadata format is \(metadata["format"].map { "'\($0)'" } ?? "missing"), expected '\(format)')")
        }
        guard let countText = metadata["examples"], let count = Int(countText), count >= 0 else {
            throw QwenVLError("\(file): shard metadata has no valid 'examples' count")
        }
        var used = 0
        var examples: [SFTExample] = []
        examples.reserveCapacity(count)
        for index in 0..<count {
            let prefix = name(index)
            func tensor(_ key: String, required: Bool = true) throws -> ShardTensorFile.Tensor? {
                guard let value = tensors["\(prefix).\(key)"] else {
                    if required { throw QwenVLError("\(file): example \(index) has no '\(prefix).\(key)' tensor") }
                    return nil
                }
                used += 1
                return value
            }
            func ints(_ key: String, shape check: ([Int]) -> Bool, required: Bool = true) throws -> [Int32]? {
                guard let value = try tensor(key, required: required) else { return nil }
                guard case .int32(let array) = value.values else {
                    throw QwenVLError("\(file): '\(prefix).\(key)' must be I32")
                }
                guard check(value.shape) else {
                    throw QwenVLError("\(file): '\(prefix).\(key)' has an unexpected shape \(value.shape)")
                }
                return array
            }
            func floats(_ key: String) throws -> [Float]? {
                guard let value = try tensor(key, required: false) else { return nil }
                guard case .float32(let array) = value.values else {
                    throw QwenVLError("\(file): '\(prefix).\(key)' must be F32")
                }
                guard value.shape.count == 2, value.shape[1] == patchRowWidth else {
                    throw QwenVLError("\(file): '\(prefix).\(key)' has shape \(value.shape), expected [patches, \(patchRowWidth)]")
                }
                return array
            }
            let ids = try ints("input_ids", shape: { $0.count == 1 })!
            let n = ids.count
            let labels = try ints("labels", shape: { $0 == [n] })!
            let positions = try ints("position_ids", shape: { $0 == [3, n] })!
            let starts = try ints("sequence_starts", shape: { $0.count == 1 })!
            guard starts.first == 0, zip(starts, starts.dropFirst()).allSatisfy({ $0 < $1 }), (starts.last ?? 0) < max(n, 1) else {
                throw QwenVLError("\(file): '\(prefix).sequence_starts' \(starts) must start at 0 and increase within \(n) tokens")
            }
            let imageGrids = try grids(ints("image_grid_thw", shape: { $0.count == 2 && $0[1] == 3 }, required: false))
            let imagePixels = try floats("pixel_values") ?? []
            let videoGrids = try grids(ints("video_grid_thw", shape: { $0.count == 2 && $0[1] == 3 }, required: false))
            let videoPixels = try floats("pixel_values_videos") ?? []
            for (kind, grid, pixels) in [("image", imageGrids, imagePixels), ("video", videoGrids, videoPixels)] {
                let patches = grid.reduce(0) { $0 + $1.patchCount }
                guard patches * patchRowWidth == pixels.count else {
                    throw QwenVLError("\(file): example \(index) has \(pixels.count / patchRowWidth) \(kind) patch rows but its grids need \(patches)")
                }
            }
            let position = PositionIDs(t: positions[0..<n].map(Int.init), h: positions[n..<(2 * n)].map(Int.init),
                                       w: positions[(2 * n)..<(3 * n)].map(Int.init))
            examples.append(SFTExample(inputIDs: ids, labels: labels, positions: position, sequenceStarts: starts,
                                       imageGrids: imageGrids, imagePixels: imagePixels,
                                       videoGrids: videoGrids, videoPixels: videoPixels))
        }
        guard used == tensors.count else {
            let known = Set((0..<count).map(name))
            let stray = tensors.keys.filter { !known.contains(String($0.prefix(while: { $0 != "." }))) }.sorted()
            throw QwenVLError("\(file): tensors outside the \(count) examples the metadata declares: \(stray.prefix(3).joined(separator: ", "))")
        }
        return examples
    }

    /// Writes any file (e.g. a dataset summary) atomically: temporary file in the same folder, then rename.
    public static func writeFile(_ data: Data, to url: URL) throws {
        do {
            try data.write(to: url, options: .atomic)
        } catch {
            throw QwenVLError("\(url.path): cannot write (\(error.localizedDescription))")
        }
    }

    /// The tensor-name prefix of example `index`: six zero-padded digits.
    static func name(_ index: Int) -> String {
        let digits = String(index)
        return String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    private static func flatten(_ grids: [VisionGrid]) -> [Int32] {
        grids.flatMap { [Int32($0.t), Int32($0.h), Int32($0.w)] }  // [m, 3]
    }

    private static func grids(_ values: [Int32]?) throws -> [VisionGrid] {
        guard let values else { return [] }
        return stride(from: 0, to: values.count, by: 3).map {
            VisionGrid(t: Int(values[$0]), h: Int(values[$0 + 1]), w: Int(values[$0 + 2]))
        }
    }
}
