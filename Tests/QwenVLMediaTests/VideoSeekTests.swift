import Foundation
import XCTest
import QwenVLMedia

/// Frames fetched by index (seeking over gaps, any order, duplicates, async) equal PyAV's sequential decode.
final class VideoSeekTests: XCTestCase {
    /// Options that seek whenever a keyframe lies past the decoder's position, to exercise seeking on tiny files.
    private let eagerSeek = VideoDecodeOptions(minimumFramesSkippedBySeek: 1)

    /// Index sets with large gaps, backwards and near the ends (deterministic).
    private func indexSets(count: Int) -> [[Int]] {
        var sets: [[Int]] = [[count - 1], [0, count - 1], [count - 1, 0], [count / 2, 1, count - 2]]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for size in [2, 3, 5] where size < count {
            var pick: Set<Int> = []
            while pick.count < size {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                pick.insert(Int(state >> 33) % count)
            }
            sets.append(pick.sorted())
        }
        // Stride like qwen-vl-utils' evenly spaced sampling.
        sets.append(stride(from: 0, to: count, by: max(1, count / 4)).map { $0 })
        return sets
    }

    func testFramesByIndexWithSeekingEqualPyAVFrames() throws {
        var totalSeeks = 0
        for item in try VideoFixtures.cases() {
            let video = try VideoDecoder(path: VideoFixtures.path(item.file), options: eagerSeek)
            for indices in indexSets(count: item.decoded_frames) {
                let images = try video.frames(at: indices)
                XCTAssertEqual(images.count, indices.count)
                for (index, image) in zip(indices, images) {
                    XCTAssertEqual(VideoFixtures.crc32(image.pixels), item.crc32[index],
                                   "\(item.name) frame \(index) fetched with \(indices) differs from PyAV")
                }
                let reader = try VideoFrameReader(decoder: video, indices: indices)
                while try reader.next() != nil {}
                totalSeeks += reader.seekCount
                if !video.info.isSeekable { XCTAssertEqual(reader.seekCount, 0, item.name) }
            }
        }
        XCTAssertGreaterThan(totalSeeks, 20, "the index sets should have made the reader seek")
    }

    func testSeekingSkipsDecodingOnALongGOPStructure() throws {
        // 40 frames, keyframe every 8, 3 B-frames: fetching the last frame decodes only its GOP.
        let item = try VideoFixtures.named("h264_yuv420p")
        let video = try VideoDecoder(path: VideoFixtures.path(item.file), options: eagerSeek)
        let reader = try VideoFrameReader(decoder: video, indices: [39])
        let frame = try XCTUnwrap(try reader.next())
        XCTAssertEqual(VideoFixtures.crc32(frame.image.pixels), item.crc32[39])
        XCTAssertEqual(reader.seekCount, 1)
        XCTAssertLessThanOrEqual(reader.decodedFrameCount, 8)
        XCTAssertNil(try reader.next())

        // Default threshold (12): a gap of 7 frames is decoded through, not sought.
        let forward = try VideoFrameReader(decoder: VideoDecoder(path: VideoFixtures.path(item.file)),
                                           indices: [0, 8])
        while try forward.next() != nil {}
        XCTAssertEqual(forward.seekCount, 0)
    }

    func testUnwantedNonReferenceFramesAreSkipped() throws {
        // Decoding forward from 0 to 39 without seeking: non-reference B-frames need not be decoded.
        let item = try VideoFixtures.named("h264_yuv420p")
        var counts: [Bool: Int] = [:]
        for skip in [false, true] {
            let options = VideoDecodeOptions(minimumFramesSkippedBySeek: Int.max, skipUnwantedNonReferenceFrames: skip)
            let reader = try VideoFrameReader(decoder: VideoDecoder(path: VideoFixtures.path(item.file),
                                                                    options: options), indices: [0, 21, 39])
            while let frame = try reader.next() {
                XCTAssertEqual(VideoFixtures.crc32(frame.image.pixels), item.crc32[frame.index], "skip \(skip)")
            }
            counts[skip] = reader.decodedFrameCount
        }
        XCTAssertEqual(counts[false], 40)
        XCTAssertLessThan(counts[true] ?? 40, 30, "x264 with 3 B-frames has non-reference B-frames to drop")
    }

    func testOpenGOPLeadingFramesAfterSeeking() throws {
        // Non-IDR keyframes with leading B-frames: every frame, fetched alone, must match.
        let item = try VideoFixtures.named("h264_opengop")
        let video = try VideoDecoder(path: VideoFixtures.path(item.file), options: eagerSeek)
        for index in 0..<item.decoded_frames {
            let image = try XCTUnwrap(try video.frames(at: [index]).first)
            XCTAssertEqual(VideoFixtures.crc32(image.pixels), item.crc32[index], "open-GOP frame \(index)")
        }
    }

