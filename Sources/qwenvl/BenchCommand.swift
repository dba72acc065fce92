import ArgumentParser
import Foundation
import QwenVL
import QwenVLCore

/// `qwenvl bench`: load time, peak memory, vision, prefill and decode speed on a checkpoint, and kernel
/// micro-benchmarks.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure load time, peak RSS, vision-encode, prefill and decode speed.",
        discussion: """
        Prefill runs a synthetic prompt of --prompt-tokens ids; decode then generates --gen-tokens greedily.
        Each figure is the median of --repeats runs; GFLOP/s and GB/s are derived from the model's shapes.
        --vision-grid T,H,W times the vision encoder on random pixels of that patch grid (1,34,46 is a 644×476
        image); --image times it on a real image. --kernels adds matrix-kernel micro-benchmarks (no model needed).
        Examples:
          qwenvl bench --model ckpt-2b --weights q8 --prompt-tokens 512 --gen-tokens 64 --repeats 3
          qwenvl bench --model ckpt-2b --vision-grid 1,34,46 --threads 2 --json
          qwenvl bench --kernels
          qwenvl bench --model ckpt-2b --weights q4 --gen-tokens 32 --constraint agent
        """)

    @Option(help: "Checkpoint folder.") var model: String?
    @Option(help: "Also time the vision encoder on this image.") var image: String?
    @Option(name: .customLong("vision-grid"), help: "Also time the vision encoder on random pixels of grid T,H,W (patches).")
    var visionGrid: String?
    @Option(name: .customLong("prompt-tokens"), help: "Synthetic prompt length (0 skips prefill and decode).") var promptTokens: Int = 512
    @Option(name: .customLong("gen-tokens"), help: "Tokens to decode.") var genTokens: Int = 64
    @OptionGroup var weightOptions: WeightOptions
    @Option(help: "Worker threads for every kernel (default: all cores, or QWENVL_THREADS).") var threads: Int?
    @Option(help: "Repetitions; medians are reported.") var repeats: Int = 1
    @Flag(help: "Run matrix-kernel micro-benchmarks (bf16, f32, q8, q4 on the 2B shapes).") var kernels = false
    @Flag(name: .customLong("gemv-only"), help: "With --kernels: only the decode matrix-vector products (run with QWENVL_ISA=… per kernel set).")
    var gemvOnly = false
    @Flag(help: "Print one JSON object.") var json = false
    @Option(help: "Also decode this many sequences together (continuous batching) and report the aggregate rate.")
    var batch: Int?
    @Option(help: "Also time constrained decoding per token: agent, json-object, schema or a JSON schema file.") var constraint: String?
    @Option(name: .customLong("constraint-tokens"), help: "Constrained steps to time.") var constraintTokens: Int = 2000

    func validate() throws {
        guard promptTokens >= 0, genTokens >= 1, repeats >= 1 else { throw ValidationError("--prompt-tokens must be ≥ 0, --gen-tokens and --repeats ≥ 1") }
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be between 1 and 256") }
        if model == nil && !kernels { throw ValidationError("--model is required (or use --kernels)") }
        if model == nil && (image != nil || visionGrid != nil) { throw ValidationError("--image and --vision-grid need --model") }
        if let batch, !(1...256).contains(batch) { throw ValidationError("--batch must be between 1 and 256") }
        if let visionGrid, parseGrid(visionGrid) == nil { throw ValidationError("--vision-grid must be T,H,W with H and W even (e.g. 1,34,46)") }
    }

    func run() async throws {
        if let threads { Parallel.setThreadCount(threads) }
        var result: [String: Any] = ["threads": Parallel.threadCount, "blas_core": Parallel.blasCore,
                                     "kernel_set": KernelSet.active.isa.rawValue, "kernel_report": KernelReport.lines()]
        if !json { for line in KernelReport.lines() { say(line) } }
        if kernels { result["kernels"] = runKernels() }
        if let model {
            do { try await benchModel(model, into: &result) } catch let error as QwenVLError { throw fail(error.description) }
            if let constraint {
                do { try benchConstraint(constraint, model: model, into: &result) } catch { throw fail("--constraint: \(error)") }
            }
        }
        result["peak_rss_mib"] = peakRSSMiB()
        if json {
            let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            say(String(format: "peak RSS %.0f MiB (threads: %d, OpenBLAS kernels: %@)", peakRSSMiB(), Parallel.threadCount,
                         Parallel.blasCore as NSString))
        }
    }

    private func parseGrid(_ text: String) -> VisionGrid? {
        let parts = text.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 3, parts.allSatisfy({ $0 > 0 }), parts[1] % 2 == 0, parts[2] % 2 == 0 else { return nil }
        return VisionGrid(t: parts[0], h: parts[1], w: parts[2])
    }

    private func runKernels() -> [[String: Any]] {
        // Qwen2-VL-2B shapes: decoder gate/up [8960, 1536], down [1536, 8960], lm_head [151936, 1536];
        // ViT qkv [3840, 1280], fc1 [5120, 1280].
        var rows: [[String: Any]] = []
        func record(_ r: KernelBenchmark.Result) {
            rows.append(["name": r.name, "seconds": r.seconds, "gflops": r.gflops, "gb_per_s": r.gigabytesPerSecond, "cpu_seconds": r.cpuSeconds])
            if !json {
                let name = r.name.padding(toLength: 48, withPad: " ", startingAt: 0)
                say(name + String(format: " %9.3f ms %7.1f GFLOP/s %6.1f GB/s  (CPU %.2f× wall)", r.seconds * 1e3, r.gflops, r.gigabytesPerSecond, r.cpuSeconds / r.seconds))
            }
        }
        for encoding in [WeightEncoding.bf16, .f32, .q8, .q4] {
            record(KernelBenchmark.matrixVector(rows: 8960, cols: 1536, encoding: encoding, repeats: 40))
            record(KernelBenchmark.matrixVector(rows: 1536, cols: 8960, encoding: encoding, repeats: 40))
        }
        if gemvOnly { return rows }
        for encoding in [WeightEncoding.bf16, .f32, .q8, .q4] {
            record(KernelBenchmark.matrixMatrix(tokens: 512, rows: 8960, cols: 1536, encoding: encoding, repeats: repeats + 2))
            record(KernelBenchmark.matrixMatrix(tokens: 512, rows: 1536, cols: 8960, encoding: encoding, repeats: repeats + 2))
        }
        record(KernelBenchmark.matrixMatrix(tokens: 1564, rows: 3840, cols: 1280, encoding: .bf16, repeats: repeats + 2))
        record(KernelBenchmark.matrixMatrix(tokens: 1564, rows: 5120, cols: 1280, encoding: .bf16, repeats: repeats + 2))
        record(KernelBenchmark.attention(tokens: 512, start: 0))
        record(KernelBenchmark.attention(tokens: 1, start: 575, repeats: 50))
        return rows
    }

    private func benchModel(_ model: String, into result: inout [String: Any]) async throws {
        let weights = weightOptions.weights
        let start = Date()
        let qwen = try weightOptions.load(model)
        let loadSeconds = Date().timeIntervalSince(start)
        let rssAfterLoad = currentRSSMiB()
        let lm = qwen.languageModel
        let config = lm.config
        result["model"] = model
        result["weights"] = weights
        result["load_s"] = loadSeconds
        result["rss_after_load_mib"] = rssAfterLoad
        result["language_weight_bytes_per_token"] = lm.weightBytesPerToken
        result["vision_weight_bytes"] = qwen.visionEncoder.weightBytes
        if !json {
            say(String(format: "load %.2f s (%@ weights) | RSS after load %.0f MiB | LM weights read per token %.0f MiB, vision weights %.0f MiB",
                         loadSeconds, weights as NSString, rssAfterLoad, Double(lm.weightBytesPerToken) / 1_048_576,
                         Double(qwen.visionEncoder.weightBytes) / 1_048_576))
        }

        // Vision encoder.
        var visionTimes: [Double] = [], visionPatches = 0
        var pixels: [Float] = [], grids: [VisionGrid] = []
        if let visionGrid, let grid = parseGrid(visionGrid) {
            var rng = SamplerRNG(seed: 99)
            grids = [grid]
            pixels = (0..<(grid.patchCount * qwen.visionEncoder.config.patchValues)).map { _ in Float(rng.next() % 4096) / 1024 - 2 }
        } else if let image {
            let input = try await qwen.prepare(messages: [ChatMessage(role: "user", content: .parts([.image(ImageInput(source: image)), .text("Describe.")]))])
            (pixels, grids) = (input.imagePixels, input.imageGrids)
        }
        if !grids.isEmpty {
            visionPatches = grids.reduce(0) { $0 + $1.patchCount }
            for _ in 0..<repeats {
                let t0 = Date()
                _ = qwen.visionEncoder.encode(pixels: pixels, grids: grids)
                visionTimes.append(Date().timeIntervalSince(t0))
            }
            let vision = median(visionTimes)
            // ViT FLOPs: per patch and block 2·(4E² + 2·E·mlp) for the matrices, 4·E·N for attention; plus the merger.
            let e = Double(qwen.visionEncoder.config.embedDim), mlp = Double(qwen.visionEncoder.config.mlpHidden)
            let depth = Double(qwen.visionEncoder.config.depth)
            let n = Double(visionPatches)
            let perFrame = Double(grids.map { $0.h * $0.w }.max() ?? 0)
            // Qwen2.5-VL: SwiGLU has three MLP matrices, and windowed blocks attend over one window (≤ (cells·merge)² patches).
            let vc = qwen.visionEncoder.config
            let mlpMatrices: Double = vc.windowSize == nil ? 2 : 3
            let windowPatches = vc.cellsPerWindow.map { Double($0 * vc.spatialMergeSize * $0 * vc.spatialMergeSize) }
            let fullBlocks = vc.windowSize == nil ? depth : Double(vc.fullAttentionBlocks.count)
            let attention = fullBlocks * 4 * e * perFrame + (depth - fullBlocks) * 4 * e * min(perFrame, windowPatches ?? perFrame)
            let flops = n * (depth * 2 * (4 * e * e + mlpMatrices * e * mlp) + attention)
                + n / 4 * 2 * (16 * e * e + 4 * e * Double(qwen.visionEncoder.config.outHiddenSize))
            result["vision_s"] = vision
            result["vision_patches"] = visionPatches
            result["vision_gflops"] = flops / vision / 1e9
            if !json { say(String(format: "vision %d patches: %.2f s, %.0f patches/s, %.1f GFLOP/s", visionPatches, vision, n / vision, flops / vision / 1e9)) }
        }

        // Prefill and decode.
        guard promptTokens > 0 else { return }
        var rng = SamplerRNG(seed: 1234)
        // Ordinary BPE ids only (no specials), like a real prompt.
        let prompt = (0..<promptTokens).map { _ in Int32(rng.next() % 150_000) }
        var prefillTimes: [Double] = [], decodeTimes: [Double] = []
        var generated: [Int32] = []
        for _ in 0..<repeats {
            var cache = lm.makeCache()
            let t0 = Date()
            let hidden = lm.forward(embeddings: lm.embed(prompt), positions: PositionIDs(text: 0, count: prompt.count), cache: &cache)
            var token = Sampler.argmax(lm.logits(hidden))
            prefillTimes.append(Date().timeIntervalSince(t0))
            generated = [token]
            let t1 = Date()
            for step in 0..<genTokens {
                let h = lm.forward(embeddings: lm.embed([token]), positions: PositionIDs(text: prompt.count + step, count: 1), cache: &cache)
                token = Sampler.argmax(lm.logits(h))
                generated.append(token)
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
        result["prompt_tokens"] = promptTokens
        result["prefill_s"] = prefill
        result["prefill_tokens_per_s"] = prefillRate
        result["prefill_gflops"] = gflops
        result["gen_tokens"] = genTokens
        result["decode_s"] = decode
        result["decode_tokens_per_s"] = decodeRate
        result["decode_weight_gb_per_s"] = gbps
        result["generated_head"] = generated.prefix(8).map { Int($0) }
        if !json {
            say(String(format: "prefill %d tokens: %.2f s, %.1f tok/s, %.1f GFLOP/s", promptTokens, prefill, prefillRate, gflops))
            say(String(format: "decode %d tokens: %.2f s, %.2f tok/s, %.1f GB/s of weights", genTokens, decode, decodeRate, gbps))
        }
        if let batch { benchBatch(lm, prompt: prompt, sequences: batch, singleRate: decodeRate, into: &result) }
    }
}

/// Writes one line to stdout unbuffered, so progress shows while later measurements run.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func median(_ values: [Double]) -> Double {
    let s = values.sorted()
    guard !s.isEmpty else { return 0 }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// Peak resident set size of this process (VmHWM), in MiB.
func peakRSSMiB() -> Double { procStatusMiB("VmHWM:") }

/// Current resident set size of this process (VmRSS), in MiB.
func currentRSSMiB() -> Double { procStatusMiB("VmRSS:") }

private func procStatusMiB(_ field: String) -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix(field) {
        let kb = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
        return kb / 1024
    }
    return 0
}
