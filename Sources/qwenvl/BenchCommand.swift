import ArgumentParser
import Foundation
import QwenVL
import QwenVLCore

/// `qwenvl bench`: load time, peak memory, vision, prefill and decode speed on a checkpoint.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure load time, peak RSS, vision-encode, prefill and decode speed.",
        discussion: """
        Prefill runs a synthetic prompt of --prompt-tokens ids; decode then generates --gen-tokens greedily.
        Each figure is the median of --repeats runs; GFLOP/s and GB/s are derived from the model's shapes.
        Example: qwenvl bench --model ckpt-2b --prompt-tokens 512 --gen-tokens 64 --image photo.jpg --json
        """)

    @Option(help: "Checkpoint folder.") var model: String
    @Option(help: "Also time the vision encoder on this image.") var image: String?
    @Option(name: .customLong("prompt-tokens"), help: "Synthetic prompt length.") var promptTokens: Int = 512
    @Option(name: .customLong("gen-tokens"), help: "Tokens to decode.") var genTokens: Int = 64
    @Option(help: "Weight format: bf16 (as stored) or f32.") var weights: String = "bf16"
    @Option(help: "Worker threads (default: all cores; also QWENVL_THREADS).") var threads: Int?
    @Option(help: "Repetitions; medians are reported.") var repeats: Int = 1
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        guard promptTokens >= 1, genTokens >= 1, repeats >= 1 else { throw ValidationError("counts must be ≥ 1") }
        guard ["bf16", "f32"].contains(weights) else { throw ValidationError("--weights must be bf16 or f32 (q8/q4 are not implemented yet)") }
        if threads != nil { throw ValidationError("--threads: set QWENVL_THREADS in the environment for now") }
    }

    func run() async throws {
        do { try await execute() } catch let error as QwenVLError { throw fail(error.description) }
    }

    private func execute() async throws {
        let start = Date()
        let format: WeightFormat = weights == "f32" ? .f32 : .stored
        let qwen = try QwenVLModel.load(from: URL(fileURLWithPath: model), options: LoadOptions(languageWeights: format))
        let loadSeconds = Date().timeIntervalSince(start)
        let lm = qwen.languageModel
        let config = lm.config
        var rng = SamplerRNG(seed: 1234)
        // Ordinary BPE ids only (no specials), like a real prompt.
        let prompt = (0..<promptTokens).map { _ in Int32(rng.next() % 150_000) }
        var prefillTimes: [Double] = [], decodeTimes: [Double] = []
        var visionTimes: [Double] = [], visionPatches = 0
        for _ in 0..<repeats {
            if let image {
                let input = try await qwen.prepare(messages: [ChatMessage(role: "user", content: .parts([.image(ImageInput(source: image)), .text("Describe.")]))])
                visionPatches = input.imageGrids.reduce(0) { $0 + $1.patchCount }
                let t0 = Date()
                _ = qwen.visionEncoder.encode(pixels: input.imagePixels, grids: input.imageGrids)
                visionTimes.append(Date().timeIntervalSince(t0))
            }
            var cache = lm.makeCache()
            let t0 = Date()
            let hidden = lm.forward(embeddings: lm.embed(prompt), positions: PositionIDs(text: 0, count: prompt.count), cache: &cache)
            var token = Sampler.argmax(lm.logits(hidden))
            prefillTimes.append(Date().timeIntervalSince(t0))
            let t1 = Date()
            for step in 0..<genTokens {
                let h = lm.forward(embeddings: lm.embed([token]), positions: PositionIDs(text: prompt.count + step, count: 1), cache: &cache)
                token = Sampler.argmax(lm.logits(h))
            }
            decodeTimes.append(Date().timeIntervalSince(t1))
        }
        let prefill = median(prefillTimes), decode = median(decodeTimes)
        let prefillRate = Double(promptTokens) / prefill, decodeRate = Double(genTokens) / decode
        // FLOPs per prompt token: 2 × (parameters touched per token) + attention (QKᵀ and PV, causal ≈ n/2 keys).
        let h = Double(config.hiddenSize), kvd = Double(config.kvHeadCount * config.headDim), inter = Double(config.intermediateSize)
        let perLayer = 2 * (h * h * 2 + 2 * h * kvd + 3 * h * inter)
        let attention = 2 * 2 * Double(config.headCount * config.headDim) * Double(promptTokens) / 2
        let prefillFlops = (perLayer + attention) * Double(config.layerCount) * Double(promptTokens)
        let gflops = prefillFlops / prefill / 1e9
        let gbps = Double(lm.weightBytesPerToken) * decodeRate / 1e9
        let vision = visionTimes.isEmpty ? nil : median(visionTimes)
        var result: [String: Any] = [
            "model": model, "weights": weights, "threads": ProcessInfo.processInfo.environment["QWENVL_THREADS"] ?? "all",
            "load_s": loadSeconds, "peak_rss_mib": peakRSSMiB(),
            "prompt_tokens": promptTokens, "prefill_s": prefill, "prefill_tokens_per_s": prefillRate, "prefill_gflops": gflops,
            "gen_tokens": genTokens, "decode_s": decode, "decode_tokens_per_s": decodeRate, "decode_weight_gb_per_s": gbps,
            "weight_bytes_per_token": lm.weightBytesPerToken,
        ]
        if let vision {
            result["vision_s"] = vision
            result["vision_patches"] = visionPatches
            result["vision_patches_per_s"] = Double(visionPatches) / vision
        }
        if json {
            let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(String(format: "load %.2f s | peak RSS %.0f MiB", loadSeconds, peakRSSMiB()))
            if let vision { print(String(format: "vision %.2f s (%d patches, %.0f patches/s)", vision, visionPatches, Double(visionPatches) / vision)) }
            print(String(format: "prefill %d tokens: %.2f s, %.1f tok/s, %.1f GFLOP/s", promptTokens, prefill, prefillRate, gflops))
            print(String(format: "decode %d tokens: %.2f s, %.2f tok/s, %.1f GB/s of weights", genTokens, decode, decodeRate, gbps))
        }
    }
}

func median(_ values: [Double]) -> Double {
    let s = values.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// Peak resident set size of this process (VmHWM), in MiB.
func peakRSSMiB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
        return kb / 1024
    }
    return 0
}
