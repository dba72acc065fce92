/// One decoded video frame: its index in presentation order, its time, and its RGB pixels.
public struct VideoFrame: Sendable, Equatable {
    /// Index in presentation order, `0..<VideoInfo.frameCount`.
    public let index: Int
    /// Presentation time in seconds (`pts × time_base`, not shifted to start at 0); nil when the stream has none.
    public let timestamp: Double?
    /// The frame as 8-bit RGB, `[height, width, 3]`, rotated upright when the options say so.
    public let image: RGBImage

    /// Wraps a decoded frame.
    public init(index: Int, timestamp: Double?, image: RGBImage) {
        self.index = index
        self.timestamp = timestamp
        self.image = image
    }
}
