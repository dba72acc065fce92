/// The Qwen2-VL ChatML chat template (`chat_template.json`), rendered natively with identical output.
///
/// Rules (spec §6.1): a default system prompt only when the first message is not `system`;
/// `<|im_start|>{role}\n{content}<|im_end|>\n` per message; list parts concatenated with no separator; images
/// as `<|vision_start|><|image_pad|><|vision_end|>` and videos as `<|vision_start|><|video_pad|><|vision_end|>`,
/// optionally prefixed `Picture N: ` / `Video N: ` with counters running across the whole conversation; and
/// `<|im_start|>assistant\n` as the generation prompt.
///
///     let prompt = ChatTemplate.qwen2VL.render(
///         [TemplateMessage(role: "user", parts: [.image, .text("Describe this image.")])],
///         addGenerationPrompt: true)
public struct ChatTemplate: Sendable {
    /// The system prompt inserted when the conversation does not start with a system message.
    public var defaultSystemPrompt: String
    public var imagePlaceholder: String
    public var videoPlaceholder: String

    public init(defaultSystemPrompt: String = "You are a helpful assistant.",
                imagePlaceholder: String = "<|vision_start|><|image_pad|><|vision_end|>",
                videoPlaceholder: String = "<|vision_start|><|video_pad|><|vision_end|>") {
        self.defaultSystemPrompt = defaultSystemPrompt
        self.imagePlaceholder = imagePlaceholder
        self.videoPlaceholder = videoPlaceholder
    }

    /// The template shipped with Qwen2-VL-*-Instruct (and reused by Qwen2.5-VL).
    public static let qwen2VL = ChatTemplate()

    /// Renders a conversation to the prompt text (what `apply_chat_template(tokenize=False)` returns).
    public func render(_ messages: [TemplateMessage], addGenerationPrompt: Bool, addVisionID: Bool = false) -> String {
        var out = ""
        var imageCount = 0
        var videoCount = 0
        for (index, message) in messages.enumerated() {
            if index == 0 && message.role != "system" {
                out += "<|im_start|>system\n\(defaultSystemPrompt)<|im_end|>\n"
            }
            out += "<|im_start|>\(message.role)\n"
            switch message.content {
            case .string(let text):
                out += text
            case .parts(let parts):
                for part in parts {
                    switch part {
                    case .text(let text):
                        out += text
                    case .image:
                        imageCount += 1
                        if addVisionID { out += "Picture \(imageCount): " }
                        out += imagePlaceholder
                    case .video:
                        videoCount += 1
                        if addVisionID { out += "Video \(videoCount): " }
                        out += videoPlaceholder
                    }
                }
            }
            out += "<|im_end|>\n"
        }
        if addGenerationPrompt { out += "<|im_start|>assistant\n" }
        return out
    }
}
