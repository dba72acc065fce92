import CFFmpeg

/// A probed video file whose frames can be fetched by index as RGB, decoded with FFmpeg.
///
/// Opening probes the file (size, rotation, fps, duration, frame count; see ``VideoInfo`` for how frames are
/// counted and numbered). Fetching decodes forward from the nearest keyframe, seeking over long gaps, and converts
/// only the wanted frames to RGB exactly as PyAV's `frame.to_ndarray(format="rgb24")` does, rotated upright.
/// The value holds no open file (each fetch opens its own), so it is `Sendable` and can be shared freely.
///
/// ```swift
/// let video = try VideoDecoder(path: "clip.mp4")
/// print(video.info.frameCount, video.info.fps)
/// let frames = try video.frames(at: [0, 15, 30])            // [RGBImage], in the order asked
/// try video.forEachFrame(at: [0, 15, 30]) { frame in … }  // one at a time, bounded memory
/// for try await frame in video.frameSequence(at: [0, 15, 30]) { … }
/// ```
public struct VideoDecoder: Sendable {
    /// The local file path.
    public let path: String
    /// What probing found.
    public let info: VideoInfo
    /// The options it was opened with.
    public let options: VideoDecodeOptions
    /// Timestamp index for frame-exact seeking (nil: frames are found by decoding from the start).
    let index: VideoFrameIndex?

    /// Opens and probes the video at `path`. Throws ``VideoError`` for unreadable, non-video, truncated,
    /// audio-only or frameless files.
    public init(path: String, options: VideoDecodeOptions = VideoDecodeOptions()) throws {
        self.path = path
        self.options = options
        let session = try VideoStreamSession(path: path)
        let stream = session.stream
        let format = session.formatContext
        guard let par = stream.pointee.codecpar else { throw VideoError.noDecodableFrames(path: path) }
        let codecName = String(cString: avcodec_get_name(par.pointee.codec_id))
        guard avcodec_find_decoder(par.pointee.codec_id) != nil else {
            throw VideoError.unsupportedCodec(path: path, codec: codecName)
        }
        let codedWidth = Int(par.pointee.width)
        let codedHeight = Int(par.pointee.height)
        guard codedWidth > 0, codedHeight > 0 else { throw VideoError.noDecodableFrames(path: path) }
        guard codedWidth * codedHeight <= options.maxPixels else {
            throw VideoError.invalidDimensions(width: codedWidth, height: codedHeight, maxPixels: options.maxPixels)
        }
        let rotation = options.applyRotation ? VideoRotation.clockwiseDegrees(of: stream) : 0
        let average = rationalValue(stream.pointee.avg_frame_rate)
        let base = rationalValue(stream.pointee.r_frame_rate)
        let fps = average ?? base ?? 0
        let timeBase = rationalValue(stream.pointee.time_base)
        let noPTS = cffmpeg_nopts_value()
        let streamDuration: Double? = stream.pointee.duration != noPTS && stream.pointee.duration > 0
            ? timeBase.map { Double(stream.pointee.duration) * $0 } : nil
        let containerDuration: Double? = format.pointee.duration != noPTS && format.pointee.duration > 0
            ? Double(format.pointee.duration) / Double(cffmpeg_time_base()) : nil
        let headerCount = stream.pointee.nb_frames > 0 ? Int(stream.pointee.nb_frames) : nil

        var frameCount: Int
        var source: VideoInfo.FrameCountSource
        var index: VideoFrameIndex?
        let knownDuration = streamDuration ?? containerDuration
        if options.frameCounting == .header, let headerCount {
            (frameCount, source) = (headerCount, .header)
        } else if options.frameCounting == .header, let knownDuration, fps > 0 {
            (frameCount, source) = (Int((knownDuration * fps).rounded()), .estimate)
        } else {
            let packets = try session.scanPackets()
            if let headerCount, packets.count < headerCount {
                // MP4/MOV/AVI list every sample up front: fewer in the file means its end is missing.
                throw VideoError.truncated(path: path, reason: "the container lists \(headerCount) video frames but "
                    + "only \(packets.count) are in the file" + (session.readError.map { " (\($0))" } ?? ""))
            }
            index = VideoFrameIndex(packets: packets)
            frameCount = index?.count ?? packets.filter { !$0.isDiscarded }.count
            source = .packetScan
        }
        guard frameCount > 0 else { throw VideoError.noDecodableFrames(path: path) }

        self.index = index
        self.info = VideoInfo(
            width: rotation % 180 == 0 ? codedWidth : codedHeight,
            height: rotation % 180 == 0 ? codedHeight : codedWidth,
            codedWidth: codedWidth, codedHeight: codedHeight, rotation: rotation,
            fps: fps, averageFrameRate: average, baseFrameRate: base,
            frameCount: frameCount, frameCountSource: source, headerFrameCount: headerCount,
            duration: knownDuration ?? (fps > 0 ? Double(frameCount) / fps : 0),
            streamDuration: streamDuration, containerDuration: containerDuration,
            codec: codecName,
            container: format.pointee.iformat.map { String(cString: $0.pointee.name) } ?? "unknown",
            pixelFormat: VideoColorConverter.name(AVPixelFormat(rawValue: par.pointee.format)),
            isSeekable: index != nil)
    }

    /// Opens a reference as qwen-vl-utils writes it: a local path or a `file://` URL (the text after the
    /// 7-character prefix, as in Python's `video[7:]`). `http(s)://` and other URLs throw
    /// ``VideoError/unsupportedReference``: download them first.
    public init(reference: String, options: VideoDecodeOptions = VideoDecodeOptions()) throws {
        if reference.hasPrefix("file://") {
            try self.init(path: String(reference.dropFirst(7)), options: options)
        } else if reference.hasPrefix("http://") || reference.hasPrefix("https://") || reference.hasPrefix("data:") {
            throw VideoError.unsupportedReference(reference)
        } else {
            try self.init(path: reference, options: options)
        }
    }

    /// The frames at `indices`, as RGB, in the order given (duplicates repeated).
    ///
    /// All or nothing: throws ``VideoError/frameIndexOutOfRange`` before decoding if an index is outside
    /// `0..<frameCount`, and any decoding error discards what was decoded so far.
    /// Memory: the returned frames plus one frame in flight.
    public func frames(at indices: [Int]) throws -> [RGBImage] {
        let reader = try VideoFrameReader(decoder: self, indices: indices)
        var decoded: [Int: RGBImage] = [:]
        decoded.reserveCapacity(reader.indices.count)
        while let frame = try reader.next() { decoded[frame.index] = frame.image }
        return try indices.map { index in
            guard let image = decoded[index] else {
                throw VideoError.frameNotDecoded(index: index, path: path, reason: "missing after decoding")
            }
            return image
        }
    }

    /// Calls `body` with each wanted frame in ascending index order (duplicates once), decoding the next frame
    /// only after `body` returns, so the caller can resize or encode each frame with bounded memory.
    public func forEachFrame(at indices: [Int], _ body: (VideoFrame) throws -> Void) throws {
        let reader = try VideoFrameReader(decoder: self, indices: indices)
        while let frame = try reader.next() { try body(frame) }
    }

    /// The wanted frames as an `AsyncSequence`, ascending, one decoded per iteration step (bounded memory).
    public func frameSequence(at indices: [Int]) -> VideoFrameSequence {
        VideoFrameSequence(decoder: self, indices: indices)
    }
}
