import Foundation

/// Which Qwen vision-language family a checkpoint belongs to (its `model_type`).
///
/// The two share the decoder, tokenizer and preprocessing; they differ in the vision tower (Qwen2.5-VL: RMSNorm,
/// SwiGLU MLP, window attention), in video temporal positions (absolute time) and in the box format they write.
public enum ModelFamily: String, Sendable, Equatable, CaseIterable {
    /// `qwen2_vl`, `Qwen2VLForConditionalGeneration`.
    case qwen2VL = "qwen2_vl"
    /// `qwen2_5_vl`, `Qwen2_5_VLForConditionalGeneration`.
    case qwen25VL = "qwen2_5_vl"

    /// The name users see (`qwenvl inspect`).
    public var displayName: String {
        switch self {
        case .qwen2VL: return "Qwen2-VL"
        case .qwen25VL: return "Qwen2.5-VL"
        }
    }

    /// The transformers architecture class of the family.
    public var architecture: String {
        switch self {
        case .qwen2VL: return "Qwen2VLForConditionalGeneration"
        case .qwen25VL: return "Qwen2_5_VLForConditionalGeneration"
        }
    }
}
