/// What probing a video file found: size after rotation, frame rate, frame count and duration.
///
/// ## How frames are counted
/// qwen-vl-utils takes `total_frames` from its video reader and samples indices `0…total_frames−1`:
/// - decord: `len(VideoReader)` is the number of video packets its index scan (`av_read_frame` over the whole
///   file) found, frames numbered by sorted packet pts; only when the scan finds none does it fall back to
///   `nb_frames` or `avg_frame_rate × container duration`;
/// - torchvision `read_video` (PyAV): the number of frames actually decoded, keyed and sorted by pts;
/// - torchcodec: the stream's frame count from the metadata (a scan when `seek_mode="exact"`).
///
/// With ``VideoDecodeOptions/FrameCounting/scanPackets`` (the default) this decoder does decord's scan, without
/// decoding, but leaves out packets FFmpeg flags as discarded (MP4 edit lists; decord counts them, PyAV and
/// torchvision never output their frames), and packets before the first keyframe (a stream cut mid-GOP, whose
/// frames decoders drop), so the count equals what PyAV/torchvision decode. Frame `i` is the frame with the
/// `i`-th smallest presentation timestamp. When some packet has no pts (AVI with B-frames, raw H.264), frame `i`
/// is the `i`-th frame the decoder outputs. With
/// ``VideoDecodeOptions/FrameCounting/header`` the count is the container's `nb_frames` (MP4/MOV/AVI store it)
/// or, when absent, `round(duration × fps)`, and frames are numbered in decoder output order.
public struct VideoInfo: Sendable, Equatable {
    /// How ``VideoInfo/frameCount`` was obtained.
    public enum FrameCountSource: String, Sendable, Equatable {
        /// Counted by demuxing every packet of the stream (exact).
        case packetScan
        /// The container's `nb_frames` field.
        case header
        /// `round(duration × fps)`: the container stores no count (e.g. MKV/WebM) and no scan was made.
        case estimate
    }

    /// Frame width in pixels as returned, after rotation.
    public let width: Int
    /// Frame height in pixels as returned, after rotation.
    public let height: Int
    /// Width as stored in the stream (before rotation).
    public let codedWidth: Int
    /// Height as stored in the stream (before rotation).
    public let codedHeight: Int
    /// Clockwise rotation, in degrees (0, 90, 180 or 270), that the display matrix asks for and that the
    /// returned frames have applied (0 when rotation is disabled in the options).
    public let rotation: Int
    /// Frames per second: the stream's `avg_frame_rate`, or `r_frame_rate` when that is unset.
    /// This is what decord's `get_avg_fps()` and torchvision's `info["video_fps"]` report.
    public let fps: Double
    /// The stream's `avg_frame_rate` (PyAV `stream.average_rate`), nil when unset.
    public let averageFrameRate: Double?
    /// The stream's `r_frame_rate` (PyAV `stream.base_rate`), nil when unset.
    public let baseFrameRate: Double?
    /// Number of frames; valid frame indices are `0..<frameCount`.
    public let frameCount: Int
    /// How `frameCount` was obtained.
    public let frameCountSource: FrameCountSource
    /// The container's `nb_frames` for the stream (PyAV `stream.frames`), nil when it stores none.
    public let headerFrameCount: Int?
    /// Duration in seconds: the stream's duration, else the container's, else `frameCount / fps`.
    public let duration: Double
    /// `stream.duration × time_base` in seconds (PyAV `stream.duration * stream.time_base`), nil when unset.
    public let streamDuration: Double?
    /// The container's duration in seconds (PyAV `container.duration / 1e6`), nil when unset.
    public let containerDuration: Double?
    /// FFmpeg's codec name, e.g. `h264`, `hevc`, `vp9`, `ffv1`.
    public let codec: String
    /// FFmpeg's container (demuxer) name, e.g. `mov,mp4,m4a,3gp,3g2,mj2`, `matroska,webm`.
    public let container: String
    /// The decoder's pixel format name, e.g. `yuv420p`, `bgr0`.
    public let pixelFormat: String
    /// Whether every frame has a unique presentation timestamp, so frames can be reached by seeking.
    /// When false, frames are found by decoding forward from the start.
    public let isSeekable: Bool
}
