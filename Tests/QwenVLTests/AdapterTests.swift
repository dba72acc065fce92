import Foundation
import XCTest
import QwenVL
import QwenVLCore
import QwenVLTokenizer

/// PEFT LoRA adapters: loading HF PEFT 0.17.1 folders, merging at load, saving, `merge-adapter` checkpoints and
/// errors, against references from scripts/fixtures/adapter_references.py.
final class AdapterTests: XCTestCase {
    static func adapterDirectory(_ checkpoint: String) -> URL {
        Fixtures.root.appendingPathComponent("adapters").appendingPathComponent(checkpoint)
    }

    static func reference(_ checkpoint: String) throws -> [String: Any] {
        try Fixtures.json(Fixtures.reference.appendingPathComponent(checkpoint).appendingPathComponent("adapter.json")) as! [String: Any]
    }

    /// Where tests leave Swift-written adapters and merged checkpoints for scripts/check_adapters.py (HF PEFT).
    static let exportDirectory = Fixtures.root.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".build").appendingPathComponent("adapter-check")

    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qwenvl-adapter-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// The reference cases' model inputs (text case by name from text_cases.json, image case from image_cases.json).
    static func inputs(_ model: QwenVLModel, reference: [String: Any]) async throws -> [(name: String, input: ModelInput, ref: [String: Any])] {
        let textCases = try JSONValue.parse(Array(Data(contentsOf: Fixtures.reference.appendingPathComponent("text_cases.json")))).arrayValue!
        let imageCases = try JSONValue.parse(Array(Data(contentsOf: Fixtures.reference.appendingPathComponent("image_cases.json")))).arrayValue!
        let textMessages = try Fixtures.caseMessages("text_cases.json")
        let imageMessages = try Fixtures.caseMessages("image_cases.json", baseDirectory: Fixtures.root.appendingPathComponent("images"))
        var result: [(String, ModelInput, [String: Any])] = []
        for ref in reference["cases"] as! [[String: Any]] {
            let name = ref["name"] as! String
            let messages: [ChatMessage]
            if ref["kind"] as? String == "image" {
                messages = imageMessages[imageCases.firstIndex { $0["name"]?.stringValue == name }!]
            } else {
                messages = textMessages[textCases.firstIndex { $0["name"]?.stringValue == name }!]
            }
            let input = try await model.prepare(messages: messages)
            XCTAssertEqual(input.tokenIDs, Fixtures.ints(ref["prompt_token_ids"]), name)
            result.append((name, input, ref))
        }
        return result
    }

    /// Last-position logits (first `prefix` ids) and greedy tokens of `model` on `input`.
    static func run(_ model: QwenVLModel, _ input: ModelInput, tokens: Int, prefix: Int) throws -> (logits: [Float], tokens: [Int32]) {
        var greedy = GenerationParameters()
        greedy.maxTokens = tokens
        greedy.eosTokenIDs = model.generationDefaults.eosTokenIDs
        var state = model.makeState()
        let result = try model.generate(input, parameters: greedy, state: &state)
        return (Array(result.promptLogits.prefix(prefix)), result.tokenIDs)
    }

    /// max |ours − reference| / std, the std taken over the full reference vocabulary (from adapter.json).
    static func error(_ ours: [Float], _ checkpoint: String, _ entry: [String: Any]) throws -> Float {
        let (expected, _) = try NumpyFile.read(Fixtures.reference.appendingPathComponent(checkpoint).appendingPathComponent(entry["logits_file"] as! String))
        XCTAssertEqual(ours.count, expected.count)
        return zip(ours, expected).map { abs($0 - $1) }.max()! / Float(entry["logits_std"] as! Double)
    }

    // MARK: - Loading

    func testLoadsPEFTAdapterFolders() throws {
        for checkpoint in ["tiny-f32", "tiny-bf16"] {
            let adapter = try LoRAAdapter.load(from: Self.adapterDirectory(checkpoint))
            XCTAssertEqual(adapter.rank, 4)
            XCTAssertEqual(adapter.alpha, 8)
            XCTAssertEqual(adapter.scaling, 2)
            XCTAssertEqual(adapter.dropout, 0)
            XCTAssertFalse(adapter.useRSLoRA)
            XCTAssertEqual(Set(adapter.targetModules), Set(LoRAAdapter.supportedModules))
            XCTAssertEqual(adapter.baseModelPath, "Tests/Fixtures/\(checkpoint)")
            XCTAssertEqual(adapter.pairs.count, 14, checkpoint)   // 2 layers × 7 modules
            let q = try XCTUnwrap(adapter.pairs["model.layers.1.self_attn.q_proj"])
            XCTAssertEqual([q.inFeatures, q.outFeatures], [16, 16])
            let k = try XCTUnwrap(adapter.pairs["model.layers.0.self_attn.k_proj"])
            XCTAssertEqual([k.inFeatures, k.outFeatures], [16, 8])
            let down = try XCTUnwrap(adapter.pairs["model.layers.0.mlp.down_proj"])
            XCTAssertEqual([down.inFeatures, down.outFeatures, down.a.count, down.b.count], [48, 16, 4 * 48, 16 * 4])
            // Values straight from the file (BF16 widened exactly).
            let file = try SafeTensorsFile(url: Self.adapterDirectory(checkpoint).appendingPathComponent("adapter_model.safetensors"))
            let info = try XCTUnwrap(file.tensors["base_model.model.model.language_model.layers.0.mlp.down_proj.lora_B.weight"])
            XCTAssertEqual(info.dtype, checkpoint == "tiny-f32" ? .f32 : .bf16)
            var raw = [Float](repeating: 0, count: info.elementCount)
            convertToFloat(info.dtype, file.pointer(for: info), &raw, count: raw.count)
            XCTAssertEqual(down.b, raw)
            XCTAssertTrue(down.b.contains { $0 != 0 }, "the fixture's B is non-zero")
        }
    }

    // MARK: - Applying at load

    /// tiny-f32 + the F32 adapter merged at load: logits within 1e-4·std of HF PEFT's PeftModel (and of its
    /// merge_and_unload model), greedy tokens identical, for a text and an image prompt.
    func testF32AdapterMatchesPEFT() async throws {
        let reference = try Self.reference("tiny-f32")
        let prefix = reference["logits_prefix"] as! Int, tokens = reference["greedy_tokens"] as! Int
        let adapter = try LoRAAdapter.load(from: Self.adapterDirectory("tiny-f32"))
        let model = try QwenVLModel.load(from: Fixtures.checkpoint("tiny-f32"), options: LoadOptions(adapter: adapter))
        let base = try Fixtures.model("tiny-f32")
        for (name, input, ref) in try await Self.inputs(model, reference: reference) {
            let (logits, greedy) = try Self.run(model, input, tokens: tokens, prefix: prefix)
            let peft = ref["peft"] as! [String: Any], merged = ref["merged"] as! [String: Any]
            let peftError = try Self.error(logits, "tiny-f32", peft)
            let mergedError = try Self.error(logits, "tiny-f32", merged)
            print("adapter tiny-f32/\(name): logits max|Δ|/std vs PeftModel \(peftError), vs merge_and_unload \(mergedError)")
            XCTAssertLessThanOrEqual(peftError, 1e-4, name)
            XCTAssertLessThanOrEqual(mergedError, 1e-4, name)
            XCTAssertEqual(greedy, Fixtures.ints(peft["greedy_token_ids"]), "\(name) greedy")
            // The adapter is what moves the logits: the base model is far off the adapter reference.
            let (baseLogits, _) = try Self.run(base, input, tokens: 1, prefix: prefix)
            XCTAssertGreaterThan(try Self.error(baseLogits, "tiny-f32", peft), 0.05, name)
        }
    }

    /// tiny-bf16 + the BF16 adapter. Stored bf16: the f32 merge is rounded to bf16, so it matches the reference
    /// merged in f32 and rounded to bf16 within 1e-3·std (greedy identical), and the unmerged PeftModel within
    /// 3e-2·std (bf16 rounding of the merged weights; greedy may diverge after a near tie, so only the first token is
    /// compared). `--weights f32` keeps the f32 merge: within 1e-4·std of the PeftModel, greedy identical.
    func testBF16AdapterMatchesPEFT() async throws {
        let reference = try Self.reference("tiny-bf16")
        let prefix = reference["logits_prefix"] as! Int, tokens = reference["greedy_tokens"] as! Int
        let adapter = try LoRAAdapter.load(from: Self.adapterDirectory("tiny-bf16"))
        let stored = try QwenVLModel.load(from: Fixtures.checkpoint("tiny-bf16"), options: LoadOptions(adapter: adapter))
        let f32 = try QwenVLModel.load(from: Fixtures.checkpoint("tiny-bf16"), options: LoadOptions(languageWeights: .f32, adapter: adapter))
        for (name, input, ref) in try await Self.inputs(stored, reference: reference) {
            let peft = ref["peft"] as! [String: Any], merged = ref["merged"] as! [String: Any]
            let (logits, greedy) = try Self.run(stored, input, tokens: tokens, prefix: prefix)
            let mergedError = try Self.error(logits, "tiny-bf16", merged)
            let peftError = try Self.error(logits, "tiny-bf16", peft)
            XCTAssertLessThanOrEqual(mergedError, 1e-3, name)
            XCTAssertLessThanOrEqual(peftError, 3e-2, name)
            XCTAssertEqual(greedy, Fixtures.ints(merged["greedy_token_ids"]), "\(name) greedy (bf16 merge)")
            XCTAssertEqual(greedy.first, Fixtures.ints(peft["greedy_token_ids"]).first, "\(name) first token")
            let (f32Logits, f32Greedy) = try Self.run(f32, input, tokens: tokens, prefix: prefix)
            let f32Error = try Self.error(f32Logits, "tiny-bf16", peft)
            XCTAssertLessThanOrEqual(f32Error, 1e-4, name)
            XCTAssertEqual(f32Greedy, Fixtures.ints(peft["greedy_token_ids"]), "\(name) greedy (f32 merge)")
            print("adapter tiny-bf16/\(name): stored bf16 vs merged+bf16 \(mergedError), vs PeftModel \(peftError); f32 weights vs PeftModel \(f32Error)")
        }
    }

    /// q8 / q4 quantize the f32 merge: the logits equal those of the f32 merge-adapter checkpoint quantized on load,
    /// stay within QuantizationDriftTests' measured drift bounds of the PeftModel, and differ from the f32 merge.
    func testQuantizedFormatsQuantizeTheMergedWeights() async throws {
        let reference = try Self.reference("tiny-f32")
        let prefix = reference["logits_prefix"] as! Int
        let adapter = try LoRAAdapter.load(from: Self.adapterDirectory("tiny-f32"))
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let merged = dir.appendingPathComponent("merged")
        _ = try MergedCheckpoint.write(model: Fixtures.checkpoint("tiny-f32"), adapter: adapter, to: merged)
        for (format, bound) in QuantizationDriftTests.bounds {
            let model = try QwenVLModel.load(from: Fixtures.checkpoint("tiny-f32"), options: LoadOptions(languageWeights: format, adapter: adapter))
            let quantizedMerge = try QwenVLModel.load(from: merged, options: LoadOptions(languageWeights: format))
            for (name, input, ref) in try await Self.inputs(model, reference: reference) {
                let logits = try Self.run(model, input, tokens: 1, prefix: prefix).logits
                XCTAssertEqual(logits, try Self.run(quantizedMerge, input, tokens: 1, prefix: prefix).logits, "\(name) \(format)")
                let error = try Self.error(logits, "tiny-f32", ref["peft"] as! [String: Any])
                print("adapter tiny-f32/\(name) \(format): logits max|Δ|/std vs PeftModel \(error)")
                XCTAssertLessThanOrEqual(error, bound, "\(name) \(format)")
                XCTAssertGreaterThan(error, 1e-4, "\(name) \(format) must quantize")
            }
        }
    }

    /// rsLoRA (use_rslora): scaling alpha/√r, so r=4, alpha=8 merges exactly like plain LoRA with alpha 16.
    func testRSLoRAScalesByRootRank() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var adapter = try LoRAAdapter.load(from: Self.adapterDirectory("tiny-f32"))
        adapter.useRSLoRA = true
        try adapter.save(to: dir)
        let reloaded = try LoRAAdapter.load(from: dir)
        XCTAssertTrue(reloaded.useRSLoRA)
        XCTAssertEqual(reloaded.scaling, 4)
        var plain = adapter
        plain.useRSLoRA = false
        plain.alpha = 16
        let a = try QwenVLModel.load(from: Fixtures.checkpoint("tiny-f32"), options: LoadOptions(adapter: reloaded))
        let b = try QwenVLModel.load(from: Fixtures.checkpoint("tiny-f32"), options: LoadOptions(adapter: plain))
        let c = try QwenVLModel.load(from: Fixtures.checkpoint("tiny-f32"), options: LoadOptions(adapter: adapter.with(rsLoRA: false)))
        let input = ModelInput(text: "", tokenIDs: [151644, 872, 198, 9707, 151645, 198, 151644, 77091, 198])
        let la = try Self.run(a, input, tokens: 1, prefix: 151936).logits
        let lb = try Self.run(b, input, tokens: 1, prefix: 151936).logits
        let lc = try Self.run(c, input, tokens: 1, prefix: 151936).logits
        XCTAssertEqual(la, lb)
        XCTAssertNotEqual(la, lc)
    }

    // MARK: - Saving

    /// save → load is bit-identical, the file holds PEFT's tensor names, shapes and F32 bytes, and the config has
    /// exactly PEFT 0.17.1's fields and values. The saved folders are left for scripts/check_adapters.py.
    func testSaveLoadRoundTripIsBitIdentical() throws {
        for checkpoint in ["tiny-f32", "tiny-bf16"] {
            let adapter = try LoRAAdapter.load(from: Self.adapterDirectory(checkpoint))
            let dir = Self.exportDirectory.appendingPathComponent(checkpoint).appendingPathComponent("adapter")
            try? FileManager.default.removeItem(at: dir)
            try adapter.save(to: dir)
            let reloaded = try LoRAAdapter.load(from: dir)
            XCTAssertEqual(reloaded, adapter, checkpoint)
            for (key, pair) in adapter.pairs {
                XCTAssertEqual(reloaded.pairs[key]!.a.map(\.bitPattern), pair.a.map(\.bitPattern), key)
                XCTAssertEqual(reloaded.pairs[key]!.b.map(\.bitPattern), pair.b.map(\.bitPattern), key)
            }
            let ours = try SafeTensorsFile(url: dir.appendingPathComponent("adapter_model.safetensors"))
            let theirs = try SafeTensorsFile(url: Self.adapterDirectory(checkpoint).appendingPathComponent("adapter_model.safetensors"))
            XCTAssertEqual(Set(ours.tensors.keys), Set(theirs.tensors.keys))
            XCTAssertEqual(ours.metadata, ["format": "pt"])
            for (name, info) in ours.tensors {
                XCTAssertEqual(info.dtype, .f32)
                XCTAssertEqual(info.shape, theirs.tensors[name]!.shape, name)
                if checkpoint == "tiny-f32" {
                    XCTAssertEqual(Data(bytes: ours.pointer(for: info), count: info.byteRange.count),
                                   Data(bytes: theirs.pointer(for: theirs.tensors[name]!), count: info.byteRange.count), name)
                }
            }
            let ourConfig = try Fixtures.json(dir.appendingPathComponent("adapter_config.json")) as! NSDictionary
            let peftConfig = try Fixtures.json(Self.adapterDirectory(checkpoint).appendingPathComponent("adapter_config.json")) as! NSDictionary
            XCTAssertEqual(ourConfig, peftConfig, checkpoint)
            // Saving again over the folder replaces the files with the same bytes.
            let first = try Data(contentsOf: dir.appendingPathComponent("adapter_model.safetensors"))
            try reloaded.save(to: dir)
            XCTAssertEqual(try Data(contentsOf: dir.appendingPathComponent("adapter_model.safetensors")), first)
        }
    }

    // MARK: - merge-adapter

    /// MergedCheckpoint (tiny-f32 single file, tiny-bf16 sharded): our loader reads it and matches the merged
    /// reference; untouched tensors and files are byte copies; the merged folders are left for scripts/check_adapters.py.
    func testMergedCheckpointMatchesReference() async throws {
        for (checkpoint, shard, tolerance) in [("tiny-f32", MergedCheckpoint.defaultShardBytes, Float(1e-4)), ("tiny-bf16", 2_000_000, 1e-3)] {
            let reference = try Self.reference(checkpoint)
            let prefix = reference["logits_prefix"] as! Int, tokens = reference["greedy_tokens"] as! Int
            let adapter = try LoRAAdapter.load(from: Self.adapterDirectory(checkpoint))
            let output = Self.exportDirectory.appendingPathComponent(checkpoint).appendingPathComponent("merged")
            try? FileManager.default.removeItem(at: output)
            try FileManager.default.createDirectory(at: output.deletingLastPathComponent(), withIntermediateDirectories: true)
            let summary = try MergedCheckpoint.write(model: Fixtures.checkpoint(checkpoint), adapter: adapter, to: output, maxShardBytes: shard)
            XCTAssertEqual(summary.mergedTensors, 14)
            XCTAssertEqual(summary.shards, checkpoint == "tiny-f32" ? 1 : 3)
            XCTAssertTrue(summary.copiedFiles.contains("tokenizer.json") && summary.copiedFiles.contains("config.json"))
            XCTAssertThrowsError(try MergedCheckpoint.write(model: Fixtures.checkpoint(checkpoint), adapter: adapter, to: output)) {
                XCTAssertTrue("\($0)".contains("already exists"), "\($0)")
            }
            for file in summary.copiedFiles {
                XCTAssertEqual(try Data(contentsOf: output.appendingPathComponent(file)),
                               try Data(contentsOf: Fixtures.checkpoint(checkpoint).appendingPathComponent(file)), file)
            }
            let source = try WeightStore(directory: Fixtures.checkpoint(checkpoint))
            let written = try WeightStore(directory: output)
            XCTAssertEqual(Set(written.names), Set(source.names))
            for name in source.names {
                let a = try source.tensor([name]), b = try written.tensor([name])
                XCTAssertEqual(a.info.dtype, b.info.dtype, name)
                XCTAssertEqual(a.info.shape, b.info.shape, name)
                let same = Data(bytes: a.pointer, count: a.info.byteRange.count) == Data(bytes: b.pointer, count: b.info.byteRange.count)
                let isTarget = name.hasSuffix(".weight") && LoRAAdapter.ModulePath(String(name.dropLast(7))) != nil
                XCTAssertEqual(same, !isTarget, name)
            }
            let model = try QwenVLModel.load(from: output)
            for (name, input, ref) in try await Self.inputs(model, reference: reference) {
                let merged = ref["merged"] as! [String: Any]
                let (logits, greedy) = try Self.run(model, input, tokens: tokens, prefix: prefix)
                let error = try Self.error(logits, checkpoint, merged)
                print("merge-adapter \(checkpoint)/\(name): logits max|Δ|/std vs merged reference \(error)")
                XCTAssertLessThanOrEqual(error, tolerance, name)
                XCTAssertEqual(greedy, Fixtures.ints(merged["greedy_token_ids"]), "\(name) greedy")
            }
        }
        // --dtype f32 on the bf16 checkpoint: merged matrices in F32, the rest still BF16; matches the PeftModel.
        let reference = try Self.reference("tiny-bf16")
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let output = dir.appendingPathComponent("merged-f32")
        _ = try MergedCheckpoint.write(model: Fixtures.checkpoint("tiny-bf16"), adapter: try LoRAAdapter.load(from: Self.adapterDirectory("tiny-bf16")),
                                       to: output, dtype: .f32)
        let store = try WeightStore(directory: output)
        XCTAssertEqual(try store.tensor(["model.language_model.layers.0.mlp.up_proj.weight"]).info.dtype, .f32)
        XCTAssertEqual(try store.tensor(["model.language_model.layers.0.input_layernorm.weight"]).info.dtype, .bf16)
        let model = try QwenVLModel.load(from: output, options: LoadOptions(languageWeights: .f32))
        let (name, input, ref) = try await Self.inputs(model, reference: reference)[0]
        let error = try Self.error(try Self.run(model, input, tokens: 1, prefix: reference["logits_prefix"] as! Int).logits, "tiny-bf16", ref["peft"] as! [String: Any])
        XCTAssertLessThanOrEqual(error, 1e-4, name)
    }

    // MARK: - Errors

    /// Writes a copy of the tiny-f32 fixture adapter with `config` edits and tensor replacements.
    static func variant(_ dir: URL, config edit: (inout [String: Any]) -> Void = { _ in },
                        tensors: [SafeTensorsWriter.Entry]? = nil) throws -> URL {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var config = try Fixtures.json(adapterDirectory("tiny-f32").appendingPathComponent("adapter_config.json")) as! [String: Any]
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("adapter_config.json"))
        if let tensors {
            try SafeTensorsWriter.write(tensors, to: dir.appendingPathComponent("adapter_model.safetensors"))
        } else {
            try FileManager.default.copyItem(at: adapterDirectory("tiny-f32").appendingPathComponent("adapter_model.safetensors"),
                                             to: dir.appendingPathComponent("adapter_model.safetensors"))
        }
        return dir
    }

    func assertLoadError(_ dir: URL, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try LoRAAdapter.load(from: dir), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(expected), "\(error)", file: file, line: line)
            XCTAssertFalse("\(error)".contains("\n"), file: file, line: line)
        }
    }

    func testBadAdaptersGiveClearErrors() throws {
        let root = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        func dir(_ name: String) -> URL { root.appendingPathComponent(name) }
        let prefix = "base_model.model.model.language_model.layers.0.self_attn.q_proj"

        assertLoadError(dir("nothing"), "adapter folder not found")
        try FileManager.default.createDirectory(at: dir("empty"), withIntermediateDirectories: true)
        assertLoadError(dir("empty"), "has no adapter_config.json")
        let noWeights = try Self.variant(dir("no-weights"))
        try FileManager.default.removeItem(at: noWeights.appendingPathComponent("adapter_model.safetensors"))
        assertLoadError(noWeights, "has no adapter_model.safetensors")
        let badJSON = try Self.variant(dir("bad-json"))
        try Data("{\"r\": 4,".utf8).write(to: badJSON.appendingPathComponent("adapter_config.json"))
        assertLoadError(badJSON, "adapter_config.json: not valid JSON")
        assertLoadError(try Self.variant(dir("ia3")) { $0["peft_type"] = "IA3" }, "only LORA adapters are supported")
        assertLoadError(try Self.variant(dir("dora")) { $0["use_dora"] = true }, "DoRA adapters are not supported")
        assertLoadError(try Self.variant(dir("pattern")) { $0["rank_pattern"] = ["q_proj": 8] }, "per-module ranks or alphas are not supported")
        assertLoadError(try Self.variant(dir("fan")) { $0["fan_in_fan_out"] = true }, "fan_in_fan_out")
        assertLoadError(try Self.variant(dir("save")) { $0["modules_to_save"] = ["lm_head"] }, "modules_to_save")
        assertLoadError(try Self.variant(dir("rank")) { $0["r"] = 8 }, "but r is 8 in adapter_config.json")
        assertLoadError(try Self.variant(dir("zero-rank")) { $0["r"] = 0 }, "\"r\" must be a positive integer")
        assertLoadError(try Self.variant(dir("module")) { $0["target_modules"] = ["qkv", "q_proj"] }, "target module \"qkv\" is not supported")
        assertLoadError(try Self.variant(dir("head")) { $0["target_modules"] = ["lm_head"] }, "target module \"lm_head\" is not supported")
        assertLoadError(try Self.variant(dir("fewer")) { $0["target_modules"] = ["q_proj"] }, "tensors for down_proj but target_modules")
        // PEFT matches target names as path suffixes: dotted names load, and a regex string takes the tensors' modules.
        let dotted = try LoRAAdapter.load(from: try Self.variant(dir("dotted")) {
            $0["target_modules"] = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "up_proj", "down_proj"]
        })
        XCTAssertEqual(dotted.pairs, try LoRAAdapter.load(from: Self.adapterDirectory("tiny-f32")).pairs)
        let regex = try LoRAAdapter.load(from: try Self.variant(dir("regex")) { $0["target_modules"] = ".*\\.(q|k|v|o|gate|up|down)_proj" })
        XCTAssertEqual(regex.targetModules, LoRAAdapter.supportedModules)
        let a = [Float](repeating: 0.5, count: 4 * 16), b = [Float](repeating: 0.25, count: 16 * 4)
        assertLoadError(try Self.variant(dir("half"), tensors: [.f32(prefix + ".lora_A.weight", shape: [4, 16], a)]), "has lora_A but no lora_B")
        assertLoadError(try Self.variant(dir("vision"), tensors: [
            .f32("base_model.model.model.visual.blocks.0.attn.qkv.lora_A.weight", shape: [4, 32], [Float](repeating: 0, count: 128))]),
            "targets the vision tower")
        assertLoadError(try Self.variant(dir("unknown"), tensors: [
            .f32("base_model.model.model.language_model.layers.0.self_attn.rotary.lora_A.weight", shape: [4, 16], a)]), "unknown module")
        assertLoadError(try Self.variant(dir("f16"), tensors: [
            SafeTensorsWriter.Entry(name: prefix + ".lora_A.weight", dtype: "F16", shape: [4, 16]) { Data(count: 128) },
            .f32(prefix + ".lora_B.weight", shape: [16, 4], b)]), "must be F32 or BF16")
        assertLoadError(try Self.variant(dir("i32"), tensors: [
            SafeTensorsWriter.Entry(name: prefix + ".lora_A.weight", dtype: "I32", shape: [4, 16]) { Data(count: 256) }]), "unsupported dtype 'I32'")
        let truncated = try Self.variant(dir("truncated"))
        let bytes = try Data(contentsOf: truncated.appendingPathComponent("adapter_model.safetensors"))
        try bytes.prefix(bytes.count / 2).write(to: truncated.appendingPathComponent("adapter_model.safetensors"))
        assertLoadError(truncated, "out of range")

        // Shapes that load but do not fit the model.
        let wide = try LoRAAdapter.load(from: try Self.variant(dir("wide"), tensors: [
            .f32(prefix + ".lora_A.weight", shape: [4, 17], [Float](repeating: 0, count: 68)), .f32(prefix + ".lora_B.weight", shape: [16, 4], b)]))
        XCTAssertThrowsError(try QwenVLModel.load(from: Fixtures.checkpoint("tiny-f32"), options: LoadOptions(adapter: wide))) {
            XCTAssertTrue("\($0)".contains("but the model's weight is [16, 16]"), "\($0)")
        }
        let deep = try LoRAAdapter.load(from: try Self.variant(dir("deep"), tensors: [
            .f32("base_model.model.model.language_model.layers.7.self_attn.q_proj.lora_A.weight", shape: [4, 16], a),
            .f32("base_model.model.model.language_model.layers.7.self_attn.q_proj.lora_B.weight", shape: [16, 4], b)]))
        XCTAssertThrowsError(try QwenVLModel.load(from: Fixtures.checkpoint("tiny-f32"), options: LoadOptions(adapter: deep))) {
            XCTAssertTrue("\($0)".contains("is in layer 7 but the model has 2 layers"), "\($0)")
        }
        XCTAssertThrowsError(try MergedCheckpoint.write(model: Fixtures.checkpoint("tiny-f32"), adapter: deep, to: dir("merged"))) {
            XCTAssertTrue("\($0)".contains("is in layer 7"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir("merged").path))
        // Legacy tensor spelling (model.layers...) and .default. names load to the same pairs.
        let legacy = try LoRAAdapter.load(from: try Self.variant(dir("legacy"), tensors: [
            .f32("base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight", shape: [4, 16], a),
            .f32("base_model.model.model.layers.0.self_attn.q_proj.lora_B.default.weight", shape: [16, 4], b)]))
        XCTAssertEqual(legacy.pairs, ["model.layers.0.self_attn.q_proj": LoRAAdapter.Pair(a: a, b: b, inFeatures: 16, outFeatures: 16)])
        // An inconsistent value is refused on save.
        var broken = legacy
        broken.pairs["model.layers.0.self_attn.q_proj"]!.a.removeLast()
        XCTAssertThrowsError(try broken.save(to: dir("broken"))) { XCTAssertTrue("\($0)".contains("need [4, 16] and [16, 4]"), "\($0)") }
    }

    // MARK: - CLI

    /// `qwenvl generate --adapter`: the dumped logits and greedy tokens match the PeftModel; a bad folder is a one-line
    /// error; `merge-adapter` writes a checkpoint `generate` reads with the same result.
    func testGenerateAdapterFlagAndMergeAdapterCommand() throws {
        let cli = CLI()
        let reference = try Self.reference("tiny-f32")
        let textCase = (reference["cases"] as! [[String: Any]]).first { $0["kind"] as? String == "text" }!
        let peft = textCase["peft"] as! [String: Any]
        let casesText = try JSONValue.parse(Array(Data(contentsOf: Fixtures.reference.appendingPathComponent("text_cases.json")))).arrayValue!
        let messages = casesText.first { $0["name"]?.stringValue == textCase["name"] as? String }!["messages"]!
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let messagesURL = dir.appendingPathComponent("messages.json")
        try Data(CLITests.serialize(messages).utf8).write(to: messagesURL)
        let merged = dir.appendingPathComponent("merged")
        let merge = try cli.run(["merge-adapter", "--model", Fixtures.checkpoint("tiny-f32").path, "--adapter", Self.adapterDirectory("tiny-f32").path,
                                 "--output", merged.path])
        XCTAssertEqual(merge.status, 0, merge.stderr)
        XCTAssertTrue(merge.stderr.contains("merged 14 matrices"), merge.stderr)
        for arguments in [["--model", Fixtures.checkpoint("tiny-f32").path, "--adapter", Self.adapterDirectory("tiny-f32").path],
                          ["--model", merged.path]] {
            let logitsURL = dir.appendingPathComponent("logits.npy")
            let r = try cli.run(["generate"] + arguments + ["--messages", messagesURL.path, "--temperature", "0", "--repetition-penalty", "1",
                                                            "--max-tokens", "\(reference["greedy_tokens"] as! Int)", "--json", "--dump-logits", logitsURL.path])
            XCTAssertEqual(r.status, 0, r.stderr)
            let object = try JSONSerialization.jsonObject(with: Data((r.stdout.split(separator: "\n").last.map(String.init) ?? "").utf8)) as! [String: Any]
            XCTAssertEqual(Fixtures.ints(object["token_ids"]), Fixtures.ints(peft["greedy_token_ids"]), arguments.joined(separator: " "))
            let (dumped, _) = try NumpyFile.read(logitsURL)
            XCTAssertLessThanOrEqual(try Self.error(Array(dumped.prefix(reference["logits_prefix"] as! Int)), "tiny-f32", peft), 1e-4)
        }
        let missing = try cli.run(["generate", "--model", Fixtures.checkpoint("tiny-f32").path, "--adapter", dir.appendingPathComponent("none").path, "--prompt", "hi"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("adapter folder not found"), missing.stderr)
        XCTAssertEqual(missing.stderr.trimmingCharacters(in: .newlines).split(separator: "\n").count, 1, missing.stderr)
        let again = try cli.run(["merge-adapter", "--model", Fixtures.checkpoint("tiny-f32").path, "--adapter", Self.adapterDirectory("tiny-f32").path,
                                 "--output", merged.path, "--dtype", "f32"])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("already exists"), again.stderr)
        let badDType = try cli.run(["merge-adapter", "--model", "m", "--adapter", "a", "--output", "o", "--dtype", "f16"])
        XCTAssertNotEqual(badDType.status, 0)
        XCTAssertTrue(badDType.stderr.contains("--dtype must be bf16 or f32"), badDType.stderr)
    }
}

/// Runs the built `qwenvl` (as CLITests does).
struct CLI {
    func run(_ arguments: [String]) throws -> CLITests.Run {
        try CLITests.run(arguments)
    }
}

extension LoRAAdapter {
    /// A copy with `useRSLoRA` set.
    func with(rsLoRA: Bool) -> LoRAAdapter { var copy = self; copy.useRSLoRA = rsLoRA; return copy }
}