    func testOrderAndDuplicatesAreKept() throws {
        let item = try VideoFixtures.named("h264_yuv420p")
        let video = try VideoDecoder(path: VideoFixtures.path(item.file))
        let indices = [30, 2, 30, 0, 39, 2]
        let images = try video.frames(at: indices)
        XCTAssertEqual(images.map { VideoFixtures.crc32($0.pixels) }, indices.map { item.crc32[$0] })

        var seen: [Int] = []
        try video.forEachFrame(at: indices) { seen.append($0.index) }
        XCTAssertEqual(seen, [0, 2, 30, 39], "forEachFrame yields ascending, once each")
        XCTAssertEqual(try video.frames(at: []), [])
    }

    func testAsyncSequenceYieldsTheSameFrames() async throws {
        let item = try VideoFixtures.named("vp9")
        let video = try VideoDecoder(reference: "file://" + VideoFixtures.path(item.file), options: eagerSeek)
        var indices: [Int] = []
        for try await frame in video.frameSequence(at: [9, 0, 5]) {
            indices.append(frame.index)
            XCTAssertEqual(VideoFixtures.crc32(frame.image.pixels), item.crc32[frame.index])
            XCTAssertEqual(frame.timestamp ?? -1, Double(item.pts?[frame.index] ?? 0) / 1000, accuracy: 1e-9)
        }
        XCTAssertEqual(indices, [0, 5, 9])

        var iterator = video.frameSequence(at: [0, 99]).makeAsyncIterator()
        do {
            _ = try await iterator.next()
            XCTFail("index 99 of 10 frames must throw")
        } catch let error as VideoError {
            XCTAssertEqual(error, .frameIndexOutOfRange(index: 99, frameCount: 10))
        }
        let afterError = try await iterator.next()
        XCTAssertNil(afterError)
    }

    func testConcurrentFetchesFromOneDecoder() async throws {
        // The decoder is a Sendable value; each fetch opens its own FFmpeg contexts.
        let item = try VideoFixtures.named("h264_yuv420p")
        let video = try VideoDecoder(path: VideoFixtures.path(item.file), options: eagerSeek)
        let sets: [[Int]] = [[0, 20, 39], [39, 1], [7, 8, 9, 30], [15], [38, 2, 21], [5, 33]]
        let results = try await withThrowingTaskGroup(of: (Int, [UInt32]).self) { group in
            for (slot, indices) in sets.enumerated() {
                group.addTask { (slot, try video.frames(at: indices).map { VideoFixtures.crc32($0.pixels) }) }
            }
            var collected: [Int: [UInt32]] = [:]
            for try await (slot, crcs) in group { collected[slot] = crcs }
            return collected
        }
        for (slot, indices) in sets.enumerated() {
            XCTAssertEqual(results[slot], indices.map { item.crc32[$0] }, "\(indices)")
        }
    }

    func testHeaderFrameCountingDecodesForward() throws {
        for name in ["h264_yuv420p", "vp9", "ffv1_bgr0"] {
            let item = try VideoFixtures.named(name)
            let video = try VideoDecoder(path: VideoFixtures.path(item.file),
                                         options: VideoDecodeOptions(frameCounting: .header))
            XCTAssertFalse(video.info.isSeekable)
            if item.stream_frames > 0 {
                XCTAssertEqual(video.info.frameCountSource, .header)
                XCTAssertEqual(video.info.frameCount, item.stream_frames)
            } else {
                // MKV/WebM store no count: round(duration × fps) from the container duration.
                XCTAssertEqual(video.info.frameCountSource, .estimate)
                XCTAssertEqual(Double(video.info.frameCount),
                               ((item.container_duration ?? 0) * (item.average_rate ?? 0)).rounded())
            }
            let last = min(video.info.frameCount, item.decoded_frames) - 1
            let images = try video.frames(at: [last, 1])
            XCTAssertEqual(images.map { VideoFixtures.crc32($0.pixels) }, [item.crc32[last], item.crc32[1]], name)
        }
    }

    func testRotationCanBeTurnedOff() throws {
        let item = try VideoFixtures.named("h264_rotate90")
        let upright = try VideoDecoder(path: VideoFixtures.path(item.file))
        let stored = try VideoDecoder(path: VideoFixtures.path(item.file),
                                      options: VideoDecodeOptions(applyRotation: false))
        XCTAssertEqual(stored.info.rotation, 0)
        XCTAssertEqual([stored.info.width, stored.info.height], [item.width, item.height])
        XCTAssertEqual([upright.info.width, upright.info.height], [item.height, item.width])
        let rotated = try XCTUnwrap(try upright.frames(at: [3]).first)
        let raw = try XCTUnwrap(try stored.frames(at: [3]).first)
        XCTAssertEqual(VideoFixtures.crc32(rotated.pixels), item.crc32[3])
        // Clockwise quarter turn: upright (x', y') is stored (x = y', y = height − 1 − x').
        for y in 0..<raw.height {
            for x in 0..<raw.width {
                let up = rotated[raw.height - 1 - y, x]
                let st = raw[x, y]
                XCTAssertTrue(up == st, "pixel (\(x), \(y)) of the stored frame lands at the wrong place")
                if up != st { return }
            }
        }
    }
}
