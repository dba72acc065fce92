import CFFmpeg
import Foundation

/// FFmpeg's own log output is silenced once; every failure surfaces as a ``VideoError`` instead.
private let silenceFFmpegLog: Void = { av_log_set_level(AV_LOG_QUIET) }()

/// One open video file: the demuxer, the chosen video stream and (once opened) its decoder.
///
/// Owns the C objects and frees them in `deinit`. Not thread-safe; lives inside one call or one reader.
final class VideoStreamSession {
    /// One demuxed packet of the video stream, as the index scan records it.
    struct ScannedPacket {
        /// Presentation / decoding timestamps in stream time base (`nil` when absent).
        var pts: Int64?
        var dts: Int64?
        /// The demuxer marks the packet as a keyframe.
        var isKey: Bool
        /// The demuxer marks the packet's frame to be dropped after decoding (MP4 edit lists).
        var isDiscarded: Bool
    }

    let path: String
    let streamIndex: Int32
    private var format: UnsafeMutablePointer<AVFormatContext>?
    private var codec: UnsafeMutablePointer<AVCodecContext>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var frame: UnsafeMutablePointer<AVFrame>?
    private var draining = false
    /// The last read error that ended the stream early (kept for error messages).
    private(set) var readError: String?
    /// When set, packets whose pts is not in the set are decoded with `skip_frame = AVDISCARD_NONREF`: the codec
    /// drops them if no other frame references them (B-frames without references), which changes no other frame.
    var wantedPTS: Set<Int64>?

    /// Opens the container, reads stream info and picks the video stream; throws a typed error for bad files.
    init(path: String) throws {
        _ = silenceFFmpegLog
        self.path = path
        try VideoFileCheck.checkReadable(path)
        var context: UnsafeMutablePointer<AVFormatContext>?
        // The explicit `file:` protocol keeps names such as "concat:x" or "http://x" from reaching other protocols.
        let openResult = avformat_open_input(&context, "file:" + path, nil, nil)
        guard openResult >= 0, let context else {
            throw VideoFileCheck.classifyOpenFailure(path: path, code: openResult)
        }
        format = context
        let infoResult = avformat_find_stream_info(context, nil)
        guard infoResult >= 0 else {
            avformat_close_input(&format)
            throw VideoError.decodeFailed(path: path, reason: "reading stream info: \(ffmpegErrorString(infoResult))")
        }
        do {
            streamIndex = try Self.chooseVideoStream(context, path: path)
        } catch {
            avformat_close_input(&format)
            throw error
        }
        // Other streams' packets are skipped by the demuxer where it can (less I/O).
        for i in 0..<Int(context.pointee.nb_streams) where Int32(i) != streamIndex {
            context.pointee.streams[i]?.pointee.discard = AVDISCARD_ALL
        }
        packet = av_packet_alloc()
        frame = av_frame_alloc()
        guard packet != nil, frame != nil else { throw VideoError.outOfMemory(what: "allocating FFmpeg packets") }
    }

    deinit {
        if codec != nil { avcodec_free_context(&codec) }
        if packet != nil { av_packet_free(&packet) }
        if frame != nil { av_frame_free(&frame) }
        if format != nil { avformat_close_input(&format) }
    }

    /// The chosen video stream (valid while the session lives).
    var stream: UnsafeMutablePointer<AVStream> {
        // Non-nil by construction: `chooseVideoStream` only returns indices of existing streams.
        format!.pointee.streams[Int(streamIndex)]!
    }

    /// The container context (valid while the session lives).
    var formatContext: UnsafeMutablePointer<AVFormatContext> { format! }

