import Foundation
import XCTest
import QwenVL
import QwenVLCore
import QwenVLTokenizer

/// The `qwenvl` executable honours its command-line contract (flags, JSON output, exit codes).
final class CLITests: XCTestCase {
    /// The built `qwenvl` next to the test bundle.
    static var executable: URL {
        var dir = Bundle.main.bundleURL
        for _ in 0..<3 {
            let candidate = dir.appendingPathComponent("qwenvl")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return Bundle.main.bundleURL.appendingPathComponent("qwenvl")
    }

    struct Run { var status: Int32; var stdout: String; var stderr: String }

    func run(_ arguments: [String], stdin: Data? = nil) throws -> Run { try Self.run(arguments, stdin: stdin) }

    /// Runs the built `qwenvl` with `arguments` (and `stdin` on its standard input) and returns its exit status and
    /// output; the other CLI test suites call this too.
    static func run(_ arguments: [String], stdin: Data? = nil) throws -> Run {
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = arguments
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Writes text case 0's messages (re-serialized from the exact parse) into a fresh temporary folder; returns the
    /// folder, the messages file and the tiny-bf16 reference cases.
    static func writeFirstTextCase() throws -> (dir: URL, messages: URL, refs: [[String: Any]]) {
        let casesText = try JSONValue.parse(Array(Data(contentsOf: Fixtures.reference.appendingPathComponent("text_cases.json"))))
        let refs = (try Fixtures.json(Fixtures.reference.appendingPathComponent("tiny-bf16/text.json")) as! [String: Any])["cases"] as! [[String: Any]]
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qwenvl-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let messagesURL = dir.appendingPathComponent("messages.json")
        try Data(serialize(casesText.arrayValue![0]["messages"]!).utf8).write(to: messagesURL)
        return (dir, messagesURL, refs)
    }

    func testGenerateJSONAndLogitsMatchReference() throws {
        let (dir, messagesURL, refs) = try Self.writeFirstTextCase()
        defer { try? FileManager.default.removeItem(at: dir) }
        let logitsURL = dir.appendingPathComponent("logits.npy")
        let r = try run(["generate", "--model", Fixtures.checkpoint("tiny-bf16").path, "--messages", messagesURL.path,
                         "--temperature", "0", "--repetition-penalty", "1", "--max-tokens", "16", "--json", "--dump-logits", logitsURL.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let last = r.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let object = try JSONSerialization.jsonObject(with: Data(last.utf8)) as! [String: Any]
        XCTAssertEqual(Fixtures.ints(object["prompt_token_ids"]), Fixtures.ints(refs[0]["prompt_token_ids"]))
        XCTAssertEqual(Fixtures.ints(object["token_ids"]), Fixtures.ints(refs[0]["greedy_token_ids"]))
        let finish = object["finish_reason"] as? String
        XCTAssertTrue(finish == "stop" || finish == "length")
        let timings = try XCTUnwrap(object["timings"] as? [String: Any])
        for key in ["load_s", "vision_s", "prefill_s", "decode_s", "prefill_tokens_per_s", "decode_tokens_per_s"] {
            XCTAssertNotNil(timings[key] as? Double, key)
        }
        let (dumped, shape) = try NumpyFile.read(logitsURL)
        XCTAssertEqual(shape, [151936])
        let (expected, _) = try NumpyFile.read(Fixtures.reference.appendingPathComponent("tiny-bf16").appendingPathComponent(refs[0]["logits_file"] as! String))
        XCTAssertLessThanOrEqual(Fixtures.relativeMaxError(dumped, expected), 5e-3)
    }

    /// JSON text of a value (strings escaped scalar by scalar, so nothing is lost).
    static func serialize(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let n): return n
        case .string(let s):
            return "\"" + s.unicodeScalars.map { c -> String in
                switch c {
                case "\"": return "\\\""
                case "\\": return "\\\\"
                default: return c.value < 0x20 ? String(format: "\\u%04x", c.value) : String(c)
                }
            }.joined() + "\""
        case .array(let a): return "[" + a.map(serialize).joined(separator: ",") + "]"
        case .object(let m): return "{" + m.map { serialize(.string($0.key)) + ":" + serialize($0.value) }.joined(separator: ",") + "}"
        }
    }

    func testTokenizeJSONLMatchesReference() throws {
        // The whole corpus (split on bytes: some lines start with scalars Swift would join to the newline).
        let ids = try String(contentsOf: Fixtures.reference.appendingPathComponent("tokenizer_corpus.ids.jsonl"), encoding: .utf8)
        let file = Fixtures.reference.appendingPathComponent("tokenizer_corpus.jsonl")
        let r = try run(["tokenize", "--model", Fixtures.checkpoint("tiny-f32").path, "--jsonl", file.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let got = r.stdout.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [Int] }
        let want = ids.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [Int] }
        XCTAssertEqual(got.count, want.count)
        for (index, (g, w)) in zip(got, want).enumerated() where g != w {
            XCTFail("corpus line \(index + 1): got \(g), want \(w)")
            break
        }
        let single = try run(["tokenize", "--model", Fixtures.checkpoint("tiny-f32").path, "--text", "<|im_start|>user\nHi"])
        XCTAssertEqual(single.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "[151644,872,198,13048]")
    }

    func testGenerateWithImageMatchesReference() throws {
        let refs = (try Fixtures.json(Fixtures.reference.appendingPathComponent("tiny-f32/image.json")) as! [String: Any])["cases"] as! [[String: Any]]
        let photo = refs.first { $0["name"] as? String == "jpeg_photo" }!
        let image = Fixtures.root.appendingPathComponent("images/photo.jpg").path
        let r = try run(["generate", "--model", Fixtures.checkpoint("tiny-f32").path, "--image", image, "--prompt", "Describe this image.",
                         "--temperature", "0", "--repetition-penalty", "1", "--max-tokens", "16", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try JSONSerialization.jsonObject(with: Data((r.stdout.split(separator: "\n").last ?? "").utf8)) as! [String: Any]
        XCTAssertEqual(Fixtures.ints(object["prompt_token_ids"]), Fixtures.ints(photo["prompt_token_ids"]))
        XCTAssertEqual(Fixtures.ints(object["token_ids"]), Fixtures.ints(photo["greedy_token_ids"]))

        let inspect = try run(["inspect", "--model", Fixtures.checkpoint("tiny-f32").path, "--image", image, "--json"])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        let info = try JSONSerialization.jsonObject(with: Data(inspect.stdout.split(separator: "\n")[0].utf8)) as! [String: Any]
        let grid = (photo["image_grid_thw"] as! [[Int]])[0]
        XCTAssertEqual(info["grid_thw"] as? [Int], grid)
        XCTAssertEqual(info["tokens"] as? Int, grid[0] * grid[1] * grid[2] / 4)
        XCTAssertEqual(info["resized"] as? [Int], [grid[2] * 14, grid[1] * 14])
        XCTAssertEqual(info["original"] as? [Int], [200, 150])
    }

    /// A scripted chat: an image in turn one, a text follow-up whose prefill covers only the new turn, /save.
    func testChatReusesTheCacheAcrossTurns() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qwenvl-chat-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let image = Fixtures.root.appendingPathComponent("images/photo.jpg").path
        let saved = dir.appendingPathComponent("chat.json").path
        let script = "/image \(image)\nWhat is in the picture?\nAnd what colour is it?\n/save \(saved)\n/quit\n"
        let r = try run(["chat", "--model", Fixtures.checkpoint("tiny-f32").path, "--temperature", "0", "--max-tokens", "4"],
                        stdin: Data(script.utf8))
        XCTAssertEqual(r.status, 0, r.stderr)
        // "[prefill N new tokens of M (...)" per answer.
        let stats = r.stderr.split(separator: "\n").filter { $0.hasPrefix("[prefill") }.map { line -> (Int, Int) in
            let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
            return (numbers[0], numbers[1])
        }
        XCTAssertEqual(stats.count, 2, r.stderr)
        guard stats.count == 2 else { return }
        XCTAssertEqual(stats[0].0, stats[0].1, "turn one prefills everything")
        XCTAssertGreaterThan(stats[0].1, 35, "turn one holds the image's 35 tokens")
        XCTAssertLessThanOrEqual(stats[1].0, stats[1].1 - stats[0].1, "turn two prefills only the new turn")
        let messages = try ChatMessage.parseList(Data(contentsOf: URL(fileURLWithPath: saved)))
        XCTAssertEqual(messages.map(\.role), ["user", "assistant", "user", "assistant"])
        XCTAssertEqual(messages[0].parts.first, .image(ImageInput(source: image)))
    }

    func testErrorsAreOneLineWithNonZeroExit() throws {
        let missing = try run(["generate", "--model", "/nonexistent/model", "--prompt", "hi"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertEqual(missing.stderr.trimmingCharacters(in: .newlines).split(separator: "\n").count, 1, missing.stderr)
        XCTAssertTrue(missing.stderr.contains("model folder not found"), missing.stderr)
        XCTAssertTrue(missing.stdout.isEmpty)

        let badMessages = FileManager.default.temporaryDirectory.appendingPathComponent("qwenvl-bad-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: badMessages) }
        try Data("[{\"role\": \"user\", \"content\": ".utf8).write(to: badMessages)
        let invalid = try run(["generate", "--model", Fixtures.checkpoint("tiny-f32").path, "--messages", badMessages.path])
        XCTAssertNotEqual(invalid.status, 0)
        XCTAssertTrue(invalid.stderr.contains("messages: invalid JSON"), invalid.stderr)

        let both = try run(["generate", "--model", "x"])
        XCTAssertNotEqual(both.status, 0)
        XCTAssertTrue(both.stderr.contains("--prompt or --messages"), both.stderr)
    }

    /// `--weights q8|q4` quantizes the language model on load: the dumped logits stay within the drift bounds the
    /// library test asserts against the HF reference, and differ from bf16's; an unknown format is a usage error.
    func testWeightsFlagQuantizesTheLanguageModel() throws {
        let (dir, messagesURL, refs) = try Self.writeFirstTextCase()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (expected, _) = try NumpyFile.read(Fixtures.reference.appendingPathComponent("tiny-bf16").appendingPathComponent(refs[0]["logits_file"] as! String))
        for (format, bound) in QuantizationDriftTests.bounds {
            let name = format == .q8 ? "q8" : "q4"
            let logitsURL = dir.appendingPathComponent("\(name).npy")
            let r = try run(["generate", "--model", Fixtures.checkpoint("tiny-bf16").path, "--messages", messagesURL.path,
                             "--weights", name, "--temperature", "0", "--max-tokens", "2", "--json", "--dump-logits", logitsURL.path])
            XCTAssertEqual(r.status, 0, r.stderr)
            let (dumped, _) = try NumpyFile.read(logitsURL)
            let drift = Fixtures.relativeMaxError(dumped, expected)
            XCTAssertLessThanOrEqual(drift, bound, name)
            XCTAssertGreaterThan(drift, 1e-4, "\(name) must change the weights")
        }
        let unknown = try run(["generate", "--model", Fixtures.checkpoint("tiny-bf16").path, "--prompt", "hi", "--weights", "q5"])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.stderr.contains("--weights must be bf16, f32, q8 or q4"), unknown.stderr)
    }
}
