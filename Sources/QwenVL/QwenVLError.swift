/// Errors from the Qwen2-VL layer (configuration, inputs, generation), each a one-line message naming the problem.
public struct QwenVLError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The message shown to users.
    public let description: String

    public init(_ description: String) { self.description = description }
}
