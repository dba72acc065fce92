import Foundation
import XCTest

/// `qwenvl generate --tools / --tool-choice / --json-schema`: calls in `--json`, one-line errors with non-zero exit.
final class ToolCLITests: XCTestCase {
    static let checkpoint = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/tiny-f32").path

    func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
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
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }

    func write(_ text: String, _ name: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("qwenvl-tool-cli-\(UUID().uuidString)-\(name)")
        try Data(text.utf8).write(to: url)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.path
    }

    func testNamedToolChoicePrintsValidToolCallsInJSON() throws {
        let tools = try write(#"""
            [{"type": "function", "function": {"name": "press", "description": "Press a button", "parameters": {"type": "object",
              "properties": {"key": {"enum": ["ok", "no"]}}, "required": ["key"], "additionalProperties": false}}}]
            """#, "tools.json")
        let result = try run(["generate", "--model", Self.checkpoint, "--prompt", "Press OK.", "--tools", tools,
                              "--tool-choice", "press", "--max-tokens", "64", "--temperature", "0", "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let line = try XCTUnwrap(result.stdout.split(separator: "\n").last)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertEqual(object["finish_reason"] as? String, "tool_calls", "\(object)")
        let calls = try XCTUnwrap(object["tool_calls"] as? [[String: Any]])
        XCTAssertEqual(calls.count, 1)
        XCTAssertTrue((calls[0]["id"] as? String)?.hasPrefix("call_") == true)
        let function = try XCTUnwrap(calls[0]["function"] as? [String: Any])
        XCTAssertEqual(function["name"] as? String, "press")
        let arguments = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try XCTUnwrap(function["arguments"] as? String).utf8)) as? [String: Any])
        XCTAssertTrue(["ok", "no"].contains(arguments["key"] as? String ?? ""), "\(arguments)")
        XCTAssertEqual(arguments.count, 1)
        XCTAssertTrue(object["content"] is NSNull, "\(object)")
    }

    func testBadToolFlagsAreOneLineErrors() throws {
        let tools = try write(#"[{"type": "function", "function": {"name": "press", "parameters": {"type": "object"}}}]"#, "tools.json")
        let schema = try write(#"{"type": "object", "properties": {"zip": {"type": "string", "pattern": "[0-9]+"}}}"#, "schema.json")
        let broken = try write(#"[{"type": "function"}]"#, "broken.json")
        let cases: [([String], String)] = [
            (["--tools", tools, "--tool-choice", "fly"], "--tool-choice: the function 'fly' is not in \"tools\""),
            (["--json-schema", schema], "--json-schema: unsupported JSON schema keywords: pattern"),
            (["--tools", broken], "--tools[0].function"),
            (["--tools", "/nonexistent/tools.json"], "--tools: cannot read"),
        ]
        for (flags, message) in cases {
            let result = try run(["generate", "--model", Self.checkpoint, "--prompt", "x"] + flags)
            XCTAssertNotEqual(result.status, 0, "\(flags)")
            let lines = result.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, result.stderr)
            XCTAssertTrue(result.stderr.hasPrefix("error: ") && result.stderr.contains(message), result.stderr)
        }
    }
}
