import Foundation
import XCTest
@testable import QwenVLCore

/// Malformed safetensors files are refused with an error naming the problem.
final class SafeTensorsTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("qwenvl-st-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    /// Writes `8-byte length + header + data` and returns the file URL.
    func write(header: String, data: [UInt8], lengthOverride: UInt64? = nil, name: String = "model.safetensors") throws -> URL {
        var bytes = [UInt8]()
        let length = lengthOverride ?? UInt64(header.utf8.count)
        withUnsafeBytes(of: length.littleEndian) { bytes += $0 }
        bytes += Array(header.utf8)
        bytes += data
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    func assertError(_ url: URL, contains fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SafeTensorsFile(url: url), file: file, line: line) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains(fragment), "‘\(message)’ should mention ‘\(fragment)’", file: file, line: line)
            XCTAssertFalse(message.contains("\n"), "error should be one line", file: file, line: line)
        }
    }

    func testReadsValidFileAllDtypes() throws {
        // f32 [2] = 1.5, -2 ; bf16 [2] = 1.0, -0.5 ; f16 [1] = 0.25
        var data = [UInt8]()
        for v: Float in [1.5, -2] { withUnsafeBytes(of: v.bitPattern.littleEndian) { data += $0 } }
        for bits: UInt16 in [0x3F80, 0xBF00] { withUnsafeBytes(of: bits.littleEndian) { data += $0 } }
        withUnsafeBytes(of: UInt16(0x3400).littleEndian) { data += $0 }
        let header = #"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]},"c":{"dtype":"F16","shape":[1,1],"data_offsets":[12,14]}}"#
        let file = try SafeTensorsFile(url: write(header: header, data: data))
        XCTAssertEqual(file.metadata["format"], "pt")
        XCTAssertEqual(file.tensors["c"]?.shape, [1, 1])
        let store = try WeightStore(directory: directory)
        XCTAssertEqual(try store.tensor(["a"]).floats(), [1.5, -2])
        XCTAssertEqual(try store.tensor(["b"]).floats(), [1.0, -0.5])
        XCTAssertEqual(try store.tensor(["c"]).floats(), [0.25])
        XCTAssertThrowsError(try store.tensor(["missing.weight"])) { XCTAssertTrue("\($0)".contains("missing tensor 'missing.weight'")) }
        XCTAssertThrowsError(try store.tensor(["a"], shape: [3])) { XCTAssertTrue("\($0)".contains("expected [3]")) }
    }

    func testTruncatedBeforeHeaderLength() throws {
        let url = directory.appendingPathComponent("model.safetensors")
        try Data([1, 2, 3]).write(to: url)
        assertError(url, contains: "truncated")
    }

    func testHeaderLengthBeyondFile() throws {
        assertError(try write(header: "{}", data: [], lengthOverride: 1_000_000), contains: "header length 1000000 exceeds the file size")
    }

    func testInvalidJSONHeader() throws {
        assertError(try write(header: "{not json", data: []), contains: "not valid JSON")
    }

    func testOffsetsOutOfRangeOrTruncatedData() throws {
        let header = #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#
        assertError(try write(header: header, data: [UInt8](repeating: 0, count: 8)), contains: "out of range")
    }

    func testOverlappingTensors() throws {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        assertError(try write(header: header, data: [UInt8](repeating: 0, count: 12)), contains: "overlap")
    }

    func testShapeTimesDtypeMismatch() throws {
        let header = #"{"a":{"dtype":"BF16","shape":[3],"data_offsets":[0,8]}}"#
        assertError(try write(header: header, data: [UInt8](repeating: 0, count: 8)), contains: "needs 6 bytes but data_offsets span 8")
    }

    func testUnknownDtype() throws {
        let header = #"{"a":{"dtype":"Q4_K","shape":[2],"data_offsets":[0,2]}}"#
        assertError(try write(header: header, data: [0, 0]), contains: "unknown or unsupported dtype 'Q4_K'")
    }

    func testMissingWeightsFileAndShard() throws {
        XCTAssertThrowsError(try WeightStore(directory: directory)) { XCTAssertTrue("\($0)".contains("missing model.safetensors")) }
        let index = #"{"metadata":{},"weight_map":{"a":"model-00001-of-00002.safetensors"}}"#
        try Data(index.utf8).write(to: directory.appendingPathComponent("model.safetensors.index.json"))
        XCTAssertThrowsError(try WeightStore(directory: directory)) { XCTAssertTrue("\($0)".contains("missing weight shard model-00001-of-00002.safetensors")) }
    }

    func testBF16RoundTrip() {
        for value: Float in [0, 1, -1.5, 3.140625, -0.0, 0.5, 256] { XCTAssertEqual(bf16ToFloat(floatToBF16(value)), value) }
        XCTAssertEqual(floatToBF16(1.00390625), 0x3F80)  // tie rounds to even
        XCTAssertEqual(floatToBF16(1.01171875), 0x3F82)
    }
}
