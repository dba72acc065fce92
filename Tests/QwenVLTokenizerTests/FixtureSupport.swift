import Foundation
import XCTest
import QwenVLTokenizer

/// Paths of the committed fixtures (relative to this file) and shared, load-once test data.
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let tokenizerDirectory = root.appendingPathComponent("tokenizer")
    static let reference = root.appendingPathComponent("reference")
    static let extra = root.appendingPathComponent("tokenizer-extra")

    /// The real Qwen2-VL tokenizer, loaded once for all tests.
    static let loaded: Result<QwenTokenizer, any Error> = Result {
        try QwenTokenizer.load(directory: tokenizerDirectory)
    }

    static func tokenizer() throws -> QwenTokenizer { try loaded.get() }

    /// Every line of a JSON-lines file, parsed.
    static func jsonLines(_ url: URL) throws -> [JSONValue] {
        let data = try Data(contentsOf: url)
        var values: [JSONValue] = []
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            values.append(try JSONValue.parse([UInt8](line), source: url.lastPathComponent))
        }
        return values
    }

    static func json(_ url: URL) throws -> JSONValue {
        try JSONValue.parse([UInt8](try Data(contentsOf: url)), source: url.lastPathComponent)
    }

    /// Token ids from a JSON array.
    static func ids(_ value: JSONValue?) throws -> [Int32] {
        let list = try XCTUnwrap(value?.arrayValue, "expected an array of ids")
        return try list.map { Int32(try XCTUnwrap($0.intValue, "expected an integer id")) }
    }
}

/// Exact comparison of strings by their UTF-8 bytes (Swift's `==` treats NFC and NFD as equal).
func assertSameText(_ actual: String, _ expected: String, _ message: @autoclosure () -> String,
                    file: StaticString = #filePath, line: UInt = #line) {
    if Array(actual.utf8) != Array(expected.utf8) {
        XCTFail("\(message())\n  expected: \(expected.debugDescription)\n  actual:   \(actual.debugDescription)",
                file: file, line: line)
    }
}

/// A printable form of a string for failure messages (escapes and scalar values).
func describe(_ text: String) -> String {
    let short = text.count > 120 ? String(text.prefix(120)) + "…" : text
    return short.debugDescription
}
