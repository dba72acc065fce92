import Foundation

/// An error raised while loading tokenizer files or parsing chat messages.
///
/// Every case carries enough context (file path, JSON location, field name) to tell the user what to fix.
public enum TokenizerError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
    /// A required file does not exist (the path is given).
    case fileNotFound(path: String)
    /// A file exists but could not be read.
    case unreadableFile(path: String, reason: String)
    /// A file (or an in-memory value) is not valid JSON; `reason` names the location.
    case invalidJSON(source: String, reason: String)
    /// A required field is missing or has the wrong JSON type (`field` is a dotted path such as `model.vocab`).
    case invalidField(source: String, field: String, expected: String)
    /// The file describes a tokenizer this implementation does not support (e.g. a WordPiece model).
    case unsupported(source: String, feature: String)
    /// The vocabulary or merges are inconsistent (e.g. a merge refers to an unknown token).
    case invalidVocabulary(source: String, reason: String)
    /// A chat message value does not have the shape of a qwen-vl-utils / OpenAI message.
    case invalidMessage(index: Int, reason: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "tokenizer file not found: \(path)"
        case .unreadableFile(let path, let reason):
            return "cannot read tokenizer file \(path): \(reason)"
        case .invalidJSON(let source, let reason):
            return "invalid JSON in \(source): \(reason)"
        case .invalidField(let source, let field, let expected):
            return "\(source): field `\(field)` is missing or is not \(expected)"
        case .unsupported(let source, let feature):
            return "\(source): unsupported tokenizer feature: \(feature)"
        case .invalidVocabulary(let source, let reason):
            return "\(source): invalid vocabulary: \(reason)"
        case .invalidMessage(let index, let reason):
            return "invalid chat message #\(index): \(reason)"
        }
    }

    public var errorDescription: String? { description }
}
