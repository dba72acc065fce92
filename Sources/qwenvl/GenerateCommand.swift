import ArgumentParser
import Foundation
import QwenVL
import QwenVLCore
import QwenVLMedia

/// `qwenvl generate`: answer one prompt or a messages file, streaming or as JSON.
struct GenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate an answer for a prompt (text, images, videos).",
        discussion: """
        Examples:
          qwenvl generate --model Qwen2-VL-2B-Instruct --prompt "Write a haiku about the sea."
          qwenvl generate --model DIR --messages chat.json --json
          qwenvl generate --model DIR --image screen.png --prompt "Open settings" --tools tools.json --tool-choice required
          qwenvl generate --model DIR --prompt "A user record" --json-schema user.schema.json
        Sampling defaults come from the checkpoint's generation_config.json; --temperature 0 is greedy.
        """)

    @Option(help: "Checkpoint folder (HuggingFace layout).") var model: String
    @Option(help: "User prompt text.") var prompt: String?
    @Option(help: "JSON file with an array of {role, content} messages.") var messages: String?
    @Option(help: "System prompt (default: the template's).") var system: String?
    @Option(help: "Image path or URL to attach to the prompt (repeatable).") var image: [String] = []
    @Option(help: "Video path to attach to the prompt (repeatable).") var video: [String] = []
    @OptionGroup var sampling: SamplingOptions
    @Flag(help: "Print one JSON object (ids, text, timings) as the last line of stdout.") var json = false
    @Option(name: .customLong("dump-logits"), help: "Write the last prompt position's logits as a float32 .npy.") var dumpLogits: String?
    @Flag(name: .customLong("add-vision-id"), help: "Label images and videos 'Picture N:' / 'Video N:'.") var addVisionID = false
    @OptionGroup var pixels: PixelOptions
    @OptionGroup var weightOptions: WeightOptions
    @OptionGroup var videoOptions: VideoOptions
    @Option(help: "Draw the answer's grounding boxes on the first image and write it to this PNG file.") var annotate: String?
    @OptionGroup var toolOptions: ToolOptions

    func validate() throws {
        if (prompt == nil) == (messages == nil) { throw ValidationError("give exactly one of --prompt or --messages") }
    }

    func run() async throws {
        do {
            try await execute()
        } catch let error as QwenVLError {
            throw fail(error.description)
        } catch let error as CheckpointError {
            throw fail(error.description)
        }
    }

    private func execute() async throws {
        let conversation = try buildMessages()
        let toolPlan = try toolOptions.plan()
        let grounding = try await GroundingOutput(conversation: conversation, annotatePath: annotate)
        let loadStart = Date()
        let qwen = try weightOptions.load(model)
        let loadSeconds = Date().timeIntervalSince(loadStart)
        var parameters = sampling.parameters(defaults: qwen.generationDefaults)
        parameters.constraint = toolPlan.constraint
        var prepareOptions = pixels.prepareOptions(addVisionID: addVisionID)
        prepareOptions.tools = toolPlan.toolDefinitions

        let input = try await qwen.prepare(messages: conversation, options: prepareOptions)
        var state = qwen.makeState()
        let streaming = !json
        let bar = ProgressBar()
        let result = try qwen.generate(input, parameters: parameters, state: &state,
                                       progress: { bar.update($0.stage == .vision ? "encoding images" : "prefill", $0.completed, $0.total) }) { chunk in
            if streaming, !chunk.text.isEmpty {
                FileHandle.standardOutput.write(Data(chunk.text.utf8))
            }
            return true
        }
        if streaming { FileHandle.standardOutput.write(Data("\n".utf8)) }
        let (content, toolCalls) = toolPlan.interpret(result.text)
        if streaming { for call in toolCalls { print(ToolOptions.describe(call)) } }
        if let dumpLogits {
            try NumpyFile.write(result.promptLogits, shape: [result.promptLogits.count], to: URL(fileURLWithPath: dumpLogits))
        }
        let boxes = try await grounding.finish(text: qwen.tokenizer.decode(result.tokenIDs, skipSpecialTokens: false), json: json,
                                               family: qwen.configuration.family,
                                               resizedImageSize: input.firstImageResizedSize(patchSize: qwen.configuration.vision.patchSize))
        if json {
            let t = result.timings
            var object: [String: Any] = [
                "prompt_token_ids": result.promptTokenIDs.map(Int.init),
                "token_ids": result.tokenIDs.map(Int.init),
                "text": result.text,
                "finish_reason": result.finishReason == .cancelled ? "stop" : result.finishReason.rawValue,
                "timings": [
                    "load_s": loadSeconds, "vision_s": t.visionSeconds, "prefill_s": t.prefillSeconds,
                    "decode_s": t.decodeSeconds, "prefill_tokens_per_s": t.prefillTokensPerSecond,
                    "decode_tokens_per_s": t.decodeTokensPerSecond,
                ],
            ]
            object["boxes"] = boxes
            if toolPlan.parsesToolCalls {
                object["tool_calls"] = ToolOptions.jsonCalls(toolCalls)
                object["content"] = content ?? NSNull()
                if !toolCalls.isEmpty && result.finishReason != .length { object["finish_reason"] = "tool_calls" }
            }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
        } else {
            let t = result.timings
            printError(String(format: "[prompt %d tokens, %.1f tok/s | answer %d tokens, %.1f tok/s]",
                              result.promptTokenIDs.count, t.prefillTokensPerSecond, result.tokenIDs.count, t.decodeTokensPerSecond))
        }
    }

    /// The conversation from --messages, or from --system/--prompt/--image/--video.
    private func buildMessages() throws -> [ChatMessage] {
        if let messages {
            let url = URL(fileURLWithPath: messages)
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw QwenVLError("cannot read messages file \(messages)")
            }
            var list = try ChatMessage.parseList(data, baseDirectory: url.deletingLastPathComponent())
            if let system {
                if list.first?.role == "system" { list[0].content = .string(system) }
                else { list.insert(ChatMessage(role: "system", text: system), at: 0) }
            }
            return list
        }
        var result: [ChatMessage] = []
        if let system { result.append(ChatMessage(role: "system", text: system)) }
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        var parts: [ContentPart] = image.map { .image(pixels.imageInput(ChatMessage.resolvePath($0, cwd))) }
        parts += video.map { .video(videoOptions.videoInput(ChatMessage.resolvePath($0, cwd))) }
        if parts.isEmpty {
            result.append(ChatMessage(role: "user", text: prompt ?? ""))
        } else {
            parts.append(.text(prompt ?? ""))
            result.append(ChatMessage(role: "user", content: .parts(parts)))
        }
        return result
    }
}

