/// Keys (after RoPE) and values of every processed token, per decoder layer.
///
/// A plain value: a request owns its cache and hands it back and forth; the model never stores it.
public struct KVCache: Sendable {
    /// Per layer: [count, kvHeads·headDim].
    var keys: [[Float]]
    /// Per layer: [count, kvHeads·headDim].
    var values: [[Float]]
    /// Tokens cached so far.
    public private(set) var count: Int = 0
    let width: Int

    /// An empty cache for `layers` layers of `width = kvHeads·headDim` floats per token.
    public init(layers: Int, width: Int) {
        keys = Array(repeating: [], count: layers)
        values = Array(repeating: [], count: layers)
        self.width = width
    }

    /// Appends `n` tokens of keys and values for `layer`.
    mutating func append(layer: Int, keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>, count n: Int) {
        keys[layer].append(contentsOf: UnsafeBufferPointer(start: k, count: n * width))
        values[layer].append(contentsOf: UnsafeBufferPointer(start: v, count: n * width))
    }

    /// Marks `n` more tokens as cached once every layer has appended them.
    mutating func advance(by n: Int) { count += n }

    /// Drops everything after the first `length` tokens (to rewind a conversation).
    public mutating func truncate(to length: Int) {
        guard length < count else { return }
        for l in keys.indices {
            keys[l].removeSubrange((length * width)...)
            values[l].removeSubrange((length * width)...)
        }
        count = length
    }

    /// Bytes held.
    public var byteCount: Int { keys.reduce(0) { $0 + $1.count * 4 } * 2 }
}

/// Everything one conversation carries between calls: the cache, the rope delta and the token history.
public struct DecodeState: Sendable {
    public var cache: KVCache
    /// Offset between cache index and M-RoPE position for tokens after the prompt (spec §7.5).
    public var ropeDelta: Int = 0
    /// Every token id in the sequence so far (prompt and generated), for the repetition penalty.
    public var tokens: [Int32] = []
    /// Fingerprints of the images / videos in the cached sequence, in prompt order.
    public var imageKeys: [Int] = []
    public var videoKeys: [Int] = []

    public init(cache: KVCache) { self.cache = cache }
}
