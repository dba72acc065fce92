import Foundation
import XCTest
import QwenVL

/// Broken checkpoint folders fail to load with one line naming the problem.
final class CheckpointErrorTests: XCTestCase {
    var directory: URL!

    /// A copy of tiny-f32 whose files the test may break (weights linked, not copied).
    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("qwenvl-ckpt-\(UUID().uuidString)")
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        let source = Fixtures.checkpoint("tiny-f32")
        for name in try fm.contentsOfDirectory(atPath: source.path) {
            let from = source.appendingPathComponent(name).resolvingSymlinksInPath()
            if name.hasSuffix(".json") {
                try fm.copyItem(at: from, to: directory.appendingPathComponent(name))
            } else {
                try fm.createSymbolicLink(at: directory.appendingPathComponent(name), withDestinationURL: from)
            }
        }
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    func editConfig(_ edit: (inout [String: Any]) -> Void) throws {
        let url = directory.appendingPathComponent("config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: url)
    }

    func assertLoadFails(_ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try QwenVLModel.load(from: directory), file: file, line: line) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains(fragment), "‘\(message)’ should mention ‘\(fragment)’", file: file, line: line)
            XCTAssertFalse(message.contains("\n"), file: file, line: line)
        }
    }

    func testLoadsIntactCopy() throws {
        XCTAssertNoThrow(try QwenVLModel.load(from: directory))
    }

    func testMissingFolderAndConfig() throws {
        XCTAssertThrowsError(try QwenVLModel.load(from: directory.appendingPathComponent("nope"))) {
            XCTAssertTrue("\($0)".contains("model folder not found"))
        }
        try FileManager.default.removeItem(at: directory.appendingPathComponent("config.json"))
        assertLoadFails("missing config.json")
    }

    func testUnknownModelType() throws {
        try editConfig { $0["model_type"] = "llama" }
        assertLoadFails("unsupported model_type 'llama'")
    }

    func testInvalidConfigJSON() throws {
        try Data("{\"model_type\": ".utf8).write(to: directory.appendingPathComponent("config.json"))
        assertLoadFails("config.json: not valid JSON")
    }

    func testInconsistentConfig() throws {
        try editConfig { $0["num_attention_heads"] = 3 }
        assertLoadFails("num_attention_heads (3) must divide hidden_size")
    }

    func testMissingTensorIsNamed() throws {
        // A file without the layer-1 MLP down projection.
        let store = try Data(contentsOf: directory.appendingPathComponent("model.safetensors").resolvingSymlinksInPath())
        let headerLength = Int(store.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        var header = try JSONSerialization.jsonObject(with: store.subdata(in: 8..<(8 + headerLength))) as! [String: Any]
        header.removeValue(forKey: "model.layers.1.mlp.down_proj.weight")
        var headerData = try JSONSerialization.data(withJSONObject: header)
        headerData.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - headerData.count % 8) % 8))
        var out = Data()
        withUnsafeBytes(of: UInt64(headerData.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(headerData)
        out.append(store.subdata(in: (8 + headerLength)..<store.count))
        let target = directory.appendingPathComponent("model.safetensors")
        try FileManager.default.removeItem(at: target)
        try out.write(to: target)
        assertLoadFails("missing tensor 'model.layers.1.mlp.down_proj.weight'")
    }

    func testWrongTensorShapeForConfig() throws {
        try editConfig { $0["intermediate_size"] = 40 }
        assertLoadFails("expected [40, 16] from config.json")
    }

    func testTruncatedWeights() throws {
        let target = directory.appendingPathComponent("model.safetensors")
        let data = try Data(contentsOf: target.resolvingSymlinksInPath())
        try FileManager.default.removeItem(at: target)
        try data.prefix(data.count / 2).write(to: target)
        assertLoadFails("out of range")
    }
}
