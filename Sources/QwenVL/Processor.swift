import Foundation
import QwenVLTokenizer

/// What the model consumes for one request: token ids plus the vision inputs their placeholders stand for.
public struct ModelInput: Sendable {
    /// The rendered chat text (placeholders not yet expanded).
    public var text: String
    /// Token ids with every `<|image_pad|>`/`<|video_pad|>` expanded to its block length.
    public var tokenIDs: [Int32]
    /// Grids of the images, in prompt order.
    public var imageGrids: [VisionGrid] = []
    /// Patch rows of all images: [Σ patches, C·T·P·P].
    public var imagePixels: [Float] = []
    /// Grids of the videos, in prompt order.
    public var videoGrids: [VisionGrid] = []
    /// Patch rows of all videos: [Σ patches, C·T·P·P].
    public var videoPixels: [Float] = []

    public init(text: String, tokenIDs: [Int32]) { self.text = text; self.tokenIDs = tokenIDs }
}

extension QwenVLModel {
    /// Renders `messages` with the chat template and tokenizes them (spec §6).
    ///
    /// - Parameters:
    ///   - addGenerationPrompt: append `<|im_start|>assistant\n`.
    ///   - addVisionID: prefix images/videos with "Picture N: " / "Video N: ".
    public func prepare(messages: [ChatMessage], addGenerationPrompt: Bool = true, addVisionID: Bool = false) throws -> ModelInput {
        guard !messages.isEmpty else { throw QwenVLError("messages: the conversation is empty") }
        for message in messages {
            for part in message.parts {
                switch part {
                case .text: continue
                case .image: throw QwenVLError("image inputs are not supported yet")
                case .video: throw QwenVLError("video inputs are not supported yet")
                }
            }
        }
        let text = chatTemplate.render(messages.map(\.templateMessage), addGenerationPrompt: addGenerationPrompt, addVisionID: addVisionID)
        return ModelInput(text: text, tokenIDs: tokenizer.encode(text))
    }
}
