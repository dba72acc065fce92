import Foundation

/// A bounded, lock-protected cache from a pre-token's bytes to its BPE ids, shared by all encode calls.
///
/// Open addressing over a fixed slot array, with keys and ids stored in two arenas, so a lookup allocates
/// nothing. When it fills up it is simply cleared (results never depend on the cache). Pieces longer than
/// `maxKeyLength` bytes are not cached.
final class WordCache: @unchecked Sendable {
    // All mutable state is guarded by `lock`.
    private let lock = NSLock()
    private var hashes: [UInt64]
    private var entries: [Entry]
    private var keys: [UInt8] = []
    private var ids: [Int32] = []
    private var count = 0
    private let mask: Int

    static let slotCount = 1 << 16
    static let maxEntries = slotCount / 2
    static let maxKeyLength = 128
    static let maxArenaBytes = 4 << 20

    private struct Entry {
        var keyStart: Int32 = 0
        var keyLength: Int32 = 0
        var idStart: Int32 = 0
        var idCount: Int32 = 0
    }

    init() {
        hashes = [UInt64](repeating: 0, count: WordCache.slotCount)
        entries = [Entry](repeating: Entry(), count: WordCache.slotCount)
        mask = WordCache.slotCount - 1
        keys.reserveCapacity(1 << 16)
        ids.reserveCapacity(1 << 14)
    }

    /// Appends the cached ids of `piece` to `out` and returns true, or returns false on a miss.
    func lookup(_ piece: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) -> Bool {
        guard piece.count <= WordCache.maxKeyLength else { return false }
        let h = ByteHash.hash(piece)
        lock.lock()
        defer { lock.unlock() }
        var slot = Int(truncatingIfNeeded: h) & mask
        while true {
            let stored = hashes[slot]
            if stored == 0 { return false }
            if stored == h {
                let entry = entries[slot]
                if Int(entry.keyLength) == piece.count, equalKey(entry, piece) {
                    let start = Int(entry.idStart)
                    out.append(contentsOf: ids[start..<start + Int(entry.idCount)])
                    return true
                }
            }
            slot = (slot + 1) & mask
        }
    }

    @inline(__always)
    private func equalKey(_ entry: Entry, _ piece: UnsafeBufferPointer<UInt8>) -> Bool {
        keys.withUnsafeBufferPointer { k in
            let start = Int(entry.keyStart)
            for i in 0..<piece.count where k[start + i] != piece[i] { return false }
            return true
        }
    }

    /// Remembers the ids of `piece` (clearing the whole cache first when it is full).
    func insert(_ piece: UnsafeBufferPointer<UInt8>, ids newIDs: ArraySlice<Int32>) {
        guard piece.count <= WordCache.maxKeyLength else { return }
        let h = ByteHash.hash(piece)
        lock.lock()
        defer { lock.unlock() }
        if count >= WordCache.maxEntries || keys.count + piece.count > WordCache.maxArenaBytes {
            for i in 0..<hashes.count { hashes[i] = 0 }
            keys.removeAll(keepingCapacity: true)
            ids.removeAll(keepingCapacity: true)
            count = 0
        }
        var slot = Int(truncatingIfNeeded: h) & mask
        while hashes[slot] != 0 {
            if hashes[slot] == h, Int(entries[slot].keyLength) == piece.count, equalKey(entries[slot], piece) {
                return  // another thread inserted it meanwhile
            }
            slot = (slot + 1) & mask
        }
        hashes[slot] = h
        entries[slot] = Entry(keyStart: Int32(keys.count), keyLength: Int32(piece.count),
                              idStart: Int32(ids.count), idCount: Int32(newIDs.count))
        keys.append(contentsOf: piece)
        ids.append(contentsOf: newIDs)
        count += 1
    }
}