/// `--min-pixels` / `--max-pixels` and the CLI's default image cap.
struct PixelOptions: ParsableArguments {
    /// The model card's recommended budget: 1280 tokens of 28×28 pixels.
    static let defaultCap = 1280 * 28 * 28

    @Option(name: .customLong("min-pixels"), help: "Smallest image area in pixels (default: the checkpoint's).") var minPixels: Int?
    @Option(name: .customLong("max-pixels"), help: "Largest image area in pixels (default: 1003520 = 1280·28·28).") var maxPixels: Int?

    func validate() throws {
        if let minPixels, minPixels < 1 { throw ValidationError("--min-pixels must be ≥ 1") }
        if let maxPixels, maxPixels < 784 { throw ValidationError("--max-pixels must be ≥ 784 (one 28×28 cell)") }
        if let minPixels, let maxPixels, minPixels > maxPixels { throw ValidationError("--min-pixels must not exceed --max-pixels") }
    }

    /// An image part with the flags' budget.
    func imageInput(_ source: String) -> ImageInput {
        ImageInput(source: source, minPixels: minPixels, maxPixels: maxPixels)
    }

    /// Prepare options: the default cap, and a note on stderr when it shrinks an image.
    func prepareOptions(addVisionID: Bool) -> PrepareOptions {
        var options = PrepareOptions(addVisionID: addVisionID, maxPixelsCap: maxPixels ?? Self.defaultCap)
        options.minPixels = minPixels
        let explicit = maxPixels != nil
        options.onImage = { index, image in
            let original = image.originalWidth * image.originalHeight
            if !explicit, original > Self.defaultCap, image.resizedWidth * image.resizedHeight < original {
                printError("note: image \(index + 1) (\(image.originalWidth)×\(image.originalHeight)) resized to \(image.resizedWidth)×\(image.resizedHeight) (\(image.tokenCount) tokens) by the default cap of 1280·28·28 pixels; raise it with --max-pixels")
            }
        }
        return options
    }
}

