import CFFmpeg

/// Pulls the requested frames of a video one at a time, in ascending index order, decoding forward and seeking.
///
/// Only the wanted frames are converted to RGB, and each is handed out before the next is decoded, so memory
/// stays at one frame plus the decoder's own reference frames, however long the video. A reader is not
/// thread-safe (use it from one task); ``VideoDecoder`` creates one per call.
///
/// How a frame is reached (when the file has a timestamp index, ``VideoInfo/isSeekable``):
/// - if the last keyframe at or before the wanted frame lies at least
///   ``VideoDecodeOptions/minimumFramesSkippedBySeek`` frames past the decoder's position, seek there
///   (`AVSEEK_FLAG_BACKWARD`) and flush the decoder; otherwise keep decoding forward;
/// - decode until the frame whose pts equals the wanted frame's pts comes out;
/// - if a later frame comes out first (a demuxer landed after the frame), back off to earlier keyframes, and as a
///   last resort decode from the start of the file.
/// Without an index, frames are numbered in the order the decoder outputs them from the start.
///
/// ```swift
/// let reader = try VideoFrameReader(decoder: decoder, indices: [0, 30, 60])
/// while let frame = try reader.next() { use(frame.image) }
/// ```
public final class VideoFrameReader {
    private let decoder: VideoDecoder
    /// Wanted frame indices, ascending and unique.
    public let indices: [Int]
    private var position = 0
    private var session: VideoStreamSession?
    private let converter = VideoColorConverter()
    /// Presentation index of the last frame the decoder output (−1: none since the start or the last seek).
    private var lastOutput = -1
    /// Frames the decoder output since the session started (for sequential numbering and error messages).
    private var outputCount = 0
    /// Frames the decoder produced so far, wanted or not (diagnostics: shows what seeking and skipping saved;
    /// frames dropped by ``VideoDecodeOptions/skipUnwantedNonReferenceFrames`` are not counted).
    public private(set) var decodedFrameCount = 0
    /// Seeks made so far.
    public private(set) var seekCount = 0

    /// Prepares to read `indices` (any order, duplicates allowed; read once each, ascending).
    /// Throws ``VideoError/frameIndexOutOfRange`` before decoding anything if an index is outside the video.
    public init(decoder: VideoDecoder, indices: [Int]) throws {
        let count = decoder.info.frameCount
        if let bad = indices.first(where: { $0 < 0 || $0 >= count }) {
            throw VideoError.frameIndexOutOfRange(index: bad, frameCount: count)
        }
        self.decoder = decoder
        self.indices = Array(Set(indices)).sorted()
    }

    /// The next wanted frame, or nil when all have been read. Closes the file after the last one.
    public func next() throws -> VideoFrame? {
        guard position < indices.count else {
            session = nil
            return nil
        }
        do {
            let frame = try decodeFrame(indices[position])
            position += 1
            if position == indices.count { session = nil }
            return frame
        } catch {
            session = nil
            position = indices.count
            throw error
        }
    }

    /// Opens a fresh session at the start of the file.
    private func restart() throws -> VideoStreamSession {
        session = nil
        let opened = try VideoStreamSession(path: decoder.path)
        try opened.openDecoder(threads: decoder.options.threads)
        if let index = decoder.index, decoder.options.skipUnwantedNonReferenceFrames {
            opened.wantedPTS = Set(indices.map { index.pts[$0] })
        }
        session = opened
        lastOutput = -1
        outputCount = 0
        return opened
    }

    /// Decodes forward (seeking when it pays) to frame `target` and returns it converted to RGB.
    private func decodeFrame(_ target: Int) throws -> VideoFrame {
        var current = try session ?? restart()
        guard let index = decoder.index else { return try decodeSequentially(to: target, current) }

        var backoff = 0
        if let key = index.keyframe(atOrBefore: target),
           key.frameIndex - (lastOutput + 1) >= max(1, decoder.options.minimumFramesSkippedBySeek) {
            try current.seek(toKeyframeAtOrBefore: key.seekTimestamp)
            seekCount += 1
            lastOutput = key.frameIndex - 1
        }
        let noPTS = cffmpeg_nopts_value()
        while true {
            guard let frame = try current.nextFrame() else {
                if outputCount == 0 { throw VideoError.noDecodableFrames(path: decoder.path) }
                throw VideoError.frameNotDecoded(index: target, path: decoder.path, reason: endReason(current))
            }
            outputCount += 1
            decodedFrameCount += 1
            let pts = frame.pointee.pts != noPTS ? frame.pointee.pts : frame.pointee.best_effort_timestamp
            guard let found = index.frameIndex(ofPTS: pts) else { continue }  // not an indexed frame
            lastOutput = found
            if found < target { continue }
            if found == target { return try makeFrame(frame, index: target, pts: pts, current) }
            // Overshot: the seek landed after the frame (or the frame did not decode). Back off and retry.
            backoff += 1
            if backoff <= 2, let earlier = index.keyframe(atOrBefore: target, skipping: backoff) {
                try current.seek(toKeyframeAtOrBefore: earlier.seekTimestamp)
                seekCount += 1
                lastOutput = earlier.frameIndex - 1
            } else if backoff <= 3 {
                current = try restart()
            } else {
                throw VideoError.frameNotDecoded(index: target, path: decoder.path,
                                                 reason: "the decoder never produced it (next frame was \(found))")
            }
        }
    }

    /// Without a timestamp index: frame `i` is the `i`-th frame the decoder outputs from the start.
    private func decodeSequentially(to target: Int, _ current: VideoStreamSession) throws -> VideoFrame {
        while true {
            guard let frame = try current.nextFrame() else {
                if outputCount == 0 { throw VideoError.noDecodableFrames(path: decoder.path) }
                throw VideoError.frameNotDecoded(index: target, path: decoder.path, reason: endReason(current))
            }
            let found = outputCount
            outputCount += 1
            decodedFrameCount += 1
            lastOutput = found
            if found == target {
                let noPTS = cffmpeg_nopts_value()
                let pts = frame.pointee.pts != noPTS ? frame.pointee.pts : frame.pointee.best_effort_timestamp
                return try makeFrame(frame, index: target, pts: pts, current)
            }
        }
    }

    private func endReason(_ current: VideoStreamSession) -> String {
        let base = "the stream ended after \(outputCount) decoded frames"
        return current.readError.map { "\(base) (read error: \($0))" } ?? base
    }

    private func makeFrame(_ frame: UnsafeMutablePointer<AVFrame>, index: Int, pts: Int64,
                           _ current: VideoStreamSession) throws -> VideoFrame {
        var image = try converter.convert(frame, maxPixels: decoder.options.maxPixels, path: decoder.path)
        if decoder.info.rotation != 0 {
            image = VideoRotation.rotate(image, clockwise: decoder.info.rotation)
        }
        let timeBase = current.stream.pointee.time_base
        let seconds = pts == cffmpeg_nopts_value() ? nil : rationalValue(timeBase).map { Double(pts) * $0 }
        return VideoFrame(index: index, timestamp: seconds, image: image)
    }
}
