import Foundation
import QwenVLCore

/// Low-rank updates for some of the language model's linear layers (PEFT LoRA: W' = W + (alpha/r)·B·A).
///
/// Stored on disk in HF PEFT 0.17.1's format: `adapter_config.json` (`peft_type` LORA, `r`, `lora_alpha`,
/// `target_modules`, ...) and `adapter_model.safetensors` with tensors
/// `base_model.model.model.language_model.layers.{l}.self_attn.q_proj.lora_A.weight` (`[r, in]`) and `...lora_B.weight`
/// (`[out, r]`). Loading also accepts the legacy `base_model.model.model.layers.{l}...` spelling, `.default.` adapter
/// names, BF16 tensors and rsLoRA (`use_rslora`: scaling alpha/√r); DoRA, per-module rank/alpha patterns, LoRA
/// biases, `fan_in_fan_out`, `modules_to_save` and vision-tower targets are refused with an error naming the option.
public struct LoRAAdapter: Sendable, Equatable {
    /// One module's low-rank factors.
    public struct Pair: Sendable, Equatable {
        public var a: [Float]     // [rank, inFeatures]   (PEFT lora_A.weight)
        public var b: [Float]     // [outFeatures, rank]  (PEFT lora_B.weight)
        public var inFeatures: Int, outFeatures: Int

        public init(a: [Float], b: [Float], inFeatures: Int, outFeatures: Int) {
            self.a = a; self.b = b; self.inFeatures = inFeatures; self.outFeatures = outFeatures
        }
    }

    public var rank: Int
    public var alpha: Float
    public var dropout: Float
    public var targetModules: [String]          // e.g. ["q_proj","k_proj","v_proj","o_proj","gate_proj","up_proj","down_proj"]
    public var pairs: [String: Pair]            // key: module path without ".weight", e.g. "model.layers.3.self_attn.q_proj"
    /// rsLoRA (`use_rslora`): scaling alpha/√r instead of alpha/r.
    public var useRSLoRA: Bool
    /// Update scale applied to B·A: alpha/r (alpha/√r with rsLoRA).
    public var scaling: Float { useRSLoRA ? alpha / Float(rank).squareRoot() : alpha / Float(rank) }
    public var baseModelPath: String?

    /// The seven linear layers of a Qwen2 decoder layer LoRA may target, by their PEFT module names.
    public static let supportedModules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    /// The file names of an adapter folder.
    public static let configFile = "adapter_config.json", weightsFile = "adapter_model.safetensors"

    public init(rank: Int, alpha: Float, dropout: Float, targetModules: [String], pairs: [String: Pair],
                baseModelPath: String? = nil, useRSLoRA: Bool = false) {
        self.rank = rank; self.alpha = alpha; self.dropout = dropout; self.targetModules = targetModules
        self.pairs = pairs; self.baseModelPath = baseModelPath; self.useRSLoRA = useRSLoRA
    }

    // MARK: - Names

    /// A module key's parts: layer index, block (`self_attn` / `mlp`) and projection name.
    public struct ModulePath: Sendable, Hashable {
        public var layer: Int
        public var block: String
        public var name: String

        /// `model.layers.{l}.{block}.{name}`: the key of ``LoRAAdapter/pairs``.
        public var key: String { "model.layers.\(layer).\(block).\(name)" }
        /// The tensor-name prefix PEFT 0.17.1 writes for Qwen2VLForConditionalGeneration with transformers 4.57.6.
        public var peftPrefix: String { "base_model.model.model.language_model.layers.\(layer).\(block).\(name)" }

        /// Parses a module path in any of the spellings checkpoints use (`model.layers...`,
        /// `model.language_model.layers...`, `language_model.model.layers...`); nil when it is not a decoder linear.
        public init?(_ path: String) {
            let prefixes = ["model.language_model.layers.", "model.layers.", "language_model.model.layers.", "language_model.layers."]
            guard let prefix = prefixes.first(where: { path.hasPrefix($0) }) else { return nil }
            let parts = path.dropFirst(prefix.count).split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 3, let layer = Int(parts[0]), layer >= 0, String(layer) == parts[0] else { return nil }
            let block = String(parts[1]), name = String(parts[2])
            let valid = (block == "self_attn" && ["q_proj", "k_proj", "v_proj", "o_proj"].contains(name))
                || (block == "mlp" && ["gate_proj", "up_proj", "down_proj"].contains(name))
            guard valid else { return nil }
            self.layer = layer; self.block = block; self.name = name
        }
    }

