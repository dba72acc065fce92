import Foundation

/// The Qwen2-VL `config.json`, read from either layout.
///
/// The hub checkpoints use the flat layout (text keys at the top level, `rope_scaling`); transformers 5 nests the
/// text keys under `text_config` and the rotary keys under `rope_parameters`. Absent keys take the transformers
/// class defaults (the hub `vision_config` lists only three keys and relies on them).
public struct Configuration: Sendable, Equatable {
    public var modelType: String
    /// Qwen2-VL or Qwen2.5-VL (from `model_type`).
    public var family: ModelFamily
    public var text: TextConfiguration
    public var vision: VisionConfiguration
    public var imageTokenID: Int32
    public var videoTokenID: Int32
    public var visionStartTokenID: Int32
    public var visionEndTokenID: Int32
    public var eosTokenIDs: [Int32]

    /// Model types this runtime implements (the registry key).
    public static let supportedModelTypes = ModelFamily.allCases.map(\.rawValue)

    /// Parses and validates `config.json` data.
    public init(data: Data) throws {
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw QwenVLError("config.json: not valid JSON")
        }
        guard let modelType = root["model_type"] as? String else {
            throw QwenVLError("config.json: missing \"model_type\"")
        }
        guard Self.supportedModelTypes.contains(modelType) else {
            throw QwenVLError("config.json: unsupported model_type '\(modelType)' (supported: \(Self.supportedModelTypes.joined(separator: ", ")))")
        }
        self.modelType = modelType
        family = ModelFamily(rawValue: modelType)!
        let textDict = root["text_config"] as? [String: Any] ?? [:]
        let reader = ConfigReader(primary: textDict, fallback: root, section: "config.json")
        text = try TextConfiguration(reader)
        let visionDict = root["vision_config"] as? [String: Any] ?? [:]
        vision = try VisionConfiguration(ConfigReader(primary: visionDict, fallback: [:], section: "config.json vision_config"),
                                         family: family)
        imageTokenID = try reader.int32("image_token_id", default: 151655)
        videoTokenID = try reader.int32("video_token_id", default: 151656)
        visionStartTokenID = try reader.int32("vision_start_token_id", default: 151652)
        visionEndTokenID = try reader.int32("vision_end_token_id", default: 151653)
        eosTokenIDs = try reader.int32List("eos_token_id", default: [151645])
        if vision.outHiddenSize != text.hiddenSize {
            let key = family == .qwen25VL ? "out_hidden_size" : "hidden_size"
            throw QwenVLError("config.json: vision_config.\(key) (\(vision.outHiddenSize)) must equal the text hidden_size (\(text.hiddenSize))")
        }
    }

    /// Reads `config.json` from a checkpoint folder.
    public init(directory: URL) throws {
        let url = directory.appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw QwenVLError("missing config.json in \(directory.path)")
        }
        try self.init(data: data)
    }
}

