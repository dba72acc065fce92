/// Problems found while opening or reading a checkpoint, each naming the file and what is wrong.
public struct CheckpointError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The one-line explanation shown to users.
    public let description: String

    public init(_ description: String) { self.description = description }
}
