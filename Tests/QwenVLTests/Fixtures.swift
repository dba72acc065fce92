import Foundation
import XCTest
import QwenVL
import QwenVLCore
import QwenVLTokenizer

/// Paths of the committed fixtures and shared helpers for parity tests.
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    static let reference = root.appendingPathComponent("reference")
    static func checkpoint(_ name: String) -> URL { root.appendingPathComponent(name) }

    /// Checkpoints under test with their logits tolerance (× std of the reference logits).
    static let checkpoints: [(name: String, tolerance: Float)] = [("tiny-f32", 1e-3), ("tiny-bf16", 5e-3)]

    nonisolated(unsafe) private static var cache: [String: QwenVLModel] = [:]
    private static let lock = NSLock()

    /// Loads (once per test process) a fixture checkpoint.
    static func model(_ name: String) throws -> QwenVLModel {
        lock.lock(); defer { lock.unlock() }
        if let m = cache[name] { return m }
        let m = try QwenVLModel.load(from: checkpoint(name))
        cache[name] = m
        return m
    }

    static func json(_ url: URL) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: url))
    }

    /// max |a − b| / std(b).
    static func relativeMaxError(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count)
        let mean = b.reduce(0, +) / Float(b.count)
        let std = (b.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(b.count)).squareRoot()
        let maxError = zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
        return maxError / std
    }

    /// The messages of every case in a cases file, parsed exactly (JSONValue keeps every scalar; Foundation's
    /// JSONSerialization drops U+FEFF inside strings).
    static func caseMessages(_ file: String, baseDirectory: URL? = nil) throws -> [[ChatMessage]] {
        let root = try JSONValue.parse(Array(Data(contentsOf: reference.appendingPathComponent(file))), source: file)
        return try (root.arrayValue ?? []).map { c in
            try (c["messages"]?.arrayValue ?? []).enumerated().map { try ChatMessage.parse($1, index: $0, baseDirectory: baseDirectory) }
        }
    }

    static func ints(_ value: Any?) -> [Int32] { (value as? [Any] ?? []).compactMap { ($0 as? Int).map(Int32.init) } }
}
