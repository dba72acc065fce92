/// Tool calling in the chat template: Qwen2.5-Instruct's `# Tools` system block, `<tool_call>` and
/// `<tool_response>` turns, merged with Qwen2-VL's vision parts and default system prompt.
///
/// Rules (the merged template `Tests/Fixtures/tool-template/qwen2vl_tools.jinja`, HF-rendered fixtures):
/// - With tools, the first turn is `<|im_start|>system\n` + the first system message's content (else the default
///   system prompt) + `\n\n# Tools\n\n…<tools>` + one `\n` + `tojson(tool)` per tool + `\n</tools>\n\n…</tool_call><|im_end|>\n`,
///   and that system message is not rendered again. Without tools: Qwen2-VL's default-system rule.
/// - An assistant turn with tool calls: `<|im_start|>assistant`, `\n` + content when it is non-empty, then per call
///   `\n<tool_call>\n{"name": "NAME", "arguments": tojson(arguments)}\n</tool_call>`, then `<|im_end|>\n`.
/// - `tool` turns: a run of consecutive ones shares one `<|im_start|>user` turn of `\n<tool_response>\nCONTENT\n</tool_response>` blocks.
/// - Every content (system, user, assistant, tool) uses Qwen2-VL's part rules, so images in tool results get
///   placeholders and `Picture N:` ids too.
///
///     let text = ChatTemplate.qwen2VL.render(messages, tools: [weatherTool], addGenerationPrompt: true)
extension ChatTemplate {
    /// The `# Tools` instructions after the tool list (verbatim from the Qwen2.5-Instruct template).
    static let toolsHeader = "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
        + "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
    static let toolsFooter = "\n</tools>\n\nFor each function call, return a json object with function name and arguments "
        + "within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n"
        + "</tool_call><|im_end|>\n"

    /// Renders a conversation with OpenAI `tools` (each a JSON object, printed as given); `tools` empty renders
    /// exactly what ``render(_:addGenerationPrompt:addVisionID:)`` does for conversations without tool turns.
    public func render(_ messages: [TemplateMessage], tools: [JSONValue], addGenerationPrompt: Bool,
                       addVisionID: Bool = false) -> String {
        var out = ""
        var counter = VisionCounter()
        let hasTools = !tools.isEmpty
        if hasTools {
            out += "<|im_start|>system\n"
            if let first = messages.first, first.role == "system" {
                appendContent(first.content, to: &out, counter: &counter, addVisionID: addVisionID)
            } else {
                out += defaultSystemPrompt
            }
            out += Self.toolsHeader
            for tool in tools { out += "\n" + PythonJSON.dumps(tool) }
            out += Self.toolsFooter
        } else if let first = messages.first, first.role != "system" {
            out += "<|im_start|>system\n\(defaultSystemPrompt)<|im_end|>\n"
        }
        for (index, message) in messages.enumerated() {
            if index == 0 && message.role == "system" && hasTools { continue }
            if message.role == "assistant" && !message.toolCalls.isEmpty {
                out += "<|im_start|>assistant"
                if !message.content.isEmpty {
                    out += "\n"
                    appendContent(message.content, to: &out, counter: &counter, addVisionID: addVisionID)
                }
                for call in message.toolCalls {
                    out += "\n<tool_call>\n{\"name\": \""
                    out += call.name
                    out += "\", \"arguments\": "
                    out += PythonJSON.dumps(call.arguments)
                    out += "}\n</tool_call>"
                }
                out += "<|im_end|>\n"
            } else if message.role == "tool" {
                if index == 0 || messages[index - 1].role != "tool" { out += "<|im_start|>user" }
                out += "\n<tool_response>\n"
                appendContent(message.content, to: &out, counter: &counter, addVisionID: addVisionID)
                out += "\n</tool_response>"
                if index == messages.count - 1 || messages[index + 1].role != "tool" { out += "<|im_end|>\n" }
            } else {
                out += "<|im_start|>\(message.role)\n"
                appendContent(message.content, to: &out, counter: &counter, addVisionID: addVisionID)
                out += "<|im_end|>\n"
            }
        }
        if addGenerationPrompt { out += "<|im_start|>assistant\n" }
        return out
    }

    /// Image and video counters running across the whole conversation (`Picture N:` / `Video N:`).
    struct VisionCounter {
        var images = 0
        var videos = 0
    }

    func appendContent(_ content: TemplateMessage.Content, to out: inout String, counter: inout VisionCounter, addVisionID: Bool) {
        switch content {
        case .string(let text):
            out += text
        case .parts(let parts):
            for part in parts {
                switch part {
                case .text(let text):
                    out += text
                case .image:
                    counter.images += 1
                    if addVisionID { out += "Picture \(counter.images): " }
                    out += imagePlaceholder
                case .video:
                    counter.videos += 1
                    if addVisionID { out += "Video \(counter.videos): " }
                    out += videoPlaceholder
                }
            }
        }
    }
}

extension TemplateMessage.Content {
    /// Jinja truthiness: an empty string or an empty part list is false.
    var isEmpty: Bool {
        switch self {
        case .string(let s): s.isEmpty
        case .parts(let p): p.isEmpty
        }
    }
}