/// The Qwen2 decoder's hyper-parameters.
public struct TextConfiguration: Sendable, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var headDim: Int
    public var rmsNormEps: Float
    public var ropeTheta: Double
    /// Rotary frequencies per axis (t, h, w); sums to headDim / 2.
    public var mropeSection: [Int]
    public var maxPositionEmbeddings: Int
    public var tieWordEmbeddings: Bool

    init(_ r: ConfigReader) throws {
        vocabSize = try r.int("vocab_size", default: 152064)
        hiddenSize = try r.int("hidden_size", default: 8192)
        intermediateSize = try r.int("intermediate_size", default: 29568)
        layerCount = try r.int("num_hidden_layers", default: 80)
        headCount = try r.int("num_attention_heads", default: 64)
        kvHeadCount = try r.int("num_key_value_heads", default: headCount)
        rmsNormEps = Float(try r.double("rms_norm_eps", default: 1e-5))
        maxPositionEmbeddings = try r.int("max_position_embeddings", default: 32768)
        tieWordEmbeddings = try r.bool("tie_word_embeddings", default: false)
        let rope = (r.value("rope_parameters") ?? r.value("rope_scaling")) as? [String: Any] ?? [:]
        let ropeReader = ConfigReader(primary: rope, fallback: [:], section: r.section + " rope")
        ropeTheta = try ropeReader.double("rope_theta", default: try r.double("rope_theta", default: 1_000_000))
        for (key, value) in [("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
                             ("num_hidden_layers", layerCount), ("num_attention_heads", headCount), ("num_key_value_heads", kvHeadCount)]
        where value <= 0 {
            throw QwenVLError("\(r.section): \(key) must be positive (got \(value))")
        }
        guard hiddenSize % headCount == 0 else {
            throw QwenVLError("\(r.section): num_attention_heads (\(headCount)) must divide hidden_size (\(hiddenSize))")
        }
        guard headCount % kvHeadCount == 0 else {
            throw QwenVLError("\(r.section): num_key_value_heads (\(kvHeadCount)) must divide num_attention_heads (\(headCount))")
        }
        headDim = hiddenSize / headCount
        guard headDim % 2 == 0 else { throw QwenVLError("\(r.section): head dimension \(headDim) must be even") }
        mropeSection = try ropeReader.intList("mrope_section", default: [16, 24, 24])
        guard mropeSection.count == 3, mropeSection.allSatisfy({ $0 >= 0 }), mropeSection.reduce(0, +) == headDim / 2 else {
            throw QwenVLError("\(r.section): mrope_section \(mropeSection) must be three parts summing to head_dim/2 = \(headDim / 2)")
        }
    }
}

/// The vision tower's hyper-parameters (transformers class defaults for absent keys).
public struct VisionConfiguration: Sendable, Equatable {
    public var depth: Int
    public var embedDim: Int
    public var headCount: Int
    public var mlpRatio: Double
    public var outHiddenSize: Int
    public var inChannels: Int
    public var patchSize: Int
    public var temporalPatchSize: Int
    public var spatialMergeSize: Int
    /// Qwen2.5-VL: SwiGLU MLP width (`intermediate_size`); nil for Qwen2-VL (QuickGELU, `mlp_ratio`).
    public var intermediateSize: Int?
    /// Qwen2.5-VL: window side in pixels (`window_size`, 112 in the releases); nil: no window attention.
    public var windowSize: Int?
    /// Qwen2.5-VL: blocks that attend over the whole frame (`fullatt_block_indexes`); the others are windowed.
    public var fullAttentionBlocks: [Int] = []
    /// Qwen2.5-VL: temporal position ids per second of video (`tokens_per_second`).
    public var tokensPerSecond: Int?

    /// MLP hidden width: `intermediate_size` (Qwen2.5-VL) or embedDim · mlpRatio (Qwen2-VL).
    public var mlpHidden: Int { intermediateSize ?? Int(Double(embedDim) * mlpRatio) }
    /// Merged cells per window side: `window_size // merge // patch` (HF `vit_merger_window_size`).
    public var cellsPerWindow: Int? { windowSize.map { $0 / spatialMergeSize / patchSize } }
    /// Values per patch row: C·T·P·P.
    public var patchValues: Int { inChannels * temporalPatchSize * patchSize * patchSize }