/// `--annotate OUT.png` and the `boxes` of `--json`: grounding boxes parsed from the answer (spec §9), drawn on
/// the conversation's first image at its original size.
private struct GroundingOutput {
    /// The first image's reference (path or URL), if the conversation has one.
    let imageReference: String?
    let annotatePath: String?
    /// The first image, loaded up front when annotating so a bad image or path fails before generation.
    let image: RGBImage?

    init(conversation: [ChatMessage], annotatePath: String?) async throws {
        imageReference = conversation.lazy.flatMap(\.parts).compactMap { part -> String? in
            if case .image(let input) = part { return input.source }
            return nil
        }.first
        self.annotatePath = annotatePath
        guard let annotatePath else { image = nil; return }
        guard let imageReference else { throw QwenVLError("--annotate needs an image in the conversation (--image or an image part)") }
        let folder = URL(fileURLWithPath: annotatePath).deletingLastPathComponent().path
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            throw QwenVLError("--annotate: the folder '\(folder)' does not exist")
        }
        image = try await Self.load(imageReference)
    }

    static func load(_ reference: String) async throws -> RGBImage {
        do {
            return try await ImageSource(reference: reference).loadImage()
        } catch let error as MediaError {
            throw QwenVLError("--annotate: \(error.description)")
        }
    }

    /// Parses the boxes from `text` (decoded with special tokens), writes the annotated PNG when asked, and
    /// returns the `--json` entries: label, kind, `box` (normalized points, flattened) and, with an image,
    /// `box_pixels` (original-image pixels, 2 decimals).
    /// Qwen2.5-VL boxes are in pixels of the resized first image (`resizedImageSize`) and mapped back from it.
    func finish(text: String, json: Bool, family: ModelFamily = .qwen2VL,
                resizedImageSize: (width: Int, height: Int)? = nil) async throws -> [[String: Any]] {
        let boxes = Grounding.parse(text, family: family, resizedImageSize: resizedImageSize)
        var size = image.map { (width: $0.width, height: $0.height) }
        if let image, let annotatePath {
            do {
                try PNGEncoder.write(Annotation.draw(boxes: boxes, on: image), to: URL(fileURLWithPath: annotatePath))
            } catch let error as PNGEncoder.WriteError {
                throw QwenVLError(error.description)
            }
            printError("[\(boxes.count) box\(boxes.count == 1 ? "" : "es") drawn on \(image.width)×\(image.height) image → \(annotatePath)]")
        }
        guard json else { return [] }
        if size == nil, !boxes.isEmpty, let imageReference, let loaded = try? await Self.load(imageReference) {
            size = (loaded.width, loaded.height)
        }
        return boxes.map { box in
            var entry: [String: Any] = ["label": box.label ?? NSNull(), "kind": box.kind.rawValue, "box": box.points.flatMap { $0 }]
            if let size {
                entry["box_pixels"] = box.pixelPoints(imageWidth: size.width, imageHeight: size.height).flatMap { $0 }
                    .map { ($0 * 100).rounded() / 100 }
            }
            return entry
        }
    }
}
