import Foundation

/// Throughput and load-time measurement helpers (used by `qwenvl bench-tokenizer`; not a test).
///
///     let lines = try TokenizerBenchmark.readCorpus(url)          // JSON-lines file of strings
///     let result = TokenizerBenchmark.measureEncode(tokenizer, lines: lines, repeats: 20)
///     print(result.megabytesPerSecond)
public enum TokenizerBenchmark {
    /// The best of several passes of single-threaded `encode`, one line per call.
    public struct EncodeResult: Sendable, Equatable {
        public var lines: Int
        /// UTF-8 bytes of input per pass.
        public var bytes: Int
        /// Tokens produced per pass.
        public var tokens: Int
        public var repeats: Int
        /// Seconds of the fastest pass.
        public var seconds: Double
        public var megabytesPerSecond: Double { seconds > 0 ? Double(bytes) / seconds / 1e6 : 0 }
        public var tokensPerSecond: Double { seconds > 0 ? Double(tokens) / seconds : 0 }
    }

    /// Encodes every line `repeats` times after one warm-up pass and reports the fastest pass.
    public static func measureEncode(_ tokenizer: QwenTokenizer, lines: [String], repeats: Int = 10) -> EncodeResult {
        let bytes = lines.reduce(0) { $0 + $1.utf8.count }
        var tokens = lines.reduce(0) { $0 + tokenizer.encode($1).count }  // warm-up
        var best = Double.infinity
        let clock = ContinuousClock()
        for _ in 0..<max(1, repeats) {
            var count = 0
            let elapsed = clock.measure {
                for line in lines { count += tokenizer.encode(line).count }
            }
            tokens = count
            best = min(best, seconds(elapsed))
        }
        return EncodeResult(lines: lines.count, bytes: bytes, tokens: tokens, repeats: max(1, repeats), seconds: best)
    }

    /// Loads a tokenizer folder and returns it with the wall time the load took.
    public static func measureLoad(directory: URL) throws -> (tokenizer: QwenTokenizer, seconds: Double) {
        let clock = ContinuousClock()
        var loaded: QwenTokenizer?
        let elapsed = try clock.measure { loaded = try QwenTokenizer.load(directory: directory) }
        guard let tokenizer = loaded else { throw TokenizerError.fileNotFound(path: directory.path) }
        return (tokenizer, seconds(elapsed))
    }

    /// Reads a JSON-lines corpus where every line is a JSON string.
    public static func readCorpus(_ url: URL) throws -> [String] {
        guard FileManager.default.fileExists(atPath: url.path) else { throw TokenizerError.fileNotFound(path: url.path) }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TokenizerError.unreadableFile(path: url.path, reason: error.localizedDescription)
        }
        var lines: [String] = []
        for (index, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() {
            let value = try JSONValue.parse([UInt8](line), source: "\(url.path) line \(index + 1)")
            guard let text = value.stringValue else {
                throw TokenizerError.invalidField(source: url.path, field: "line \(index + 1)", expected: "a JSON string")
            }
            lines.append(text)
        }
        return lines
    }

    private static func seconds(_ duration: Duration) -> Double {
        let (s, attoseconds) = duration.components
        return Double(s) + Double(attoseconds) * 1e-18
    }
}