    init(_ r: ConfigReader, family: ModelFamily) throws {
        depth = try r.int("depth", default: 32)
        headCount = try r.int("num_heads", default: 16)
        mlpRatio = try r.double("mlp_ratio", default: 4)
        switch family {
        case .qwen2VL:
            embedDim = try r.int("embed_dim", default: 1280)
            outHiddenSize = try r.int("hidden_size", default: 3584)
        case .qwen25VL:
            // Qwen2_5_VLVisionConfig: `hidden_size` is the ViT width, `out_hidden_size` the merger's output.
            embedDim = try r.int("hidden_size", default: 3584)
            outHiddenSize = try r.int("out_hidden_size", default: 3584)
            intermediateSize = try r.int("intermediate_size", default: 3420)
            windowSize = try r.int("window_size", default: 112)
            fullAttentionBlocks = try r.intList("fullatt_block_indexes", default: [7, 15, 23, 31])
            tokensPerSecond = try r.int("tokens_per_second", default: 4)
        }
        inChannels = try r.int("in_chans", default: try r.int("in_channels", default: 3))
        patchSize = try r.int("spatial_patch_size", default: try r.int("patch_size", default: 14))
        temporalPatchSize = try r.int("temporal_patch_size", default: 2)
        spatialMergeSize = try r.int("spatial_merge_size", default: 2)
        guard embedDim > 0, headCount > 0, embedDim % headCount == 0, (embedDim / headCount) % 4 == 0 else {
            throw QwenVLError("\(r.section): num_heads (\(headCount)) must divide embed_dim (\(embedDim)) into head dims divisible by 4")
        }
        for (key, value) in [("depth", depth), ("patch_size", patchSize), ("temporal_patch_size", temporalPatchSize),
                             ("spatial_merge_size", spatialMergeSize), ("in_chans", inChannels)] where value <= 0 {
            throw QwenVLError("\(r.section): \(key) must be positive (got \(value))")
        }
        if family == .qwen25VL {
            guard mlpHidden > 0 else { throw QwenVLError("\(r.section): intermediate_size must be positive (got \(mlpHidden))") }
            guard let cells = cellsPerWindow, cells > 0 else {
                throw QwenVLError("\(r.section): window_size (\(windowSize ?? 0)) must be at least spatial_merge_size × patch_size (\(spatialMergeSize * patchSize))")
            }
            if let bad = fullAttentionBlocks.first(where: { $0 < 0 || $0 >= depth }) {
                throw QwenVLError("\(r.section): fullatt_block_indexes has \(bad), outside 0..<\(depth)")
            }
            guard (tokensPerSecond ?? 0) >= 0 else { throw QwenVLError("\(r.section): tokens_per_second must not be negative") }
        }
    }
}

/// Typed access to a JSON object with a fallback object and errors that name the key.
struct ConfigReader {
    let primary: [String: Any]
    let fallback: [String: Any]
    let section: String

    func value(_ key: String) -> Any? {
        if let v = primary[key], !(v is NSNull) { return v }
        if let v = fallback[key], !(v is NSNull) { return v }
        return nil
    }

    func int(_ key: String, default def: Int) throws -> Int {
        guard let v = value(key) else { return def }
        if let i = v as? Int { return i }
        if let d = v as? Double, d == d.rounded(), abs(d) < 1e15 { return Int(d) }
        throw QwenVLError("\(section): \"\(key)\" must be an integer")
    }

    func int32(_ key: String, default def: Int32) throws -> Int32 {
        let v = try int(key, default: Int(def))
        guard let r = Int32(exactly: v) else { throw QwenVLError("\(section): \"\(key)\" out of range") }
        return r
    }

    func double(_ key: String, default def: Double) throws -> Double {
        guard let v = value(key) else { return def }
        if let d = v as? Double { return d }
        if let i = v as? Int { return Double(i) }
        throw QwenVLError("\(section): \"\(key)\" must be a number")
    }

    func bool(_ key: String, default def: Bool) throws -> Bool {
        guard let v = value(key) else { return def }
        if let b = v as? Bool { return b }
        throw QwenVLError("\(section): \"\(key)\" must be true or false")
    }

    func intList(_ key: String, default def: [Int]) throws -> [Int] {
        guard let v = value(key) else { return def }
        if let list = v as? [Any] {
            return try list.map { item in
                if let i = item as? Int { return i }
                if let d = item as? Double, d == d.rounded() { return Int(d) }
                throw QwenVLError("\(section): \"\(key)\" must be a list of integers")
            }
        }
        return [try int(key, default: 0)]
    }

    func int32List(_ key: String, default def: [Int32]) throws -> [Int32] {
        try intList(key, default: def.map(Int.init)).map { v in
            guard let r = Int32(exactly: v) else { throw QwenVLError("\(section): \"\(key)\" out of range") }
            return r
        }
    }
}
