import XCTest
@testable import QwenVLCore

final class HugePageArenaTests: XCTestCase {
    /// Carved buffers are 64-byte aligned, zero-filled, disjoint, and share chunks until one is full.
    func testBuffersAreAlignedZeroedAndDisjoint() throws {
        let sizes = [1 << 20, 3 << 20 + 5, 7 << 20 + 1, 1 << 20 + 63, 20 << 20]
        let buffers = sizes.map { ByteBuffer(byteCount: $0) }
        var spans: [(Int, Int)] = []
        for (buffer, size) in zip(buffers, sizes) {
            let start = Int(bitPattern: buffer.pointer)
            XCTAssertEqual(start % 64, 0)
            let bytes = buffer.pointer.assumingMemoryBound(to: UInt8.self)
            XCTAssertEqual(bytes[0], 0)
            XCTAssertEqual(bytes[size - 1], 0)
            // Fill completely: a buffer that overlapped another would corrupt its pattern.
            bytes.update(repeating: UInt8(truncatingIfNeeded: size), count: size)
            spans.append((start, start + size))
        }
        for (buffer, size) in zip(buffers, sizes) {
            let bytes = buffer.pointer.assumingMemoryBound(to: UInt8.self)
            XCTAssertEqual(bytes[0], UInt8(truncatingIfNeeded: size))
            XCTAssertEqual(bytes[size - 1], UInt8(truncatingIfNeeded: size))
        }
        for i in spans.indices { for j in spans.indices where i < j {
            XCTAssertTrue(spans[i].1 <= spans[j].0 || spans[j].1 <= spans[i].0, "buffers \(i) and \(j) overlap")
        } }
    }

    /// A chunk is unmapped once the last buffer carved from it is gone; a request over a quarter chunk gets its own.
    func testChunkLivesExactlyAsLongAsItsBuffers() throws {
        weak var shared: HugePageArena.Chunk?
        weak var own: HugePageArena.Chunk?
        do {
            let arena = HugePageArena()
            let a = try XCTUnwrap(arena.allocate(byteCount: 1 << 20))
            let b = try XCTUnwrap(arena.allocate(byteCount: 2 << 20))
            XCTAssertTrue(a.chunk === b.chunk)
            XCTAssertEqual(b.pointer - a.pointer, 1 << 20)
            XCTAssertEqual(Int(bitPattern: a.pointer) % HugePageArena.hugePageBytes, 0)
            let big = try XCTUnwrap(arena.allocate(byteCount: HugePageArena.chunkBytes / 2))
            XCTAssertFalse(big.chunk === a.chunk)
            XCTAssertEqual(big.chunk.size, HugePageArena.chunkBytes / 2)
            shared = a.chunk
            own = big.chunk
            XCTAssertNotNil(shared)
        }
        XCTAssertNil(shared, "a chunk outlived its buffers")
        XCTAssertNil(own)
    }
}
