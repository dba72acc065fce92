import Foundation
import XCTest
import QwenVLMedia

/// Paths and manifests of the fixtures written by scripts/fixtures/generate_media.py (Pillow 11.3.0,
/// qwen-vl-utils to_rgb).
enum MediaFixtures {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/media")

    static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    static func data(_ relative: String) throws -> Data { try Data(contentsOf: url(relative)) }

    static func manifest<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: data(name))
    }

    struct DecodeCase: Decodable {
        let name: String
        let file: String
        let rgb: String
        let width: Int
        let height: Int
        let pillow_mode: String?
    }

    struct ResizeCase: Decodable {
        let src_width: Int
        let src_height: Int
        let dst_width: Int
        let dst_height: Int
        let src_offset: Int
        let dst_offset: Int
    }

    struct BadCase: Decodable {
        let file: String
        let expect: String
        let pillow: String
    }

    struct Base64Case: Decodable {
        let name: String
        let input: String
        let ok: Bool
        let hex: String?
        let error: String?
    }

    struct Manifest<Case: Decodable>: Decodable {
        let cases: [Case]
    }

    static func decodeCases(prefix: String) throws -> [DecodeCase] {
        try manifest("decode_cases.json", as: Manifest<DecodeCase>.self).cases.filter { $0.name.hasPrefix(prefix) }
    }
}

/// Compares two RGB buffers; on mismatch reports the count, the largest difference and the first position.
func assertSameRGB(_ actual: RGBImage, expected: [UInt8], width: Int, height: Int, _ label: String,
                   file: StaticString = #filePath, line: UInt = #line) {
    guard actual.width == width, actual.height == height else {
        XCTFail("\(label): size \(actual.width)×\(actual.height), expected \(width)×\(height)", file: file, line: line)
        return
    }
    guard actual.pixels != expected else { return }
    var differing = 0, maxDiff = 0, first = -1
    for i in 0..<min(actual.pixels.count, expected.count) where actual.pixels[i] != expected[i] {
        differing += 1
        maxDiff = max(maxDiff, abs(Int(actual.pixels[i]) - Int(expected[i])))
        if first < 0 { first = i }
    }
    let pixel = first / 3
    XCTFail("\(label): \(differing) of \(expected.count) samples differ (max |Δ| \(maxDiff)); first at x \(pixel % width), "
            + "y \(pixel / width), channel \(first % 3): got \(actual.pixels[first]), expected \(expected[first])",
            file: file, line: line)
}
