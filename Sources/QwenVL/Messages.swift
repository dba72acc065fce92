import Foundation
import QwenVLTokenizer

/// One chat turn in the qwen-vl-utils / OpenAI message format.
public struct ChatMessage: Sendable, Equatable {
    public var role: String
    public var content: Content
    /// An assistant turn's tool calls (rendered back as `<tool_call>` blocks).
    public var toolCalls: [ToolCall] = []
    /// A `tool` turn's `tool_call_id` (the call it answers).
    public var toolCallID: String? = nil

    /// A turn's content: a plain string, or a list of parts rendered back to back.
    public enum Content: Sendable, Equatable {
        case string(String)
        case parts([ContentPart])
    }

    public init(role: String, content: Content) { self.role = role; self.content = content }
    public init(role: String, text: String) { self.init(role: role, content: .string(text)) }

    /// The parts in order (a string is one text part).
    public var parts: [ContentPart] {
        switch content {
        case .string(let s): [.text(s)]
        case .parts(let p): p
        }
    }
}

/// A piece of a message: text, an image or a video.
public enum ContentPart: Sendable, Equatable {
    case text(String)
    case image(ImageInput)
    case video(VideoInput)
}

/// An image reference with its optional per-image pixel budget.
public struct ImageInput: Sendable, Equatable {
    /// A path, `file://` URL, `data:` URL or `http(s)://` URL.
    public var source: String
    public var minPixels: Int?
    public var maxPixels: Int?
    public var resizedHeight: Int?
    public var resizedWidth: Int?

    public init(source: String, minPixels: Int? = nil, maxPixels: Int? = nil) {
        self.source = source; self.minPixels = minPixels; self.maxPixels = maxPixels
    }
}

/// A video reference (a file, or a list of frame images) with qwen-vl-utils' sampling options.
public struct VideoInput: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        case file(String)
        case frames([String])
    }
    public var source: Source
    public var fps: Double?
    public var nframes: Int?
    public var minFrames: Int?
    public var maxFrames: Int?
    public var minPixels: Int?
    public var maxPixels: Int?
    public var totalPixels: Int?
    public var videoStart: Double?
    public var videoEnd: Double?
    public var resizedHeight: Int?
    public var resizedWidth: Int?

    public init(source: Source) { self.source = source }
}

extension ChatMessage {
    /// Parses a JSON array of `{role, content}` messages.
    ///
    /// Content is a string or a list of parts: `{"type":"text","text":…}`, `{"type":"image","image":…}`,
    /// `{"type":"image_url","image_url":{"url":…}}`, `{"type":"video","video":PATH_OR_LIST}` (with the
    /// qwen-vl-utils keys `fps`, `nframes`, `min_frames`, `max_frames`, `min_pixels`, `max_pixels`,
    /// `total_pixels`, `video_start`, `video_end`), `{"type":"video_url","video_url":{"url":…}}`.
    /// Relative media paths resolve against `baseDirectory`.
    public static func parseList(_ data: Data, baseDirectory: URL? = nil) throws -> [ChatMessage] {
        // JSONValue, not JSONSerialization: Foundation's parser silently drops U+FEFF inside strings.
        let json: JSONValue
        do { json = try JSONValue.parse(Array(data), source: "messages") } catch {
            throw QwenVLError("messages: invalid JSON (\(error))")
        }
        guard let list = json.arrayValue else { throw QwenVLError("messages: expected a JSON array of {role, content} objects") }
        return try list.enumerated().map { index, item in try parse(item, index: index, baseDirectory: baseDirectory) }
    }

    /// Parses one message object.
    public static func parse(_ item: JSONValue, index: Int, baseDirectory: URL?) throws -> ChatMessage {
        guard item.objectValue != nil else { throw QwenVLError("messages[\(index)]: expected an object") }
        guard let role = item["role"]?.stringValue else { throw QwenVLError("messages[\(index)]: missing \"role\"") }
        var message: ChatMessage
        switch item["content"] {
        case .string(let text)?:
            message = ChatMessage(role: role, content: .string(text))
        case .array(let parts)?:
            message = ChatMessage(role: role, content: .parts(try parts.enumerated().compactMap { partIndex, part in
                try parsePart(part, at: "messages[\(index)].content[\(partIndex)]", baseDirectory: baseDirectory)
            }))
        case nil, .null?:
            message = ChatMessage(role: role, content: .string(""))
        default:
            throw QwenVLError("messages[\(index)]: \"content\" must be a string or a list of parts")
        }
        message.toolCalls = try parseToolCalls(item["tool_calls"], at: "messages[\(index)].tool_calls")
        if let id = item["tool_call_id"], !id.isNull {
            guard let s = id.stringValue else { throw QwenVLError("messages[\(index)].tool_call_id: must be a string") }
            message.toolCallID = s
        }
        return message
    }

