/// The frames of a video at given indices as an `AsyncSequence`: each step decodes one frame.
///
/// Nothing is decoded ahead, so a consumer that resizes each frame before asking for the next holds one frame at a
/// time. Decoding runs synchronously inside `next()` on the iterating task. Errors are the same as
/// ``VideoDecoder/frames(at:)``; an out-of-range index throws on the first `next()`.
public struct VideoFrameSequence: AsyncSequence, Sendable {
    public typealias Element = VideoFrame

    /// The decoder the frames come from.
    public let decoder: VideoDecoder
    /// Indices as given; frames come once each, ascending.
    public let indices: [Int]

    /// A sequence over `indices` of `decoder`.
    public init(decoder: VideoDecoder, indices: [Int]) {
        self.decoder = decoder
        self.indices = indices
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(decoder: decoder, indices: indices)
    }

    /// Pulls frames through a ``VideoFrameReader`` created on the first `next()`.
    public struct Iterator: AsyncIteratorProtocol {
        private let decoder: VideoDecoder
        private let indices: [Int]
        private var reader: VideoFrameReader?
        private var finished = false

        init(decoder: VideoDecoder, indices: [Int]) {
            self.decoder = decoder
            self.indices = indices
        }

        public mutating func next() async throws -> VideoFrame? {
            guard !finished else { return nil }
            try Task.checkCancellation()
            do {
                let active = try reader ?? VideoFrameReader(decoder: decoder, indices: indices)
                reader = active
                guard let frame = try active.next() else {
                    finished = true
                    reader = nil
                    return nil
                }
                return frame
            } catch {
                finished = true
                reader = nil
                throw error
            }
        }
    }
}
