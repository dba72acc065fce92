import Foundation
import Synchronization

/// Memory for weights converted at load (f32, q8, q4), carved from 2 MiB-aligned chunks that ask the kernel for
/// transparent huge pages.
///
/// Decode streams every weight once per token. On 4 KiB pages that is one TLB miss per 4 KiB read; on 2 MiB pages
/// the 2B model's 1.6 GB of q8 weights span ~800 pages. q8 decode on the 2-core Zen 3 went from 7.91 to 8.50 tok/s
/// (mean of 6 interleaved pairs; a small gain on a machine whose bandwidth varies ±15 %). Matrices are packed back to back
/// (64-byte aligned) instead of each getting whole huge pages, so the rounding wastes at most one partly used
/// chunk's tail, which stays virtual until written.
///
/// Checkpoint mappings are deliberately not advised: pages faulted through an advised mapping are read as 2 MiB
/// page-cache folios, and every later touch of one maps all of it. The bf16 token embedding, looked up row by
/// row in q8 and q4 runs, then counted ~250 MiB more in RSS after a 512-token prompt, and bf16 decode measured no
/// faster (5.31 vs 5.23 tok/s over 6 interleaved pairs).
///
/// A chunk lives as long as any buffer carved from it; the arena itself holds only a weak reference to the chunk
/// it is filling, so dropping a model returns its memory.
final class HugePageArena: Sendable {
    /// One anonymous mapping, unmapped when the last buffer in it is gone.
    final class Chunk: Sendable {
        private let base: UInt
        let size: Int
        var pointer: UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: base)! }

        /// Maps `size` bytes (a multiple of 2 MiB) at a 2 MiB boundary and advises huge pages; nil if mmap fails.
        init?(size: Int) {
            let huge = HugePageArena.hugePageBytes
            // Over-map by one huge page, then unmap the unaligned head and the tail.
            guard let raw = mmap(nil, size + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
                  raw != MAP_FAILED else { return nil }
            let start = UInt(bitPattern: raw), aligned = (start + UInt(huge) - 1) / UInt(huge) * UInt(huge)
            let head = Int(aligned - start), tail = huge - head
            if head > 0 { munmap(raw, head) }
            if tail > 0 { munmap(UnsafeMutableRawPointer(bitPattern: aligned + UInt(size)), tail) }
            base = aligned
            self.size = size
            _ = madvise(UnsafeMutableRawPointer(bitPattern: aligned), size, Int32(MADV_HUGEPAGE))
        }

        deinit { munmap(UnsafeMutableRawPointer(bitPattern: base), size) }
    }

    /// False when `QWENVL_HUGE_PAGES=0`: converted weights then use the ordinary allocator.
    static let enabled = ProcessInfo.processInfo.environment["QWENVL_HUGE_PAGES"] != "0"

    static let hugePageBytes = 2 << 20
    /// Bytes per shared chunk; larger requests get a chunk of their own.
    static let chunkBytes = 128 << 20

    static let shared = HugePageArena()

    private struct Filling {
        weak var chunk: Chunk?
        var used = 0
    }
    private let filling = Mutex(Filling())

    /// `byteCount` bytes at a 64-byte boundary, zero-filled, and the chunk that must outlive them; nil if the
    /// system refuses the mapping (callers fall back to the ordinary allocator).
    func allocate(byteCount: Int) -> (chunk: Chunk, pointer: UnsafeMutableRawPointer)? {
        let need = (max(byteCount, 1) + 63) / 64 * 64
        let huge = Self.hugePageBytes
        if need > Self.chunkBytes / 4 {
            guard let own = Chunk(size: (need + huge - 1) / huge * huge) else { return nil }
            return (own, own.pointer)
        }
        return filling.withLock { state -> (Chunk, UnsafeMutableRawPointer)? in
            if let chunk = state.chunk, state.used + need <= chunk.size {
                defer { state.used += need }
                return (chunk, chunk.pointer + state.used)
            }
            guard let chunk = Chunk(size: Self.chunkBytes) else { return nil }
            state.chunk = chunk
            state.used = need
            return (chunk, chunk.pointer)
        }
    }
}
