import Foundation
import QwenVL

/// Counters, gauges and latency histograms of one server, rendered as Prometheus text (`GET /metrics`).
///
/// Thread-safe (one lock); updated from request handlers and the generation worker.
public final class ServerMetrics: @unchecked Sendable {
    /// A cumulative histogram with fixed upper bounds (seconds).
    struct Histogram {
        let bounds: [Double]
        var counts: [Int]
        var sum = 0.0
        var count = 0

        init(bounds: [Double]) {
            self.bounds = bounds
            counts = Array(repeating: 0, count: bounds.count)
        }

        mutating func observe(_ value: Double) {
            for (i, bound) in bounds.enumerated() where value <= bound { counts[i] += 1 }
            sum += value
            count += 1
        }
    }

    private let lock = NSLock()
    private var requests = 0
    private var errorsByStatus: [Int: Int] = [:]
    private var cancelled = 0
    private var promptTokens = 0
    private var completionTokens = 0
    private var queueLength = 0
    private var running = 0
    private var cachedPromptTokens = 0
    private var prefixCache: PrefixCache?
    private var visionCache: VisionFeatureCache?
    private var timeToFirstToken = Histogram(bounds: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60])
    private var timePerOutputToken = Histogram(bounds: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5])

    public init() {}

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    /// A chat completion request arrived.
    func requestReceived() { locked { requests += 1 } }
    /// An error response was sent with this status.
    func errorSent(status: Int) { locked { errorsByStatus[status, default: 0] += 1 } }
    /// A generation stopped because its client went away.
    func requestCancelled() { locked { cancelled += 1 } }
    /// Prompt tokens of a request that started generating.
    func addPromptTokens(_ n: Int) { locked { promptTokens += n } }
    /// Prompt tokens whose keys and values came from the prefix cache.
    func addCachedPromptTokens(_ n: Int) { locked { cachedPromptTokens += n } }
    /// The caches whose counters `/metrics` reports.
    func attachCaches(prefix: PrefixCache, vision: VisionFeatureCache) {
        locked {
            prefixCache = prefix
            visionCache = vision
        }
    }
    /// One generated token (counted as it is produced, so the counter grows during a generation).
    func addCompletionToken() { locked { completionTokens += 1 } }
    func observeTimeToFirstToken(_ seconds: Double) { locked { timeToFirstToken.observe(seconds) } }
    func observeTimePerOutputToken(_ seconds: Double) { locked { timePerOutputToken.observe(seconds) } }
    func setQueue(waiting: Int, running: Int) {
        locked {
            queueLength = waiting
            self.running = running
        }
    }

    /// Generated tokens so far (all requests).
    public var completionTokenCount: Int { locked { completionTokens } }
    /// Requests stopped by a client disconnect so far.
    public var cancelledCount: Int { locked { cancelled } }
    /// Prompt tokens served from the prefix cache so far.
    public var cachedPromptTokenCount: Int { locked { cachedPromptTokens } }

    /// The Prometheus text exposition (format 0.0.4).
    public func render() -> String {
        locked {
            var out = ""
            func metric(_ name: String, _ type: String, _ help: String, _ lines: [String]) {
                out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
                for line in lines { out += line + "\n" }
            }
            metric("qwenvl_requests_total", "counter", "Chat completion requests received.", ["qwenvl_requests_total \(requests)"])
            let errorLines = errorsByStatus.keys.sorted().map { "qwenvl_request_errors_total{status=\"\($0)\"} \(errorsByStatus[$0] ?? 0)" }
            metric("qwenvl_request_errors_total", "counter", "Error responses sent, by HTTP status.",
                   errorLines.isEmpty ? ["qwenvl_request_errors_total{status=\"none\"} 0"] : errorLines)
            metric("qwenvl_requests_cancelled_total", "counter", "Generations stopped because the client disconnected.",
                   ["qwenvl_requests_cancelled_total \(cancelled)"])
            metric("qwenvl_prompt_tokens_total", "counter", "Prompt tokens processed.", ["qwenvl_prompt_tokens_total \(promptTokens)"])
            metric("qwenvl_completion_tokens_total", "counter", "Tokens generated.", ["qwenvl_completion_tokens_total \(completionTokens)"])
            metric("qwenvl_queue_length", "gauge", "Requests waiting for the model.", ["qwenvl_queue_length \(queueLength)"])
            metric("qwenvl_requests_running", "gauge", "Requests being generated together (continuous batching).",
                   ["qwenvl_requests_running \(running)"])
            metric("qwenvl_prompt_tokens_cached_total", "counter", "Prompt tokens whose keys and values came from the prefix cache.",
                   ["qwenvl_prompt_tokens_cached_total \(cachedPromptTokens)"])
            if let p = prefixCache?.statistics {
                metric("qwenvl_prefix_cache_hits_total", "counter", "Requests that reused a cached prompt prefix.", ["qwenvl_prefix_cache_hits_total \(p.hits)"])
                metric("qwenvl_prefix_cache_misses_total", "counter", "Requests with no reusable cached prefix.", ["qwenvl_prefix_cache_misses_total \(p.misses)"])
                metric("qwenvl_prefix_cache_evictions_total", "counter", "Cached sequences evicted to stay within the budget.",
                       ["qwenvl_prefix_cache_evictions_total \(p.evictions)"])
                metric("qwenvl_prefix_cache_bytes", "gauge", "Bytes of keys and values in the prefix cache.", ["qwenvl_prefix_cache_bytes \(p.bytes)"])
                metric("qwenvl_prefix_cache_entries", "gauge", "Sequences in the prefix cache.", ["qwenvl_prefix_cache_entries \(p.entries)"])
            }
            if let v = visionCache?.statistics {
                metric("qwenvl_vision_cache_hits_total", "counter", "Images and videos whose encoder output came from the cache.",
                       ["qwenvl_vision_cache_hits_total \(v.hits)"])
                metric("qwenvl_vision_cache_misses_total", "counter", "Images and videos encoded.", ["qwenvl_vision_cache_misses_total \(v.misses)"])
                metric("qwenvl_vision_cache_evictions_total", "counter", "Encoder outputs evicted to stay within the budget.",
                       ["qwenvl_vision_cache_evictions_total \(v.evictions)"])
                metric("qwenvl_vision_cache_bytes", "gauge", "Bytes of encoder outputs in the cache.", ["qwenvl_vision_cache_bytes \(v.bytes)"])
            }
            metric("qwenvl_time_to_first_token_seconds", "histogram", "Seconds from request arrival to the first generated token.",
                   Self.lines("qwenvl_time_to_first_token_seconds", timeToFirstToken))
            metric("qwenvl_time_per_output_token_seconds", "histogram", "Seconds between consecutive generated tokens.",
                   Self.lines("qwenvl_time_per_output_token_seconds", timePerOutputToken))
            return out
        }
    }

    private static func lines(_ name: String, _ h: Histogram) -> [String] {
        var lines = zip(h.bounds, h.counts).map { "\(name)_bucket{le=\"\(format($0))\"} \($1)" }
        lines.append("\(name)_bucket{le=\"+Inf\"} \(h.count)")
        lines.append("\(name)_sum \(h.sum)")
        lines.append("\(name)_count \(h.count)")
        return lines
    }

    private static func format(_ bound: Double) -> String {
        bound == bound.rounded() ? String(format: "%.1f", bound) : String(bound)
    }
}
