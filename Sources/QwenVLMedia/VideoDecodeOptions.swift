/// Settings for opening and decoding a video with ``VideoDecoder``.
public struct VideoDecodeOptions: Sendable, Equatable {
    /// How ``VideoInfo/frameCount`` is found when the file is opened.
    public enum FrameCounting: Sendable, Equatable {
        /// Demux every packet once (no decoding): an exact count and a timestamp index that makes seeking
        /// frame-exact. Reads the whole file; for a 20-minute 720p video this is well under a second when cached.
        case scanPackets
        /// Trust the container: `nb_frames`, or `round(duration × fps)` when absent. Opens instantly, but frames
        /// are then reached by decoding forward from the start (no seeking), and an estimated count may be off.
        case header
    }

    /// How frames are counted (default ``FrameCounting/scanPackets``).
    public var frameCounting: FrameCounting
    /// Rotate frames upright as the stream's display matrix asks (default true, like the `ffmpeg` CLI).
    public var applyRotation: Bool
    /// Decoder threads: 0 lets FFmpeg choose (one per core), 1 decodes on the calling thread only.
    public var threads: Int
    /// Seek (to the keyframe before the next wanted frame) only when that skips at least this many frames that
    /// decoding forward would otherwise decode; smaller gaps are decoded through. Default 12.
    public var minimumFramesSkippedBySeek: Int
    /// Let the codec drop frames that are neither wanted nor referenced by other frames (`AVDISCARD_NONREF`
    /// per packet, e.g. non-reference B-frames) while decoding towards a wanted frame. Exact: no other frame
    /// changes. Only used with a timestamp index. Default true.
    public var skipUnwantedNonReferenceFrames: Bool
    /// The largest `width × height` accepted; bigger streams fail with ``VideoError/invalidDimensions``
    /// before any frame is decoded. Default 8192 × 8192.
    public var maxPixels: Int

    /// Options with the defaults described on each property.
    public init(frameCounting: FrameCounting = .scanPackets, applyRotation: Bool = true, threads: Int = 0,
                minimumFramesSkippedBySeek: Int = 12, skipUnwantedNonReferenceFrames: Bool = true,
                maxPixels: Int = 8192 * 8192) {
        self.frameCounting = frameCounting
        self.applyRotation = applyRotation
        self.threads = threads
        self.minimumFramesSkippedBySeek = minimumFramesSkippedBySeek
        self.skipUnwantedNonReferenceFrames = skipUnwantedNonReferenceFrames
        self.maxPixels = maxPixels
    }
}
