/// A hash map from byte strings (a token's UTF-8 text) to token ids, compared byte for byte like Rust's
/// `HashMap<String, u32>` — unlike Swift `String` keys, which hash through Unicode normalization and made
/// loading the 151k-token vocabulary several times slower.
struct TokenLookupTable: Sendable {
    private var slots: [UInt64]       // (hash high 32 bits) << 32 | (index + 1); 0 = empty
    private var keyOffsets: [Int32]   // index → start in `arena`; shape [count + 1]
    private var ids: [Int32]
    private var arena: [UInt8]
    private var mask: Int

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [UInt64](repeating: 0, count: size)
        keyOffsets = [0]
        keyOffsets.reserveCapacity(capacity + 1)
        ids = []
        ids.reserveCapacity(capacity)
        arena = []
        arena.reserveCapacity(capacity * 8)
        mask = size - 1
    }

    var count: Int { ids.count }

    /// Adds `key → id`; an existing key keeps its first id unless `replace` is set.
    mutating func insert(_ key: UnsafeBufferPointer<UInt8>, id: Int32, replace: Bool = false) {
        let h = ByteHash.hash(key)
        var slot = Int(truncatingIfNeeded: h) & mask
        while slots[slot] != 0 {
            let index = Int(slots[slot] & 0xFFFF_FFFF) - 1
            if slots[slot] >> 32 == h >> 32, keyEquals(index, key) {
                if replace { ids[index] = id }
                return
            }
            slot = (slot + 1) & mask
        }
        arena.append(contentsOf: key)
        keyOffsets.append(Int32(arena.count))
        ids.append(id)
        slots[slot] = (h >> 32) << 32 | UInt64(ids.count)
        if ids.count * 2 > slots.count { grow() }
    }

    mutating func insert(_ key: String, id: Int32, replace: Bool = false) {
        var copy = key
        copy.withUTF8 { insert($0, id: id, replace: replace) }
    }

    /// The id of a byte string, or nil.
    func lookup(_ key: UnsafeBufferPointer<UInt8>) -> Int32? {
        let h = ByteHash.hash(key)
        var slot = Int(truncatingIfNeeded: h) & mask
        while true {
            let entry = slots[slot]
            if entry == 0 { return nil }
            let index = Int(entry & 0xFFFF_FFFF) - 1
            if entry >> 32 == h >> 32, keyEquals(index, key) { return ids[index] }
            slot = (slot + 1) & mask
        }
    }

    func lookup(_ key: String) -> Int32? {
        var copy = key
        return copy.withUTF8 { lookup($0) }
    }

    @inline(__always)
    private func keyEquals(_ index: Int, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        let start = Int(keyOffsets[index])
        let end = Int(keyOffsets[index + 1])
        guard end - start == key.count else { return false }
        return arena.withUnsafeBufferPointer { a in
            for k in 0..<key.count where a[start + k] != key[k] { return false }
            return true
        }
    }

    private mutating func grow() {
        let size = slots.count * 2
        var newSlots = [UInt64](repeating: 0, count: size)
        let newMask = size - 1
        for index in 0..<ids.count {
            let start = Int(keyOffsets[index]), end = Int(keyOffsets[index + 1])
            let h = arena.withUnsafeBufferPointer { ByteHash.hash(UnsafeBufferPointer(rebasing: $0[start..<end])) }
            var slot = Int(truncatingIfNeeded: h) & newMask
            while newSlots[slot] != 0 { slot = (slot + 1) & newMask }
            newSlots[slot] = (h >> 32) << 32 | UInt64(index + 1)
        }
        slots = newSlots
        mask = newMask
    }
}

/// A fast 64-bit hash of a byte string (multiply-xorshift over 8-byte words), never 0.
enum ByteHash {
    @inline(__always)
    static func hash(_ p: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325 ^ UInt64(p.count)
        guard let base = p.baseAddress else { return h }
        var i = 0
        let n = p.count
        while i + 8 <= n {
            let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
            h = (h ^ word) &* 0x9E37_79B9_7F4A_7C15
            h ^= h >> 29
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < n {
            tail |= UInt64(p[i]) << shift
            shift += 8
            i += 1
        }
        h = (h ^ tail) &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 32
        h = h &* 0xD6E8_FEB8_6659_FD93
        h ^= h >> 32
        return h == 0 ? 1 : h
    }
}