    // MARK: - Load

    /// Reads a PEFT LoRA adapter folder (`adapter_config.json` + `adapter_model.safetensors`), F32 or BF16 tensors.
    ///
    /// Every error names the file and the problem: missing files, invalid JSON, a non-LoRA `peft_type`, unsupported
    /// options, unknown tensor names, missing A/B halves, shapes that disagree with `r` or each other, other dtypes.
    public static func load(from directory: URL) throws -> LoRAAdapter {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw QwenVLError("adapter folder not found: \(directory.path)")
        }
        let configURL = directory.appendingPathComponent(configFile)
        guard fm.fileExists(atPath: configURL.path) else {
            throw QwenVLError("adapter folder \(directory.path) has no \(configFile) (a PEFT LoRA adapter folder has adapter_config.json and adapter_model.safetensors)")
        }
        let data: Data
        do { data = try Data(contentsOf: configURL) } catch {
            throw QwenVLError("\(configFile): cannot read (\(error.localizedDescription))")
        }
        guard let json = try? JSONSerialization.jsonObject(with: data) else {
            throw QwenVLError("\(configFile): not valid JSON")
        }
        guard let config = json as? [String: Any] else { throw QwenVLError("\(configFile): not a JSON object") }
        let settings = try Settings(config)

        let weightsURL = directory.appendingPathComponent(weightsFile)
        guard fm.fileExists(atPath: weightsURL.path) else {
            if fm.fileExists(atPath: directory.appendingPathComponent("adapter_model.bin").path) {
                throw QwenVLError("adapter folder \(directory.path) has adapter_model.bin (a pickle) but no \(weightsFile): re-save it with safe_serialization=True")
            }
            throw QwenVLError("adapter folder \(directory.path) has no \(weightsFile)")
        }
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(url: weightsURL) } catch let error as CheckpointError {
            throw QwenVLError("adapter: \(error.description)")
        }
        var halves: [ModulePath: (a: TensorInfo?, b: TensorInfo?)] = [:]
        for name in file.tensors.keys.sorted() {
            let info = file.tensors[name]!
            let (path, isA) = try parseTensorName(name)
            var entry = halves[path] ?? (nil, nil)
            if isA { entry.a = info } else { entry.b = info }
            halves[path] = entry
            guard info.dtype == .f32 || info.dtype == .bf16 else {
                throw QwenVLError("\(weightsFile): tensor '\(name)' is \(info.dtype.rawValue); adapter tensors must be F32 or BF16")
            }
            guard info.shape.count == 2 else {
                throw QwenVLError("\(weightsFile): tensor '\(name)' has shape \(info.shape), expected a matrix")
            }
        }
        guard !halves.isEmpty else { throw QwenVLError("\(weightsFile): no LoRA tensors") }
        var pairs: [String: Pair] = [:]
        for (path, entry) in halves {
            guard let a = entry.a else { throw QwenVLError("\(weightsFile): \(path.peftPrefix) has lora_B but no lora_A") }
            guard let b = entry.b else { throw QwenVLError("\(weightsFile): \(path.peftPrefix) has lora_A but no lora_B") }
            guard a.shape[0] == settings.rank else {
                throw QwenVLError("\(weightsFile): \(a.name) has shape \(a.shape) but r is \(settings.rank) in \(configFile) (expected [\(settings.rank), in_features])")
            }
            guard b.shape[1] == settings.rank else {
                throw QwenVLError("\(weightsFile): \(b.name) has shape \(b.shape) but r is \(settings.rank) in \(configFile) (expected [out_features, \(settings.rank)])")
            }
            guard settings.targetModulesPattern || settings.targetModules.contains(where: { $0.split(separator: ".").last.map(String.init) == path.name }) else {
                throw QwenVLError("\(weightsFile): tensors for \(path.name) but target_modules in \(configFile) is \(settings.targetModules)")
            }
            pairs[path.key] = Pair(a: floats(file, a), b: floats(file, b), inFeatures: a.shape[1], outFeatures: b.shape[0])
        }
        // A regular-expression target_modules (a string) is recorded as the module names it actually matched.
        let targets = settings.targetModulesPattern
            ? supportedModules.filter { name in halves.keys.contains { $0.name == name } }
            : settings.targetModules
        return LoRAAdapter(rank: settings.rank, alpha: settings.alpha, dropout: settings.dropout, targetModules: targets,
                           pairs: pairs, baseModelPath: settings.baseModelPath, useRSLoRA: settings.useRSLoRA)
    }

    /// The validated options of an `adapter_config.json`.
    private struct Settings {
        var rank: Int
        var alpha: Float
        var dropout: Float
        var targetModules: [String]
        var targetModulesPattern = false
        var baseModelPath: String?
        var useRSLoRA: Bool

        init(_ config: [String: Any]) throws {
            let file = LoRAAdapter.configFile
            func error(_ message: String) -> QwenVLError { QwenVLError("\(file): \(message)") }
            func isNull(_ key: String) -> Bool { config[key] == nil || config[key] is NSNull }
            func isEmpty(_ key: String) -> Bool {
                if isNull(key) { return true }
                if let dictionary = config[key] as? [String: Any] { return dictionary.isEmpty }
                if let array = config[key] as? [Any] { return array.isEmpty }
                return false
            }
            func flag(_ key: String) throws -> Bool {
                if isNull(key) { return false }
                guard let value = config[key] as? Bool else { throw error("\"\(key)\" must be true or false") }
                return value
            }
            guard let type = config["peft_type"] as? String else { throw error("missing \"peft_type\" (not a PEFT adapter?)") }
            guard type.uppercased() == "LORA" else { throw error("peft_type is \"\(type)\"; only LORA adapters are supported") }
            guard let r = LoRAAdapter.integer(config["r"]), r > 0 else { throw error("\"r\" must be a positive integer") }
            rank = r
            guard let a = LoRAAdapter.number(config["lora_alpha"] ?? 8) else { throw error("\"lora_alpha\" must be a number") }   // PEFT's default 8
            alpha = Float(a)
            if isNull("lora_dropout") { dropout = 0 } else {
                guard let d = LoRAAdapter.number(config["lora_dropout"]), d >= 0, d < 1 else { throw error("\"lora_dropout\" must be a number in [0, 1)") }
                dropout = Float(d)
            }
            if let list = config["target_modules"] as? [Any] {
                let names = list.compactMap { $0 as? String }
                guard names.count == list.count, !names.isEmpty else { throw error("\"target_modules\" must be a non-empty list of module names") }
                // PEFT matches a name as a suffix of the module path ("q_proj", "self_attn.q_proj", full paths).
                for name in names where !LoRAAdapter.supportedModules.contains(String(name.split(separator: ".").last ?? "")) {
                    throw error("target module \"\(name)\" is not supported: LoRA applies to the language model's \(LoRAAdapter.supportedModules.joined(separator: ", "))")
                }
                targetModules = names
            } else if config["target_modules"] is String {
                // A regular expression (or "all-linear"): the tensors present decide; their names are checked below.
                targetModules = []
                targetModulesPattern = true
            } else {
                throw error("missing or invalid \"target_modules\"")
            }
            if try flag("use_dora") { throw error("use_dora is true: DoRA adapters are not supported (only plain LoRA)") }
            if try flag("fan_in_fan_out") { throw error("fan_in_fan_out is true: only the nn.Linear layout (fan_in_fan_out false) is supported") }
            if try flag("lora_bias") { throw error("lora_bias is true: LoRA bias terms are not supported") }
            if try flag("use_qalora") { throw error("use_qalora is true: QA-LoRA adapters are not supported") }
            if let bias = config["bias"] as? String, bias != "none" { throw error("bias is \"\(bias)\": only \"none\" is supported") }
            for key in ["rank_pattern", "alpha_pattern"] where !isEmpty(key) {
                throw error("\"\(key)\" is set: per-module ranks or alphas are not supported")
            }
            if !isEmpty("modules_to_save") { throw error("\"modules_to_save\" is set: fully tuned modules are not supported, only LoRA pairs") }
            if !isEmpty("target_parameters") { throw error("\"target_parameters\" is set: only target_modules adapters are supported") }
            if !isEmpty("trainable_token_indices") { throw error("\"trainable_token_indices\" is set: trainable token embeddings are not supported") }
            if !isEmpty("layer_replication") { throw error("\"layer_replication\" is set: not supported") }
            useRSLoRA = try flag("use_rslora")
            baseModelPath = config["base_model_name_or_path"] as? String
        }
    }

    /// Maps a PEFT tensor name to its module and whether it is the A half; errors name anything else.
    static func parseTensorName(_ name: String) throws -> (ModulePath, isA: Bool) {
        let file = weightsFile
        if name.contains("lora_magnitude_vector") { throw QwenVLError("\(file): tensor '\(name)' is a DoRA magnitude: DoRA adapters are not supported") }
        if name.contains("lora_embedding_") { throw QwenVLError("\(file): tensor '\(name)' is an embedding LoRA: not supported") }
        var rest = name
        guard rest.hasPrefix("base_model.model.") else {
            throw QwenVLError("\(file): tensor '\(name)' is not a PEFT LoRA tensor (expected base_model.model.<module>.lora_A.weight)")
        }
        rest.removeFirst("base_model.model.".count)
        var isA = false
        var matched = false
        for (suffix, a) in [(".lora_A.weight", true), (".lora_B.weight", false), (".lora_A.default.weight", true), (".lora_B.default.weight", false)]
        where rest.hasSuffix(suffix) {
            rest.removeLast(suffix.count)
            isA = a
            matched = true
            break
        }
        guard matched else {
            if name.hasSuffix(".bias") { throw QwenVLError("\(file): tensor '\(name)' is a LoRA bias: not supported") }
            throw QwenVLError("\(file): tensor '\(name)' is not a LoRA A/B weight (modules_to_save or other extra weights are not supported)")
        }
        guard let path = ModulePath(rest) else {
            if rest.contains("visual") {
                throw QwenVLError("\(file): tensor '\(name)' targets the vision tower (\(rest)): only the language model's q/k/v/o/gate/up/down projections are supported")
            }
            throw QwenVLError("\(file): tensor '\(name)': unknown module '\(rest)' (expected model.language_model.layers.<l>.self_attn.{q,k,v,o}_proj or .mlp.{gate,up,down}_proj)")
        }
        return (path, isA)
    }

    private static func floats(_ file: SafeTensorsFile, _ info: TensorInfo) -> [Float] {
        [Float](unsafeUninitializedCapacity: info.elementCount) { buffer, count in
            convertToFloat(info.dtype, file.pointer(for: info), buffer.baseAddress!, count: info.elementCount)
            count = info.elementCount
        }
    }

    /// Whether a JSONSerialization value is `true`/`false` (on Linux every NSNumber 0 or 1 also casts to Bool).
    private static func isBoolean(_ value: Any?) -> Bool {
        guard let value else { return false }
        if let number = value as? NSNumber { return String(cString: number.objCType) == "c" || "\(type(of: value))".contains("Boolean") }
        return value is Bool
    }

    private static func number(_ value: Any?) -> Double? {
        if isBoolean(value) { return nil }
        if let number = value as? NSNumber, number.doubleValue.isFinite { return number.doubleValue }
        if let double = value as? Double, double.isFinite { return double }
        return nil
    }

    private static func integer(_ value: Any?) -> Int? {
        if isBoolean(value) { return nil }
        if let double = value as? Double, double != double.rounded() { return nil }
        if let int = value as? Int { return int }
        if let double = value as? Double, double == double.rounded(), abs(double) < 1e9 { return Int(double) }
        return nil
    }

    // MARK: - Save

    /// Checks the adapter's own consistency (rank, factor sizes, module names) before it is saved or applied.
    public func validate() throws {
        guard rank > 0 else { throw QwenVLError("LoRA adapter: rank must be positive (got \(rank))") }
        guard alpha.isFinite else { throw QwenVLError("LoRA adapter: alpha must be finite") }
        guard !pairs.isEmpty else { throw QwenVLError("LoRA adapter: no LoRA pairs") }
        for (key, pair) in pairs {
            guard let path = ModulePath(key), path.key == key else {
                throw QwenVLError("LoRA adapter: unknown module key '\(key)' (expected model.layers.<l>.self_attn.{q,k,v,o}_proj or .mlp.{gate,up,down}_proj)")
            }
            guard pair.inFeatures > 0, pair.outFeatures > 0,
                  pair.a.count == rank * pair.inFeatures, pair.b.count == pair.outFeatures * rank else {
                throw QwenVLError("LoRA adapter: \(key) has A of \(pair.a.count) and B of \(pair.b.count) values; rank \(rank), in \(pair.inFeatures), out \(pair.outFeatures) need [\(rank), \(pair.inFeatures)] and [\(pair.outFeatures), \(rank)]")
            }
        }
    }

    /// Writes the adapter as HF PEFT 0.17.1 does: `adapter_config.json` and `adapter_model.safetensors` (F32).
    ///
    /// The folder is created if needed; each file is written to a temporary name and renamed into place.
    public func save(to directory: URL) throws {
        try validate()
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: directory.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw QwenVLError("cannot save the adapter: \(directory.path) is a file") }
        } else {
            do { try fm.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
                throw QwenVLError("cannot create adapter folder \(directory.path): \(error.localizedDescription)")
            }
        }
        var entries: [SafeTensorsWriter.Entry] = []
        for (key, pair) in pairs {
            let prefix = ModulePath(key)!.peftPrefix
            entries.append(.f32(prefix + ".lora_A.weight", shape: [rank, pair.inFeatures], pair.a))
            entries.append(.f32(prefix + ".lora_B.weight", shape: [pair.outFeatures, rank], pair.b))
        }
        do {
            try SafeTensorsWriter.write(entries, metadata: ["format": "pt"], to: directory.appendingPathComponent(Self.weightsFile))
        } catch let error as CheckpointError {
            throw QwenVLError("cannot save the adapter: \(error.description)")
        }
        do {
            try configJSON().write(to: directory.appendingPathComponent(Self.configFile), options: .atomic)
        } catch {
            throw QwenVLError("cannot write \(Self.configFile) in \(directory.path): \(error.localizedDescription)")
        }
    }

    /// `adapter_config.json` with the fields PEFT 0.17.1 writes for a LoRA adapter.
    func configJSON() throws -> Data {
        func value(_ x: Float) -> Any { x == x.rounded() && abs(x) < 1e9 ? Int(x) as Any : Double("\(x)")! as Any }
        let null = NSNull()
        let config: [String: Any] = [
            "alpha_pattern": [String: Any](), "auto_mapping": null,
            "base_model_name_or_path": baseModelPath.map { $0 as Any } ?? null,
            "bias": "none", "corda_config": null, "eva_config": null, "exclude_modules": null,
            "fan_in_fan_out": false, "inference_mode": true, "init_lora_weights": true,
            "layer_replication": null, "layers_pattern": null, "layers_to_transform": null, "loftq_config": [String: Any](),
            "lora_alpha": value(alpha), "lora_bias": false, "lora_dropout": Double("\(dropout)")!,
            "megatron_config": null, "megatron_core": "megatron.core", "modules_to_save": null,
            "peft_type": "LORA", "qalora_group_size": 16, "r": rank, "rank_pattern": [String: Any](), "revision": null,
            "target_modules": targetModules, "target_parameters": null, "task_type": "CAUSAL_LM",
            "trainable_token_indices": null, "use_dora": false, "use_qalora": false, "use_rslora": useRSLoRA,
        ]
        return try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }
}
