/// Presentation timestamps of every frame and the keyframes to seek to, built from one packet scan.
///
/// Frame `i` is the frame with the `i`-th smallest pts (presentation order, as decord and torchvision number
/// frames). Seeking to frame `i` means: seek to the last keyframe whose frame comes at or before `i`, then
/// decode forward until the frame whose pts equals `pts[i]` comes out.
struct VideoFrameIndex: Sendable, Equatable {
    /// A place decoding can restart from.
    struct Keyframe: Sendable, Equatable {
        /// Presentation index of the keyframe's own frame.
        var frameIndex: Int
        /// Timestamp handed to `av_seek_frame` with `AVSEEK_FLAG_BACKWARD` (stream time base): the keyframe's
        /// pts, as decord does. Matroska/WebM seek by pts; MP4 seeks on its sample index, whose times are the dts
        /// before the demuxer subtracts its B-frame shift, i.e. at or before the pts. If a demuxer still lands
        /// after the wanted frame, the reader notices (a later pts comes out first) and backs off.
        var seekTimestamp: Int64
    }

    /// Presentation timestamps in stream time base, ascending and unique; `pts.count` frames.
    let pts: [Int64]
    /// Keyframes sorted by `frameIndex`.
    let keyframes: [Keyframe]

    /// Builds the index, or returns nil when some counted packet lacks a pts or two share one (then frames can
    /// only be found by decoding forward and counting).
    init?(packets: [VideoStreamSession.ScannedPacket]) {
        var counted = packets.filter { !$0.isDiscarded }
        // A stream cut mid-GOP (no edit list) starts with packets that reference frames it lacks: decoders drop
        // them (PyAV outputs nothing for them), so they are no frames. Likewise frames that come after the first
        // keyframe but are shown before it (open-GOP leading frames).
        if let first = counted.firstIndex(where: \.isKey), let keyPTS = counted[first].pts {
            counted = counted[first...].filter { packet in packet.pts.map { $0 >= keyPTS } ?? true }
        }
        var timestamps: [Int64] = []
        timestamps.reserveCapacity(counted.count)
        for packet in counted {
            guard let pts = packet.pts else { return nil }
            timestamps.append(pts)
        }
        timestamps.sort()
        for i in timestamps.indices.dropFirst() where timestamps[i] == timestamps[i - 1] { return nil }
        var keys: [Keyframe] = []
        for packet in counted where packet.isKey {
            guard let pts = packet.pts, let index = Self.position(of: pts, in: timestamps) else { continue }
            keys.append(Keyframe(frameIndex: index, seekTimestamp: pts))
        }
        keys.sort { $0.frameIndex < $1.frameIndex }
        self.pts = timestamps
        self.keyframes = keys
    }

    /// Number of frames.
    var count: Int { pts.count }

    /// The presentation index of the frame with this pts, nil when no indexed frame has it.
    func frameIndex(ofPTS value: Int64) -> Int? { Self.position(of: value, in: pts) }

    /// The last keyframe at or before frame `index`, skipping the `skipping` latest such keyframes
    /// (used to back off when a seek overshot); nil when there is none.
    func keyframe(atOrBefore index: Int, skipping: Int = 0) -> Keyframe? {
        var low = 0
        var high = keyframes.count
        while low < high {  // first keyframe with frameIndex > index
            let mid = (low + high) / 2
            if keyframes[mid].frameIndex <= index { low = mid + 1 } else { high = mid }
        }
        let position = low - 1 - skipping
        return position >= 0 ? keyframes[position] : nil
    }

    /// Binary search for `value` in the ascending array `sorted`.
    private static func position(of value: Int64, in sorted: [Int64]) -> Int? {
        var low = 0
        var high = sorted.count
        while low < high {
            let mid = (low + high) / 2
            if sorted[mid] < value { low = mid + 1 } else { high = mid }
        }
        return low < sorted.count && sorted[low] == value ? low : nil
    }
}
