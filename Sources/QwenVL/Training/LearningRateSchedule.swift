import Foundation

/// Linear warm-up then cosine decay to zero, as transformers' `get_cosine_schedule_with_warmup` (half a cycle).
///
/// The factor for optimizer step `s` (0-based: the first update uses s = 0, so with warm-up it has rate 0):
/// `s / warmup` while `s < warmup`, else `max(0, ½·(1 + cos(π · (s − warmup) / (total − warmup))))`.
public struct LearningRateSchedule: Sendable, Equatable, Codable {
    public var peak: Double
    public var warmupSteps: Int
    public var totalSteps: Int

    public init(peak: Double, warmupSteps: Int, totalSteps: Int) {
        self.peak = peak; self.warmupSteps = warmupSteps; self.totalSteps = totalSteps
    }

    /// The rate of the update made at 0-based step `s`.
    public func rate(atStep s: Int) -> Double {
        if s < warmupSteps { return peak * Double(s) / Double(max(1, warmupSteps)) }
        let progress = Double(s - warmupSteps) / Double(max(1, totalSteps - warmupSteps))
        return peak * max(0, 0.5 * (1 + cos(Double.pi * 0.5 * 2 * progress)))
    }
}