    /// Reads an assistant turn's OpenAI `tool_calls`: `[{"id", "type": "function", "function": {"name", "arguments"}}]`,
    /// `arguments` a JSON string (as OpenAI sends it) or an object.
    static func parseToolCalls(_ value: JSONValue?, at path: String) throws -> [ToolCall] {
        guard let value, !value.isNull else { return [] }
        guard let list = value.arrayValue else { throw QwenVLError("\(path): expected a list of tool calls") }
        return try list.enumerated().map { index, call in
            let function = call["function"] ?? call
            guard call.objectValue != nil, let name = function["name"]?.stringValue, !name.isEmpty else {
                throw QwenVLError("\(path)[\(index)]: expected {\"id\", \"type\": \"function\", \"function\": {\"name\", \"arguments\"}}")
            }
            let arguments: String
            switch function["arguments"] {
            case nil, .null?: arguments = "{}"
            case .string(let text)?: arguments = text
            case .object(let members)?: arguments = PythonJSON.dumps(.object(members))
            default: throw QwenVLError("\(path)[\(index)].function.arguments: expected a JSON string or an object")
            }
            return ToolCall(id: call["id"]?.stringValue ?? "", name: name, argumentsJSON: arguments)
        }
    }

    static func parsePart(_ part: JSONValue, at path: String, baseDirectory: URL?) throws -> ContentPart? {
        guard part.objectValue != nil else { throw QwenVLError("\(path): expected an object") }
        let type = part["type"]?.stringValue
        func present(_ key: String) -> Bool { part[key].map { !$0.isNull } ?? false }
        func int(_ key: String) throws -> Int? {
            guard let v = part[key], !v.isNull else { return nil }
            guard let i = v.intValue else { throw QwenVLError("\(path): \"\(key)\" must be an integer") }
            return i
        }
        func double(_ key: String) throws -> Double? {
            guard let v = part[key], !v.isNull else { return nil }
            guard case .number(let text) = v, let d = Double(text) else { throw QwenVLError("\(path): \"\(key)\" must be a number") }
            return d
        }
        func url(_ v: JSONValue?) -> String? { v?.stringValue ?? v?["url"]?.stringValue }
        if type == "image" || type == "image_url" || present("image") || present("image_url") {
            guard let source = part["image"]?.stringValue ?? url(part["image_url"]) else {
                throw QwenVLError("\(path): image part needs an \"image\" path/URL or \"image_url\": {\"url\": …}")
            }
            var image = ImageInput(source: resolve(source, baseDirectory), minPixels: try int("min_pixels"), maxPixels: try int("max_pixels"))
            image.resizedHeight = try int("resized_height")
            image.resizedWidth = try int("resized_width")
            return .image(image)
        }
        if type == "video" || type == "video_url" || present("video") || present("video_url") {
            let source: VideoInput.Source
            if let list = part["video"]?.arrayValue {
                let frames = try list.map { f -> String in
                    guard let s = f.stringValue else { throw QwenVLError("\(path): video frame list must hold paths") }
                    return resolve(s, baseDirectory)
                }
                guard !frames.isEmpty else { throw QwenVLError("\(path): video frame list is empty") }
                source = .frames(frames)
            } else if let s = part["video"]?.stringValue ?? url(part["video_url"]) {
                source = .file(resolve(s, baseDirectory))
            } else {
                throw QwenVLError("\(path): video part needs a \"video\" path or frame list, or \"video_url\": {\"url\": …}")
            }
            var video = VideoInput(source: source)
            video.fps = try double("fps")
            video.nframes = try int("nframes")
            video.minFrames = try int("min_frames")
            video.maxFrames = try int("max_frames")
            video.minPixels = try int("min_pixels")
            video.maxPixels = try int("max_pixels")
            video.totalPixels = try int("total_pixels")
            video.videoStart = try double("video_start")
            video.videoEnd = try double("video_end")
            video.resizedHeight = try int("resized_height")
            video.resizedWidth = try int("resized_width")
            return .video(video)
        }
        if let text = part["text"], !text.isNull {
            guard let s = text.stringValue else { throw QwenVLError("\(path): \"text\" must be a string") }
            return .text(s)
        }
        if let type, type != "text" { throw QwenVLError("\(path): unsupported content part type '\(type)'") }
        return nil   // the template ignores parts it does not recognise
    }

    /// Makes a relative file path absolute against `base`; URLs and absolute paths pass through.
    static func resolve(_ source: String, _ base: URL?) -> String {
        let lower = source.lowercased()
        if lower.hasPrefix("data:") || lower.hasPrefix("http://") || lower.hasPrefix("https://") || lower.hasPrefix("file://") || source.hasPrefix("/") {
            return source
        }
        guard let base else { return source }
        return base.appendingPathComponent(source).path
    }

    /// The template's view of this message.
    ///
    /// Tool-call arguments given as a JSON string are parsed back into an object first (as vLLM does), so the
    /// template's `tojson` prints them as JSON rather than as a quoted string; text that is not JSON stays a string.
    var templateMessage: TemplateMessage {
        let calls = toolCalls.map { call in
            TemplateMessage.ToolCall(name: call.name, arguments: (try? JSONValue.parse(call.argumentsJSON)) ?? .string(call.argumentsJSON))
        }
        switch content {
        case .string(let s):
            return TemplateMessage(role: role, content: .string(s), toolCalls: calls)
        case .parts(let parts):
            return TemplateMessage(role: role, content: .parts(parts.map { part in
                switch part {
                case .text(let t): .text(t)
                case .image: .image
                case .video: .video
                }
            }), toolCalls: calls)
        }
    }
}

extension ChatMessage {
    /// Resolves a command-line media path against `base` (URLs and absolute paths pass through).
    public static func resolvePath(_ source: String, _ base: URL) -> String { resolve(source, base) }
}
