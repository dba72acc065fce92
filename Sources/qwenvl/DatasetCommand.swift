import ArgumentParser
import Foundation
import QwenVL

/// `qwenvl dataset`: tokenize a JSONL of conversations into safetensors training shards.
struct DatasetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataset",
        abstract: "Tokenize a JSONL of conversations into supervised fine-tuning shards (safetensors).",
        discussion: """
        Each line is {"messages": [...]} (OpenAI / qwen-vl-utils format) or ShareGPT style {"conversations": \
        [{"from": "human"|"gpt"|"system", "value": "...<image>..."}], "image"|"images": ..., "video"|"videos": ...}. \
        Labels are -100 except each assistant turn's content and its closing <|im_end|>. Media paths are relative \
        to the JSONL file. Writes OUTDIR/shard-00000.safetensors … and OUTDIR/dataset.json.
        Example: qwenvl dataset --model Qwen2-VL-2B-Instruct --input train.jsonl --output train-shards --pack-to 4096
        """)

    @Option(help: "Checkpoint folder (tokenizer, chat template, preprocessor and config are used).") var model: String
    @Option(help: "JSONL file of conversations.") var input: String
    @Option(help: "Output folder for the shards and dataset.json.") var output: String
    @Option(name: .customLong("shard-size"), help: "Examples (packed sequences with --pack-to) per shard file.") var shardSize = 256
    @Option(name: .customLong("pack-to"), help: "Pack examples greedily into sequences of at most N tokens.") var packTo: Int?
    @Flag(help: "With --pack-to: cut examples longer than N instead of rejecting them.") var truncate = false
    @Flag(help: "Stop at the first rejected row and exit non-zero (no shard is left behind).") var strict = false
    @OptionGroup var pixels: PixelOptions
    @OptionGroup var videoOptions: VideoOptions

    func validate() throws {
        if shardSize < 1 { throw ValidationError("--shard-size must be ≥ 1") }
        if let packTo, packTo < 1 { throw ValidationError("--pack-to must be ≥ 1") }
        if truncate && packTo == nil { throw ValidationError("--truncate needs --pack-to N") }
    }

    func run() async throws {
        let outputURL = URL(fileURLWithPath: output)
        var written: [URL] = []
        do {
            let inputURL = URL(fileURLWithPath: input)
            guard FileManager.default.isReadableFile(atPath: inputURL.path) else { throw QwenVLError("input file not found: \(input)") }
            let qwen = try QwenVLModel.load(from: URL(fileURLWithPath: model))
            try FileManager.default.createDirectory(at: outputURL, withIntermediateDirectories: true)
            let options = SFTDatasetOptions(maxPixelsCap: pixels.maxPixels ?? PixelOptions.defaultCap, minPixels: pixels.minPixels,
                                            fps: videoOptions.fps, maxFrames: videoOptions.maxFrames,
                                            videoTotalPixels: videoOptions.videoTotalPixels, packTo: packTo, truncate: truncate)
            let dataset = SFTDataset(model: qwen, options: options)
            var packer = packTo.map { SequencePacker(capacity: $0) }
            var pending: [SFTExample] = []
            var shards: [[String: Any]] = []
            var rejected: [SFTRowRejection] = []
            var counts = (conversations: 0, examples: 0, tokens: 0, supervised: 0)
            func flush(all: Bool) throws {
                while pending.count >= shardSize || (all && !pending.isEmpty) {
                    let batch = Array(pending.prefix(shardSize))
                    pending.removeFirst(batch.count)
                    let name = String(format: "shard-%05d.safetensors", shards.count)
                    let url = outputURL.appendingPathComponent(name)
                    try SFTShard.write(batch, to: url)
                    written.append(url)
                    shards.append(["file": name, "examples": batch.count])
                }
            }
            func add(_ example: SFTExample) throws {
                counts.examples += 1
                counts.tokens += example.count
                counts.supervised += example.supervisedCount
                pending.append(example)
                try flush(all: false)
            }
            let bar = ProgressBar()
            defer { bar.finish() }
            let lineCount = (try? Data(contentsOf: inputURL))?.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) } ?? 0
            let rows = try await dataset.forEachRow(in: inputURL) { line, result in
                switch result {
                case .failure(let rejection):
                    rejected.append(rejection)
                    bar.finish()
                    printError(rejection.description)
                    if strict { throw QwenVLError("\(input) \(rejection) (--strict)") }
                case .success(let example):
                    counts.conversations += 1
                    if packer != nil {
                        if let done = try packer!.add(example) { try add(done) }
                    } else {
                        try add(example)
                    }
                }
                bar.update("tokenizing rows", min(line, max(lineCount, 1)), max(lineCount, 1))
            }
            if let last = packer?.finish() { try add(last) }
            try flush(all: true)
            guard counts.conversations > 0 else {
                throw QwenVLError("no valid row in \(input) (\(rows) rows, \(rejected.count) rejected)")
            }
            let summary: [String: Any] = [
                "format": SFTShard.format, "model": model, "input": input,
                "rows": rows, "rejected": rejected.count, "conversations": counts.conversations,
                "examples": counts.examples, "tokens": counts.tokens, "supervised_tokens": counts.supervised,
                "pack_to": packTo.map { $0 as Any } ?? NSNull(), "shards": shards,
                "rejected_lines": rejected.map { ["line": $0.line, "reason": $0.reason] as [String: Any] },
            ]
            let json = try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
            try SFTShard.writeFile(json + Data("\n".utf8), to: outputURL.appendingPathComponent("dataset.json"))
            removeStaleShards(in: outputURL, keeping: Set(written.map(\.lastPathComponent)))
            print("\(counts.examples) examples from \(counts.conversations) of \(rows) rows (\(rejected.count) rejected), \(counts.tokens) tokens, \(counts.supervised) supervised, \(shards.count) shard\(shards.count == 1 ? "" : "s") in \(output)")
        } catch let error as QwenVLError {
            for url in written { try? FileManager.default.removeItem(at: url) }
            throw fail(error.description)
        }
    }

    /// Removes `shard-NNNNN.safetensors` files a previous, larger run left in the folder.
    private func removeStaleShards(in folder: URL, keeping: Set<String>) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        for name in names where name.hasPrefix("shard-") && name.hasSuffix(".safetensors") && !keeping.contains(name) {
            try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))
        }
    }
}
