import Foundation
import QwenVLTokenizer

/// How conversations become training examples: pixel budgets, video sampling, packing.
public struct SFTDatasetOptions: Sendable {
    /// Caps every image's max_pixels (nil: the checkpoint's `preprocessor_config.json` budget).
    public var maxPixelsCap: Int?
    /// Replaces the checkpoint's min_pixels for images that do not set their own.
    public var minPixels: Int?
    /// Frames per second sampled from videos that do not set `fps` (nil: qwen-vl-utils' 2).
    public var fps: Double?
    /// Most frames per video for videos that do not set `max_frames` (nil: 768).
    public var maxFrames: Int?
    /// Pixel budget over all frames of a video that does not set `total_pixels`.
    public var videoTotalPixels: Int?
    /// Pack examples greedily into sequences of at most this many tokens (nil: one example per sequence).
    public var packTo: Int?
    /// With `packTo`: cut examples longer than it instead of rejecting them.
    public var truncate = false

    public init(maxPixelsCap: Int? = nil, minPixels: Int? = nil, fps: Double? = nil, maxFrames: Int? = nil,
                videoTotalPixels: Int? = nil, packTo: Int? = nil, truncate: Bool = false) {
        self.maxPixelsCap = maxPixelsCap
        self.minPixels = minPixels
        self.fps = fps
        self.maxFrames = maxFrames
        self.videoTotalPixels = videoTotalPixels
        self.packTo = packTo
        self.truncate = truncate
    }
}

/// A JSONL row that could not be turned into an example: its 1-based line number and the reason.
public struct SFTRowRejection: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var reason: String
    public init(line: Int, reason: String) { self.line = line; self.reason = reason }
    public var description: String { "line \(line): \(reason)" }
}

/// Supervised fine-tuning data: JSONL conversations tokenized as the model sees them at inference.
///
/// A row is either `{"messages": [...]}` in the OpenAI / qwen-vl-utils format that ``ChatMessage/parse(_:index:baseDirectory:)``
/// reads, or a ShareGPT row (see ``ShareGPTConversation``). The conversation is rendered with the Qwen2-VL chat
/// template without a generation prompt (the default system prompt is added when there is none), its media are
/// preprocessed exactly as for generation, positions come from the model's rope index, and labels from
/// ``ConversationMasking``. Media paths are relative to the JSONL file.
public struct SFTDataset: Sendable {
    public let model: QwenVLModel
    public let options: SFTDatasetOptions

    public init(model: QwenVLModel, options: SFTDatasetOptions = SFTDatasetOptions()) {
        self.model = model
        self.options = options
    }

    /// The conversation of one JSONL line (not yet tokenized); throws a message naming the problem.
    public func conversation(line: String, baseDirectory: URL?) throws -> [ChatMessage] {
        let row: JSONValue
        do { row = try JSONValue.parse(line, source: "row") } catch {
            let detail = "\(error)"
            throw QwenVLError(detail.hasPrefix("invalid JSON") ? detail : "invalid JSON (\(detail))")
        }
        guard row.objectValue != nil else { throw QwenVLError("expected a JSON object with \"messages\" or \"conversations\"") }
        let messages: [ChatMessage]
        if let list = row["messages"], !list.isNull {
            guard let items = list.arrayValue else { throw QwenVLError("\"messages\" must be a list of {role, content} objects") }
            messages = try items.enumerated().map { index, item in
                try ChatMessage.parse(item, index: index, baseDirectory: baseDirectory)
            }
        } else if row["conversations"] != nil {
            messages = try ShareGPTConversation.messages(row, baseDirectory: baseDirectory)
        } else {
            throw QwenVLError("the row has neither \"messages\" nor \"conversations\"")
        }
        try validate(messages)
        return messages
    }

    /// Checks roles, turns and media files before any work is spent on the row.
    func validate(_ messages: [ChatMessage]) throws {
        guard !messages.isEmpty else { throw QwenVLError("the conversation is empty") }
        for (index, message) in messages.enumerated() {
            guard ["system", "user", "assistant"].contains(message.role) else {
                throw QwenVLError("messages[\(index)]: unknown role '\(message.role)' (expected system, user or assistant)")
            }
            guard message.toolCalls.isEmpty else {
                throw QwenVLError("messages[\(index)]: tool calls are not supported in training rows")
            }
            for part in message.parts {
                switch part {
                case .text(let text):
                    for special in ["<|im_start|>", "<|im_end|>"] where text.contains(special) {
                        throw QwenVLError("messages[\(index)]: the text contains the chat-template token \(special)")
                    }
                case .image(let image):
                    try checkFile(image.source, kind: "image", at: index)
                case .video(let video):
                    switch video.source {
                    case .file(let path): try checkFile(path, kind: "video", at: index)
                    case .frames(let paths): for path in paths { try checkFile(path, kind: "video frame", at: index) }
                    }
                }
            }
        }
        guard messages.contains(where: { $0.role == "assistant" }) else {
            throw QwenVLError("no assistant turn (nothing to supervise)")
        }
    }

