/// One chat message as the Qwen2-VL chat template sees it: a role and either a string or a list of parts.
///
/// The model layer maps its richer messages (with image/video sources) down to this; `parseMessages(json:)`
/// reads the qwen-vl-utils / OpenAI JSON form directly.
public struct TemplateMessage: Sendable, Equatable {
    /// One item of list content.
    public enum Part: Sendable, Equatable {
        case text(String)
        case image
        case video
    }

    /// String content is emitted verbatim; list content part by part with no separators.
    public enum Content: Sendable, Equatable {
        case string(String)
        case parts([Part])
    }

    /// One call of an assistant turn's `tool_calls`, rendered as `<tool_call>\n{"name": …, "arguments": …}\n</tool_call>`.
    public struct ToolCall: Sendable, Equatable {
        public var name: String
        /// Rendered with `tojson`: an object prints as JSON, a string prints as a quoted JSON string.
        public var arguments: JSONValue

        public init(name: String, arguments: JSONValue) {
            self.name = name
            self.arguments = arguments
        }
    }

    public var role: String
    public var content: Content
    /// An assistant turn's tool calls (empty for every other turn).
    public var toolCalls: [ToolCall] = []

    public init(role: String, content: Content, toolCalls: [ToolCall] = []) {
        self.role = role
        self.content = content
        self.toolCalls = toolCalls
    }

    /// A message with plain string content.
    public init(role: String, _ text: String) {
        self.init(role: role, content: .string(text))
    }

    /// A message with list content.
    public init(role: String, parts: [Part]) {
        self.init(role: role, content: .parts(parts))
    }
}

extension TemplateMessage {
    /// Parses a JSON array of `{"role", "content"}` messages (qwen-vl-utils / OpenAI format).
    ///
    /// Content parts are classified exactly as the Jinja template does: an item with `type == "image"` or an
    /// `image` / `image_url` key is an image; else `type == "video"` or a `video` key is a video; else a `text`
    /// key gives text; anything else renders nothing and is dropped. (A bare string item is tested with
    /// Python's `in`, i.e. as a substring: it is an image if it contains "image", a video if it contains
    /// "video", and otherwise renders nothing — reproduced for fidelity.)
    public static func parseMessages(json: String) throws -> [TemplateMessage] {
        try parseMessages(JSONValue.parse(json, source: "chat messages"))
    }

    /// Parses an already-decoded JSON array of messages (see `parseMessages(json:)`).
    public static func parseMessages(_ value: JSONValue) throws -> [TemplateMessage] {
        guard let list = value.arrayValue else {
            throw TokenizerError.invalidMessage(index: 0, reason: "messages must be a JSON array")
        }
        return try list.enumerated().map { index, message in try parseMessage(message, index: index) }
    }

    static func parseMessage(_ message: JSONValue, index: Int) throws -> TemplateMessage {
        guard message.objectValue != nil else {
            throw TokenizerError.invalidMessage(index: index, reason: "a message must be an object")
        }
        // The template prints the role with `{{ }}`: a missing role renders as an empty string.
        let role = try message["role"].map { try pythonString($0, index: index, what: "role") } ?? ""
        let toolCalls = try parseToolCalls(message["tool_calls"], index: index)
        guard var content = message["content"] else {
            // An assistant turn that only calls tools may leave out its content.
            if !toolCalls.isEmpty { return TemplateMessage(role: role, content: .string(""), toolCalls: toolCalls) }
            throw TokenizerError.invalidMessage(index: index, reason: "missing `content`")
        }
        if content.isNull && (!toolCalls.isEmpty || role == "tool") { content = .string("") }
        switch content {
        case .string(let text):
            return TemplateMessage(role: role, content: .string(text), toolCalls: toolCalls)
        case .array(let items):
            var parts: [Part] = []
            for item in items {
                if let part = try parsePart(item, index: index) { parts.append(part) }
            }
            return TemplateMessage(role: role, content: .parts(parts), toolCalls: toolCalls)
        default:
            throw TokenizerError.invalidMessage(index: index, reason: "`content` must be a string or an array of parts")
        }
    }

    /// Reads `tool_calls`: OpenAI's `{"id", "type", "function": {"name", "arguments"}}` or a bare `{"name", "arguments"}`.
    static func parseToolCalls(_ value: JSONValue?, index: Int) throws -> [ToolCall] {
        guard let value, !value.isNull else { return [] }
        guard let list = value.arrayValue else {
            throw TokenizerError.invalidMessage(index: index, reason: "`tool_calls` must be a list")
        }
        return try list.map { item in
            guard item.objectValue != nil else {
                throw TokenizerError.invalidMessage(index: index, reason: "a tool call must be an object")
            }
            let function = item["function"] ?? item
            guard let name = function["name"] else {
                throw TokenizerError.invalidMessage(index: index, reason: "a tool call needs a function `name`")
            }
            return ToolCall(name: try pythonString(name, index: index, what: "tool call name"),
                            arguments: function["arguments"] ?? .null)
        }
    }

    static func parsePart(_ item: JSONValue, index: Int) throws -> Part? {
        switch item {
        case .object:
            let type = item["type"]?.stringValue
            if type == "image" || item["image"] != nil || item["image_url"] != nil { return .image }
            if type == "video" || item["video"] != nil { return .video }
            if let text = item["text"] { return .text(try pythonString(text, index: index, what: "text")) }
            return nil
        case .string(let s):
            if s.contains("image") { return .image }
            if s.contains("video") { return .video }
            return nil
        default:
            throw TokenizerError.invalidMessage(index: index, reason: "a content part must be an object")
        }
    }

    /// How Jinja prints a scalar JSON value (Python `str`): strings as is, `true` → "True", `null` → "None".
    static func pythonString(_ value: JSONValue, index: Int, what: String) throws -> String {
        switch value {
        case .string(let s): return s
        case .number(let literal): return literal
        case .bool(let b): return b ? "True" : "False"
        case .null: return "None"
        default: throw TokenizerError.invalidMessage(index: index, reason: "`\(what)` must be a string")
        }
    }
}
