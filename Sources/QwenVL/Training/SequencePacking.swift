import Foundation

/// Greedy sequence packing: consecutive examples share one training sequence of at most `capacity` tokens.
///
/// Examples are appended in order while they fit; the next one that does not fit starts a new sequence. Each
/// packed example keeps its own ids, labels and positions (positions restart at every example) and
/// `sequenceStarts` records where it begins, so attention can be kept within it.
public struct SequencePacker: Sendable {
    /// Most tokens per packed sequence.
    public let capacity: Int
    /// The sequence being filled.
    private var current: SFTExample?

    public init(capacity: Int) {
        precondition(capacity > 0, "packing capacity must be positive")
        self.capacity = capacity
    }

    /// Adds `example` (unpacked, `count <= capacity`); returns the finished sequence when `example` did not fit.
    public mutating func add(_ example: SFTExample) throws -> SFTExample? {
        guard example.count <= capacity else {
            throw QwenVLError("example of \(example.count) tokens is longer than --pack-to \(capacity) (use --truncate to cut it)")
        }
        guard var packed = current else {
            current = example
            return nil
        }
        guard packed.count + example.count <= capacity else {
            current = example
            return packed
        }
        let offset = Int32(packed.count)
        packed.sequenceStarts += example.sequenceStarts.map { $0 + offset }
        packed.inputIDs += example.inputIDs
        packed.labels += example.labels
        packed.positions.t += example.positions.t
        packed.positions.h += example.positions.h
        packed.positions.w += example.positions.w
        packed.imageGrids += example.imageGrids
        packed.imagePixels += example.imagePixels
        packed.videoGrids += example.videoGrids
        packed.videoPixels += example.videoPixels
        current = packed
        return nil
    }

    /// The last, partly filled sequence (nil when empty); the packer is empty afterwards.
    public mutating func finish() -> SFTExample? {
        defer { current = nil }
        return current
    }

    /// Packs `examples` in order.
    public static func pack(_ examples: [SFTExample], capacity: Int) throws -> [SFTExample] {
        var packer = SequencePacker(capacity: capacity)
        var result: [SFTExample] = []
        for example in examples {
            if let done = try packer.add(example) { result.append(done) }
        }
        if let last = packer.finish() { result.append(last) }
        return result
    }

    /// The first `length` tokens of an unpacked `example`, never cutting a vision block: a block that would be cut
    /// is dropped whole with its grid and pixel rows (the cut moves to its `<|vision_start|>`).
    ///
    /// Positions of a prefix equal the prefix of the positions (M-RoPE ids depend only on earlier tokens).
    public static func truncate(_ example: SFTExample, to length: Int, visionStart: Int32, imageToken: Int32,
                                videoToken: Int32) -> SFTExample {
        guard example.count > length else { return example }
        var cut = length
        // Move the cut back to the vision_start of a block it would split.
        if let lastStart = example.inputIDs[..<cut].lastIndex(of: visionStart) {
            let inside = example.inputIDs[(lastStart + 1)...].prefix { $0 == imageToken || $0 == videoToken }
            if lastStart + 1 + inside.count >= cut { cut = lastStart }
        }
        func blocks(_ token: Int32) -> Int {
            var count = 0, previous: Int32 = -1
            for id in example.inputIDs[..<cut] {
                if id == token, previous != token { count += 1 }
                previous = id
            }
            return count
        }
        let images = blocks(imageToken), videos = blocks(videoToken)
        let imageRows = example.imageGrids.prefix(images).reduce(0) { $0 + $1.patchCount } * SFTShard.patchRowWidth
        let videoRows = example.videoGrids.prefix(videos).reduce(0) { $0 + $1.patchCount } * SFTShard.patchRowWidth
        return SFTExample(inputIDs: Array(example.inputIDs[..<cut]), labels: Array(example.labels[..<cut]),
                          positions: PositionIDs(t: Array(example.positions.t[..<cut]), h: Array(example.positions.h[..<cut]),
                                                 w: Array(example.positions.w[..<cut])),
                          sequenceStarts: example.sequenceStarts,
                          imageGrids: Array(example.imageGrids.prefix(images)), imagePixels: Array(example.imagePixels.prefix(imageRows)),
                          videoGrids: Array(example.videoGrids.prefix(videos)), videoPixels: Array(example.videoPixels.prefix(videoRows)))
    }
}
