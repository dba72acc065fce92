/// Every way opening or decoding a video can fail; `description` names the problem in plain words.
///
/// Decoding never returns partial output: a call either delivers every requested frame or throws one of these.
public enum VideoError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The path does not exist, is a directory, or cannot be opened for reading.
    case unreadablePath(path: String, reason: String)
    /// The reference is not a local path or `file://` URL (e.g. `http://`); download it first.
    case unsupportedReference(String)
    /// FFmpeg recognises no container in the file (e.g. a text file named `.mp4`).
    case notAVideo(path: String, reason: String)
    /// The file ends early: e.g. an MP4/MOV whose `moov` index box is missing (cut off or still being written).
    case truncated(path: String, reason: String)
    /// The container holds no video stream (e.g. audio only). `streams` lists what it does hold.
    case noVideoStream(path: String, streams: String)
    /// The video stream uses a codec this FFmpeg build cannot decode.
    case unsupportedCodec(path: String, codec: String)
    /// The video stream has no frame that decodes.
    case noDecodableFrames(path: String)
    /// A requested frame index is negative or not below the frame count.
    case frameIndexOutOfRange(index: Int, frameCount: Int)
    /// The stream ended (or broke) before a requested frame although the index promised it.
    case frameNotDecoded(index: Int, path: String, reason: String)
    /// FFmpeg reported an error while reading, decoding or converting.
    case decodeFailed(path: String, reason: String)
    /// The frame size is zero, negative, or larger than the configured pixel limit.
    case invalidDimensions(width: Int, height: Int, maxPixels: Int)
    /// FFmpeg could not allocate memory.
    case outOfMemory(what: String)

    public var description: String {
        switch self {
        case .unreadablePath(let path, let reason):
            return "cannot read video file '\(path)': \(reason)"
        case .unsupportedReference(let reference):
            return "unsupported video reference '\(reference.prefix(200))': only local paths and file:// URLs are "
                + "decoded here"
        case .notAVideo(let path, let reason):
            return "'\(path)' is not a video file FFmpeg recognises: \(reason)"
        case .truncated(let path, let reason):
            return "video file '\(path)' is truncated: \(reason)"
        case .noVideoStream(let path, let streams):
            return "'\(path)' has no video stream (it holds: \(streams))"
        case .unsupportedCodec(let path, let codec):
            return "'\(path)': no decoder for video codec '\(codec)' in this FFmpeg build"
        case .noDecodableFrames(let path):
            return "'\(path)': the video stream has no decodable frames"
        case .frameIndexOutOfRange(let index, let frameCount):
            return "frame index \(index) is out of range: the video has \(frameCount) frames "
                + "(valid 0…\(frameCount - 1))"
        case .frameNotDecoded(let index, let path, let reason):
            return "'\(path)': frame \(index) could not be decoded: \(reason)"
        case .decodeFailed(let path, let reason):
            return "decoding '\(path)' failed: \(reason)"
        case .invalidDimensions(let width, let height, let maxPixels):
            return "invalid video frame size \(width)×\(height) (limit \(maxPixels) pixels)"
        case .outOfMemory(let what):
            return "out of memory while \(what)"
        }
    }
}
