import Foundation
import XCTest
import QwenVL

/// The `qwenvl` executable on a Qwen2.5-VL folder: inspect names the family, generate reproduces the reference.
final class Qwen25CLITests: XCTestCase {
    /// Runs the built `qwenvl` (located like ``CLITests``) and returns its exit status and output.
    func run(_ arguments: [String]) throws -> CLITests.Run {
        let process = Process()
        process.executableURL = CLITests.executable
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CLITests.Run(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                            stderr: String(decoding: errData, as: UTF8.self))
    }

    func testInspectReportsTheFamily() throws {
        let image = Fixtures.root.appendingPathComponent("images/photo.jpg").path
        let table = try run(["inspect", "--model", Fixtures.checkpoint("tiny25-bf16").path, "--image", image])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.hasPrefix("model: Qwen2.5-VL (model_type qwen2_5_vl, Qwen2_5_VLForConditionalGeneration)"), table.stdout)
        let video = Fixtures.root.appendingPathComponent("video/lossless.mkv").path
        let json = try run(["inspect", "--model", Fixtures.checkpoint("tiny25-f32").path, "--video", video, "--json"])
        XCTAssertEqual(json.status, 0, json.stderr)
        let info = try JSONSerialization.jsonObject(with: Data(json.stdout.split(separator: "\n")[0].utf8)) as! [String: Any]
        XCTAssertEqual(info["model_type"] as? String, "qwen2_5_vl")
        XCTAssertEqual(info["family"] as? String, "Qwen2.5-VL")
        XCTAssertEqual(info["sample_fps"] as? Double, 2)          // 12 frames at 6 fps sampled to 4: 4/12·6
        XCTAssertEqual(info["temporal_position_step"] as? Int, 2)  // trunc(2/2) · tokens_per_second 2
        let old = try run(["inspect", "--model", Fixtures.checkpoint("tiny-f32").path, "--image", image])
        XCTAssertTrue(old.stdout.hasPrefix("model: Qwen2-VL (model_type qwen2_vl"), old.stdout)
    }

    func testGenerateMatchesTheReference() throws {
        let refs = (try Fixtures.json(Fixtures.reference.appendingPathComponent("tiny25-bf16/qwen25.json")) as! [String: Any])["cases"] as! [[String: Any]]
        let ref = try XCTUnwrap(refs.first { $0["name"] as? String == "text_hello" })
        let r = try run(["generate", "--model", Fixtures.checkpoint("tiny25-bf16").path, "--prompt", "Hello, who are you?",
                                    "--temperature", "0", "--repetition-penalty", "1", "--max-tokens", "16", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let last = r.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let object = try JSONSerialization.jsonObject(with: Data(last.utf8)) as! [String: Any]
        XCTAssertEqual(Fixtures.ints(object["prompt_token_ids"]), Fixtures.ints(ref["prompt_token_ids"]))
        XCTAssertEqual(Fixtures.ints(object["token_ids"]), Fixtures.ints(ref["greedy_token_ids"]))
    }
}
