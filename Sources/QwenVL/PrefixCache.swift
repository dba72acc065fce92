import Foundation

/// Decode states of finished sequences, kept so a later request whose prompt starts the same way (same token ids
/// and the same image/video content) skips prefilling that prefix (least recently used first out, within a byte
/// budget).
///
/// A chat client resends the whole conversation every turn: the state left by turn one (its prompt and answer)
/// covers all of turn two's prompt but the new user message, so only that is prefilled. Lookups hand out a copy
/// (the arrays are copy-on-write: the cache's entry is untouched when the request extends its copy). Thread-safe.
public final class PrefixCache: @unchecked Sendable {
    /// Counters for `/metrics`.
    public struct Statistics: Sendable, Equatable {
        public var hits = 0
        public var misses = 0
        /// Prompt tokens served from the cache instead of being prefilled.
        public var reusedTokens = 0
        public var evictions = 0
        public var entries = 0
        public var bytes = 0
    }

    public let budgetBytes: Int
    private let lock = NSLock()
    private var entries: [(state: DecodeState, lastUse: UInt64)] = []
    private var clock: UInt64 = 0
    private var stats = Statistics()

    /// A cache of at most `budgetBytes` of keys and values (0 disables it).
    public init(budgetBytes: Int) { self.budgetBytes = budgetBytes }

    /// The cached state sharing the longest reusable prefix with `input` (at least `minimumTokens`), or nil.
    public func lookup(_ input: ModelInput, model: QwenVLModel, minimumTokens: Int = 16) -> DecodeState? {
        lock.lock(); defer { lock.unlock() }
        clock += 1
        var best: (index: Int, length: Int)?
        for (i, entry) in entries.enumerated() {
            let length = model.reusablePrefix(state: entry.state, input: input)
            if length >= minimumTokens && length > (best?.length ?? 0) { best = (i, length) }
        }
        guard let best else { stats.misses += 1; return nil }
        entries[best.index].lastUse = clock
        stats.hits += 1
        stats.reusedTokens += best.length
        return entries[best.index].state
    }

    /// Keeps `state` for later requests; entries it extends (whose tokens and media are a prefix of it) go.
    public func insert(_ state: DecodeState) {
        let bytes = state.cache.byteCount
        lock.lock(); defer { lock.unlock() }
        guard bytes <= budgetBytes, state.cache.count > 0 else { return }
        clock += 1
        entries.removeAll { old in
            old.state.cache.count <= state.cache.count && state.tokens.starts(with: old.state.tokens.prefix(old.state.cache.count))
                && state.imageKeys.starts(with: old.state.imageKeys) && state.videoKeys.starts(with: old.state.videoKeys)
        }
        entries.append((state, clock))
        var total = entries.reduce(0) { $0 + $1.state.cache.byteCount }
        while total > budgetBytes, let oldest = entries.indices.min(by: { entries[$0].lastUse < entries[$1].lastUse }) {
            total -= entries[oldest].state.cache.byteCount
            entries.remove(at: oldest)
            stats.evictions += 1
        }
        stats.bytes = total
        stats.entries = entries.count
    }

    public var statistics: Statistics {
        lock.lock(); defer { lock.unlock() }
        return stats
    }
}
