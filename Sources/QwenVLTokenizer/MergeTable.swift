/// An open-addressing hash map from a packed token-id pair to its merge (rank and merged id).
///
/// Key: `UInt64(left) << 32 | UInt64(right)`; value: `UInt64(rank) << 32 | UInt64(mergedID)`. Linear probing
/// over a power-of-two table at most half full; a multiplicative hash keeps lookups to a few instructions.
struct MergeTable: Sendable {
    private var keys: [UInt64]
    private var values: [UInt64]
    private let shift: UInt64
    private let mask: Int
    static let emptyKey = UInt64.max

    init(capacity: Int) {
        var size = 16
        var bits: UInt64 = 4
        while size < capacity * 2 { size <<= 1; bits += 1 }
        keys = [UInt64](repeating: MergeTable.emptyKey, count: size)
        values = [UInt64](repeating: 0, count: size)
        shift = 64 - bits
        mask = size - 1
    }

    @inline(__always)
    static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    @inline(__always)
    private func slot(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// Inserts or replaces (a later duplicate merge overrides an earlier one, as in HF).
    mutating func insert(left: Int32, right: Int32, rank: UInt32, merged: Int32) {
        let key = MergeTable.key(left, right)
        var i = slot(key)
        while keys[i] != MergeTable.emptyKey && keys[i] != key { i = (i + 1) & mask }
        keys[i] = key
        values[i] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: merged))
    }

    /// The packed `(rank << 32) | mergedID` for a pair, or `UInt64.max` if the pair never merges.
    @inline(__always)
    func lookup(_ left: Int32, _ right: Int32) -> UInt64 {
        let key = MergeTable.key(left, right)
        return keys.withUnsafeBufferPointer { k in
            var i = slot(key)
            while true {
                let stored = k[i]
                if stored == key { return values.withUnsafeBufferPointer { $0[i] } }
                if stored == MergeTable.emptyKey { return UInt64.max }
                i = (i + 1) & mask
            }
        }
    }
}
