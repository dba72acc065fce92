import Foundation

/// Vision-encoder outputs of recently seen images and videos, reused when the same content comes again
/// (least recently used first out, within a byte budget).
///
/// Keys are ``ModelInput/imageKeys`` / ``ModelInput/videoKeys``: a hash of the preprocessed pixel rows and their
/// grid, so the same picture resized to another budget is another entry. Values are the merged features
/// `[tokens, H]` that replace the placeholder rows. Thread-safe.
public final class VisionFeatureCache: @unchecked Sendable {
    /// Counters for `/metrics`.
    public struct Statistics: Sendable, Equatable {
        public var hits = 0
        public var misses = 0
        public var evictions = 0
        public var entries = 0
        public var bytes = 0
    }

    public let budgetBytes: Int
    private let lock = NSLock()
    private var entries: [Int: (features: [Float], lastUse: UInt64)] = [:]
    private var clock: UInt64 = 0
    private var stats = Statistics()

    /// A cache holding at most `budgetBytes` of features (0 disables it).
    public init(budgetBytes: Int) { self.budgetBytes = budgetBytes }

    /// The features stored for `key`, counting a hit or a miss.
    public func features(for key: Int) -> [Float]? {
        lock.lock(); defer { lock.unlock() }
        clock += 1
        guard let entry = entries[key] else { stats.misses += 1; return nil }
        entries[key]?.lastUse = clock
        stats.hits += 1
        return entry.features
    }

    /// Stores features `[tokens, H]` for `key`, evicting the least recently used entries beyond the budget.
    public func insert(_ features: [Float], for key: Int) {
        let bytes = features.count * MemoryLayout<Float>.size
        lock.lock(); defer { lock.unlock() }
        guard bytes <= budgetBytes, entries[key] == nil else { return }
        clock += 1
        entries[key] = (features, clock)
        stats.bytes += bytes
        while stats.bytes > budgetBytes, let oldest = entries.min(by: { $0.value.lastUse < $1.value.lastUse }) {
            stats.bytes -= oldest.value.features.count * MemoryLayout<Float>.size
            entries[oldest.key] = nil
            stats.evictions += 1
        }
        stats.entries = entries.count
    }

    public var statistics: Statistics {
        lock.lock(); defer { lock.unlock() }
        return stats
    }
}
