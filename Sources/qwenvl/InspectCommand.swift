import ArgumentParser
import Foundation
import QwenVLCore
import QwenVL

/// `qwenvl inspect`: what the model would see of each image (sizes, grid, tokens), without running it.
struct InspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show each image's original size, resized size, patch grid and token count.",
        discussion: "Example: qwenvl inspect --model Qwen2-VL-2B-Instruct --image a.jpg --image b.png --max-pixels 401408")

    @Option(help: "Checkpoint folder (its config.json and preprocessor_config.json are read).") var model: String
    @Option(help: "Image path or URL (repeatable).") var image: [String] = []
    @Option(help: "Video path (repeatable): duration, fps, sampled frames, frame size, grid, tokens.") var video: [String] = []
    @OptionGroup var pixels: PixelOptions
    @OptionGroup var videoOptions: VideoOptions
    @Flag(help: "Print JSON lines instead of a table.") var json = false

    func validate() throws {
        if image.isEmpty && video.isEmpty { throw ValidationError("give at least one --image or --video") }
    }

    func run() async throws {
        do {
            let directory = URL(fileURLWithPath: model)
            let configuration = try Configuration(directory: directory)
            let preprocessor = try PreprocessorConfiguration(directory: directory)
            var processor = ImageProcessor(minPixels: pixels.minPixels ?? preprocessor.minPixels,
                                           maxPixels: min(preprocessor.maxPixels, pixels.maxPixels ?? PixelOptions.defaultCap))
            processor.minPixels = min(processor.minPixels, processor.maxPixels)
            processor.patchSize = configuration.vision.patchSize
            processor.mergeSize = configuration.vision.spatialMergeSize
            let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
            var total = 0
            let family = configuration.family
            if !json { print("model: \(family.displayName) (model_type \(family.rawValue), \(family.architecture))") }
            for path in image {
                let prepared = try await processor.prepare(ImageInput(source: ChatMessage.resolvePath(path, cwd)))
                total += prepared.tokenCount
                let g = prepared.grid
                if json {
                    let object: [String: Any] = [
                        "image": path, "original": [prepared.originalWidth, prepared.originalHeight],
                        "resized": [prepared.resizedWidth, prepared.resizedHeight], "grid_thw": [g.t, g.h, g.w],
                        "patches": g.patchCount, "tokens": prepared.tokenCount,
                        "family": family.displayName, "model_type": family.rawValue,
                    ]
                    print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self))
                } else {
                    print("\(path): \(prepared.originalWidth)×\(prepared.originalHeight) → \(prepared.resizedWidth)×\(prepared.resizedHeight), grid (t,h,w) = (\(g.t), \(g.h), \(g.w)), \(g.patchCount) patches, \(prepared.tokenCount) tokens")
                }
            }
            for path in video {
                let prepared = try await VideoProcessor(imageProcessor: processor).prepare(videoOptions.videoInput(ChatMessage.resolvePath(path, cwd)))
                total += prepared.tokenCount
                let g = prepared.grid
                if json {
                    var object: [String: Any] = [
                        "video": path, "total_frames": prepared.totalFrames, "sampled_frames": prepared.indices.count,
                        "indices": prepared.indices, "frame_size": [prepared.frameWidth, prepared.frameHeight],
                        "grid_thw": [g.t, g.h, g.w], "patches": g.patchCount, "tokens": prepared.tokenCount,
                        "family": family.displayName, "model_type": family.rawValue, "sample_fps": prepared.sampleFPS,
                    ]
                    if family == .qwen25VL, let tps = configuration.vision.tokensPerSecond {
                        object["temporal_position_step"] = AbsoluteTimePositions.temporalStep(
                            sampleFPS: prepared.sampleFPS, temporalPatchSize: configuration.vision.temporalPatchSize, tokensPerSecond: tps)
                    }
                    if let d = prepared.duration { object["duration_s"] = d }
                    if let f = prepared.sourceFPS { object["fps"] = f }
                    print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self))
                } else {
                    let timing = prepared.duration.map { String(format: "%.2f s at %.3f fps, ", $0, prepared.sourceFPS ?? 0) } ?? ""
                    print("\(path): \(timing)\(prepared.totalFrames) frames → \(prepared.indices.count) sampled \(prepared.indices), frames \(prepared.frameWidth)×\(prepared.frameHeight), grid (t,h,w) = (\(g.t), \(g.h), \(g.w)), \(prepared.tokenCount) tokens")
                }
            }
            if !json {
                print("total: \(total) vision tokens (image budget \(processor.minPixels)…\(processor.maxPixels) pixels)")
                for line in KernelReport.lines() { print(line) }
            }
        } catch let error as QwenVLError {
            throw fail(error.description)
        }
    }
}