    /// Picks FFmpeg's best video stream, skipping cover art (attached pictures).
    private static func chooseVideoStream(_ context: UnsafeMutablePointer<AVFormatContext>,
                                          path: String) throws -> Int32 {
        var candidates: [Int32] = []
        var kinds: [String] = []
        for i in 0..<Int(context.pointee.nb_streams) {
            guard let st = context.pointee.streams[i], let par = st.pointee.codecpar else { continue }
            let codecName = String(cString: avcodec_get_name(par.pointee.codec_id))
            let type = par.pointee.codec_type
            let typeName = av_get_media_type_string(type).map { String(cString: $0) } ?? "unknown"
            let isCover = (st.pointee.disposition & AV_DISPOSITION_ATTACHED_PIC) != 0
            kinds.append(isCover ? "cover picture (\(codecName))" : "\(typeName) (\(codecName))")
            if type == AVMEDIA_TYPE_VIDEO && !isCover { candidates.append(Int32(i)) }
        }
        guard !candidates.isEmpty else {
            throw VideoError.noVideoStream(path: path,
                                           streams: kinds.isEmpty ? "no streams" : kinds.joined(separator: ", "))
        }
        let best = av_find_best_stream(context, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
        return candidates.contains(best) ? best : candidates[0]
    }

    /// Opens the decoder for the video stream with `threads` threads (0 = FFmpeg chooses).
    func openDecoder(threads: Int) throws {
        guard codec == nil else { return }
        guard let par = stream.pointee.codecpar else { throw VideoError.noDecodableFrames(path: path) }
        guard let decoder = avcodec_find_decoder(par.pointee.codec_id) else {
            throw VideoError.unsupportedCodec(path: path,
                                              codec: String(cString: avcodec_get_name(par.pointee.codec_id)))
        }
        guard let context = avcodec_alloc_context3(decoder) else {
            throw VideoError.outOfMemory(what: "allocating the video decoder")
        }
        codec = context
        var result = avcodec_parameters_to_context(context, par)
        guard result >= 0 else {
            throw VideoError.decodeFailed(path: path, reason: "decoder parameters: \(ffmpegErrorString(result))")
        }
        context.pointee.pkt_timebase = stream.pointee.time_base
        context.pointee.thread_count = Int32(clamping: max(0, threads))
        result = avcodec_open2(context, decoder, nil)
        guard result >= 0 else {
            throw VideoError.decodeFailed(path: path, reason: "opening the \(String(cString: decoder.pointee.name)) "
                                          + "decoder: \(ffmpegErrorString(result))")
        }
    }

    /// Demuxes every packet of the video stream without decoding it; leaves the session at end of file.
    func scanPackets() throws -> [ScannedPacket] {
        guard let format, let packet else { return [] }
        let noPTS = cffmpeg_nopts_value()
        var packets: [ScannedPacket] = []
        while true {
            let result = av_read_frame(format, packet)
            if result < 0 {
                if result != cffmpeg_error_eof() { readError = ffmpegErrorString(result) }
                break
            }
            defer { av_packet_unref(packet) }
            guard packet.pointee.stream_index == streamIndex else { continue }
            let flags = packet.pointee.flags
            packets.append(ScannedPacket(
                pts: packet.pointee.pts == noPTS ? nil : packet.pointee.pts,
                dts: packet.pointee.dts == noPTS ? nil : packet.pointee.dts,
                isKey: (flags & AV_PKT_FLAG_KEY) != 0,
                isDiscarded: (flags & AV_PKT_FLAG_DISCARD) != 0))
        }
        return packets
    }

    /// Seeks to the keyframe at or before `timestamp` (stream time base) and flushes the decoder.
    func seek(toKeyframeAtOrBefore timestamp: Int64) throws {
        guard let format else { return }
        let result = av_seek_frame(format, streamIndex, timestamp, AVSEEK_FLAG_BACKWARD)
        guard result >= 0 else {
            throw VideoError.decodeFailed(path: path,
                                          reason: "seeking to timestamp \(timestamp): \(ffmpegErrorString(result))")
        }
        if let codec { avcodec_flush_buffers(codec) }
        draining = false
        readError = nil
    }

    /// Decodes the next frame in presentation order; nil at the end of the stream.
    ///
    /// The returned frame is owned by the session and valid until the next call. Packets the decoder rejects
    /// (corrupt data) are skipped, as the `ffmpeg` CLI does; a read error ends the stream (see `readError`).
    func nextFrame() throws -> UnsafeMutablePointer<AVFrame>? {
        guard let codec, let packet, let frame, let format else { return nil }
        let again = cffmpeg_error_eagain()
        let eof = cffmpeg_error_eof()
        var consecutiveErrors = 0
        while true {
            let received = avcodec_receive_frame(codec, frame)
            if received >= 0 { return frame }
            if received == eof { return nil }
            if received != again {
                // A frame failed inside the decoder (e.g. a corrupt slice with frame threads): skip it.
                consecutiveErrors += 1
                if consecutiveErrors > 1000 {
                    throw VideoError.decodeFailed(path: path, reason: ffmpegErrorString(received))
                }
                continue
            }
            if draining { return nil }
            let read = av_read_frame(format, packet)
            if read < 0 {
                if read != eof { readError = ffmpegErrorString(read) }
                draining = true
                _ = avcodec_send_packet(codec, nil)
                continue
            }
            defer { av_packet_unref(packet) }
            guard packet.pointee.stream_index == streamIndex else { continue }
            if let wantedPTS {
                // Read by the codec when the packet is submitted (also with frame threads).
                let pts = packet.pointee.pts
                codec.pointee.skip_frame = pts != cffmpeg_nopts_value() && !wantedPTS.contains(pts)
                    ? AVDISCARD_NONREF : AVDISCARD_DEFAULT
            }
            let sent = avcodec_send_packet(codec, packet)
            if sent < 0 && sent != again {
                consecutiveErrors += 1
                if sent == cffmpeg_error_enomem() { throw VideoError.outOfMemory(what: "decoding video") }
                if consecutiveErrors > 1000 {
                    throw VideoError.decodeFailed(path: path, reason: ffmpegErrorString(sent))
                }
            } else {
                consecutiveErrors = 0
            }
        }
    }
}

/// FFmpeg's text for an error code, e.g. "Invalid data found when processing input".
func ffmpegErrorString(_ code: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    if av_strerror(code, &buffer, buffer.count) < 0 { return "FFmpeg error \(code)" }
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}

/// An `AVRational` as a Double, nil when it is unset (zero numerator or denominator).
func rationalValue(_ value: AVRational) -> Double? {
    guard value.num != 0, value.den != 0 else { return nil }
    return Double(value.num) / Double(value.den)
}