    private func checkFile(_ source: String, kind: String, at index: Int) throws {
        let lower = source.lowercased()
        guard !(lower.hasPrefix("data:") || lower.hasPrefix("http://") || lower.hasPrefix("https://")) else { return }
        let path = lower.hasPrefix("file://") ? (URL(string: source)?.path ?? source) : source
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue else {
            throw QwenVLError("messages[\(index)]: missing \(kind) file '\(path)'")
        }
    }

    /// Tokenizes `messages` into one unpacked example (ids, labels, positions, vision inputs).
    public func example(_ messages: [ChatMessage]) async throws -> SFTExample {
        try validate(messages)
        let conversation = messages.map(withVideoDefaults)
        var prepare = PrepareOptions(addVisionID: false, addGenerationPrompt: false, maxPixelsCap: options.maxPixelsCap)
        prepare.minPixels = options.minPixels
        let input = try await model.prepare(messages: conversation, options: prepare)
        let tokenizer = model.tokenizer
        guard let imStart = tokenizer.id(of: "<|im_start|>"), let imEnd = tokenizer.id(of: "<|im_end|>") else {
            throw QwenVLError("the tokenizer has no <|im_start|> / <|im_end|> tokens")
        }
        let roles = (messages[0].role == "system" ? [] : ["system"]) + messages.map(\.role)
        let labels = try ConversationMasking.labels(tokens: input.tokenIDs, roles: roles, imStart: imStart, imEnd: imEnd,
                                                    assistantHeader: tokenizer.encode("assistant\n"),
                                                    assistantRole: tokenizer.encode("assistant"))
        let (positions, _) = try model.ropePositions(input)
        return SFTExample(inputIDs: input.tokenIDs, labels: labels, positions: positions, sequenceStarts: [0],
                          imageGrids: input.imageGrids, imagePixels: input.imagePixels,
                          videoGrids: input.videoGrids, videoPixels: input.videoPixels)
    }

    /// The example of one JSONL line, truncated to `packTo` when `truncate` is set.
    public func example(line: String, baseDirectory: URL?) async throws -> SFTExample {
        var example = try await example(conversation(line: line, baseDirectory: baseDirectory))
        if let limit = options.packTo, example.count > limit {
            guard options.truncate else {
                throw QwenVLError("the example has \(example.count) tokens, more than --pack-to \(limit) (use --truncate to cut it)")
            }
            let config = model.configuration
            example = SequencePacker.truncate(example, to: limit, visionStart: config.visionStartTokenID,
                                              imageToken: config.imageTokenID, videoToken: config.videoTokenID)
            guard example.supervisedCount > 0 else {
                throw QwenVLError("no supervised token is left within the first \(limit) tokens (--truncate)")
            }
        }
        return example
    }

    /// Reads a JSONL file and hands every row's example (or rejection) to `body` in order; blank lines are skipped.
    ///
    /// Returns the number of non-blank rows.
    @discardableResult
    public func forEachRow(in url: URL,
                           _ body: (_ line: Int, _ result: Result<SFTExample, SFTRowRejection>) async throws -> Void) async throws -> Int {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw QwenVLError("cannot read \(url.path) (\(error.localizedDescription))")
        }
        let base = url.deletingLastPathComponent()
        var rows = 0
        for (offset, rawLine) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            let lineNumber = offset + 1
            var bytes = rawLine[...]
            if offset == 0, bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }  // UTF-8 byte order mark
            if bytes.last == UInt8(ascii: "\r") { bytes = bytes.dropLast() }                        // CRLF line ends
            guard let line = String(bytes: bytes, encoding: .utf8) else {
                rows += 1
                try await body(lineNumber, .failure(SFTRowRejection(line: lineNumber, reason: "not valid UTF-8")))
                continue
            }
            if line.allSatisfy(\.isWhitespace) { continue }
            rows += 1
            let result: Result<SFTExample, SFTRowRejection>
            do {
                result = .success(try await example(line: line, baseDirectory: base))
            } catch {
                result = .failure(SFTRowRejection(line: lineNumber, reason: "\(error)"))
            }
            try await body(lineNumber, result)
        }
        return rows
    }

    /// Every row of a JSONL file: the examples (unpacked) and the rejected lines.
    public func read(_ url: URL) async throws -> (examples: [SFTExample], rejected: [SFTRowRejection], rows: Int) {
        var examples: [SFTExample] = []
        var rejected: [SFTRowRejection] = []
        let rows = try await forEachRow(in: url) { _, result in
            switch result {
            case .success(let example): examples.append(example)
            case .failure(let rejection): rejected.append(rejection)
            }
        }
        return (examples, rejected, rows)
    }

    /// `message` with the dataset's video sampling options on videos that do not set their own.
    private func withVideoDefaults(_ message: ChatMessage) -> ChatMessage {
        guard case .parts(let parts) = message.content else { return message }
        var copy = message
        copy.content = .parts(parts.map { part in
            guard case .video(var video) = part else { return part }
            if video.nframes == nil { video.fps = video.fps ?? options.fps }
            video.maxFrames = video.maxFrames ?? options.maxFrames
            video.totalPixels = video.totalPixels ?? options.videoTotalPixels
            return .video(video)
        })
        return copy
    }
}
