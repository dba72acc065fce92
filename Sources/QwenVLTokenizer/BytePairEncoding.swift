/// Byte-level BPE: a piece's bytes become byte tokens, then adjacent pairs merge by lowest rank.
///
/// Semantics are HF `tokenizers`' `Word::merge_all` without dropout: repeatedly merge the adjacent pair with
/// the lowest merge rank, leftmost first on ties. Short words use a linear scan; long ones (> 64 symbols)
/// the same priority-queue algorithm as HF, so pathological inputs stay O(n log n).
struct BytePairEncoding: Sendable {
    /// Token id of each raw byte (its byte-level character), or -1. Shape [256].
    let byteToID: [Int32]
    let merges: MergeTable

    /// Words with at most this many symbols use the quadratic scan.
    static let linearLimit = 64

    /// Reusable buffers for one encode call (never shared between threads).
    struct Scratch {
        var symbols: [Int32] = []
        var packed: [UInt64] = []
        var next: [Int32] = []
        var prev: [Int32] = []
        var heap: [UInt64] = []
        init() {
            symbols.reserveCapacity(256)
            packed.reserveCapacity(256)
        }
    }

    /// Appends the token ids of one piece (raw UTF-8 bytes) to `out`.
    func encode(_ word: UnsafeBufferPointer<UInt8>, scratch: inout Scratch, into out: inout [Int32]) {
        if word.count == 1 {
            let id = byteToID[Int(word[0])]
            if id >= 0 { out.append(id) }
            return
        }
        scratch.symbols.removeAll(keepingCapacity: true)
        for b in word {
            let id = byteToID[Int(b)]
            if id >= 0 { scratch.symbols.append(id) }
        }
        if scratch.symbols.count <= BytePairEncoding.linearLimit {
            mergeLinear(&scratch)
            out.append(contentsOf: scratch.symbols)
        } else {
            mergeWithHeap(&scratch, into: &out)
        }
    }

    /// Quadratic merge loop over a contiguous symbol array (best for the usual 1–20 symbols).
    private func mergeLinear(_ scratch: inout Scratch) {
        var n = scratch.symbols.count
        if n < 2 { return }
        scratch.packed.removeAll(keepingCapacity: true)
        for k in 0..<(n - 1) {
            scratch.packed.append(merges.lookup(scratch.symbols[k], scratch.symbols[k + 1]))
        }
        scratch.symbols.withUnsafeMutableBufferPointer { symbols in
            scratch.packed.withUnsafeMutableBufferPointer { packed in
                while n > 1 {
                    // packed = rank << 32 | id, so the minimum is the lowest rank, and the scan keeps the first.
                    var best = 0
                    var bestValue = packed[0]
                    for k in 1..<(n - 1) where packed[k] < bestValue {
                        best = k
                        bestValue = packed[k]
                    }
                    if bestValue == UInt64.max { break }
                    symbols[best] = Int32(bitPattern: UInt32(truncatingIfNeeded: bestValue))
                    // Remove symbol best+1 and pair best (shift left).
                    var k = best + 1
                    while k < n - 1 {
                        symbols[k] = symbols[k + 1]
                        packed[k - 1] = packed[k]
                        k += 1
                    }
                    n -= 1
                    if best > 0 { packed[best - 1] = merges.lookup(symbols[best - 1], symbols[best]) }
                    if best < n - 1 { packed[best] = merges.lookup(symbols[best], symbols[best + 1]) }
                }
            }
        }
        scratch.symbols.removeLast(scratch.symbols.count - n)
    }

    /// HF's algorithm: a min-heap of (rank, position) with lazy deletion over a doubly linked symbol list.
    private func mergeWithHeap(_ scratch: inout Scratch, into out: inout [Int32]) {
        let n = scratch.symbols.count
        scratch.next = (0..<n).map { Int32($0 + 1) }
        scratch.prev = (0..<n).map { Int32($0 - 1) }
        scratch.heap.removeAll(keepingCapacity: true)
        var heap = MinHeap(storage: scratch.heap)
        for k in 0..<(n - 1) {
            let value = merges.lookup(scratch.symbols[k], scratch.symbols[k + 1])
            if value != UInt64.max { heap.push(value & 0xFFFF_FFFF_0000_0000 | UInt64(k)) }
        }
        var removed = [Bool](repeating: false, count: n)
        while let top = heap.pop() {
            let rank = top >> 32
            let pos = Int(top & 0xFFFF_FFFF)
            if removed[pos] { continue }
            let right = Int(scratch.next[pos])
            if right >= n { continue }
            let value = merges.lookup(scratch.symbols[pos], scratch.symbols[right])
            // Stale entry: the pair at `pos` changed since it was queued.
            if value == UInt64.max || value >> 32 != rank { continue }
            scratch.symbols[pos] = Int32(bitPattern: UInt32(truncatingIfNeeded: value))
            removed[right] = true
            let afterRight = Int(scratch.next[right])
            scratch.next[pos] = Int32(afterRight)
            if afterRight < n { scratch.prev[afterRight] = Int32(pos) }
            let before = Int(scratch.prev[pos])
            if before >= 0 {
                let v = merges.lookup(scratch.symbols[before], scratch.symbols[pos])
                if v != UInt64.max { heap.push(v & 0xFFFF_FFFF_0000_0000 | UInt64(before)) }
            }
            if afterRight < n {
                let v = merges.lookup(scratch.symbols[pos], scratch.symbols[afterRight])
                if v != UInt64.max { heap.push(v & 0xFFFF_FFFF_0000_0000 | UInt64(pos)) }
            }
        }
        scratch.heap = heap.storage
        var k = 0
        while k < n {
            out.append(scratch.symbols[k])
            k = Int(scratch.next[k])
        }
    }
}

/// A binary min-heap of UInt64 keys (`rank << 32 | position`, so ties break to the leftmost position).
struct MinHeap {
    var storage: [UInt64]

    mutating func push(_ value: UInt64) {
        storage.append(value)
        var i = storage.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if storage[parent] <= value { break }
            storage[i] = storage[parent]
            i = parent
        }
        storage[i] = value
    }

    mutating func pop() -> UInt64? {
        guard let last = storage.popLast() else { return nil }
        guard !storage.isEmpty else { return last }
        let top = storage[0]
        var i = 0
        let n = storage.count
        while true {
            let left = 2 * i + 1
            if left >= n { break }
            var child = left
            if left + 1 < n, storage[left + 1] < storage[left] { child = left + 1 }
            if storage[child] >= last { break }
            storage[i] = storage[child]
            i = child
        }
        storage[i] = last
        return top
    }
}
