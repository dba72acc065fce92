import Foundation
import Hummingbird
import HummingbirdTesting
import QwenVL
import QwenVLTokenizer
import XCTest
@testable import QwenVLServer

/// Fixture paths, a shared tiny model, and request helpers for the server tests.
enum ServerFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    static let checkpoint = root.appendingPathComponent("tiny-f32")
    static let images = root.appendingPathComponent("images")

    nonisolated(unsafe) private static var cached: QwenVLModel?
    private static let lock = NSLock()

    /// The tiny-f32 checkpoint, loaded once per test process.
    static func model() throws -> QwenVLModel {
        lock.lock(); defer { lock.unlock() }
        if let cached { return cached }
        let model = try QwenVLModel.load(from: checkpoint)
        cached = model
        return model
    }

    /// HF reference cases of `file` (`text.json` / `image.json` under reference/tiny-f32).
    static func referenceCases(_ file: String) throws -> [JSONValue] {
        let url = root.appendingPathComponent("reference/tiny-f32/\(file)")
        return try JSONValue.parse(Array(Data(contentsOf: url)), source: file)["cases"]?.arrayValue ?? []
    }

    /// The request messages of a reference cases file (`text_cases.json` / `image_cases.json`).
    static func caseMessages(_ file: String) throws -> [JSONValue] {
        let url = root.appendingPathComponent("reference/\(file)")
        return try JSONValue.parse(Array(Data(contentsOf: url)), source: file).arrayValue ?? []
    }

    /// A `data:` URL holding a fixture image's bytes.
    static func dataURL(_ name: String) throws -> String {
        let data = try Data(contentsOf: images.appendingPathComponent(name))
        let type = name.hasSuffix(".png") ? "png" : name.hasSuffix(".webp") ? "webp" : name.hasSuffix(".gif") ? "gif" : "jpeg"
        return "data:image/\(type);base64," + data.base64EncodedString()
    }
}

/// Runs `body` against a fresh server on the tiny model (router test mode: no socket), then stops its worker.
func withServer<T>(_ options: ServerOptions = ServerOptions(), _ body: @escaping @Sendable (any TestClientProtocol, OpenAIServer) async throws -> T)
    async throws -> T {
    let server = try OpenAIServer(model: try ServerFixtures.model(), options: options)
    defer { server.shutdown() }
    return try await server.makeApplication().test(.router) { client in try await body(client, server) }
}

/// The parsed JSON body of a test response.
func json(_ response: TestResponse) throws -> JSONValue {
    let bytes = Array(response.body.readableBytesView)
    return try JSONValue.parse(bytes, source: "response")
}

extension TestClientProtocol {
    /// POSTs `body` (raw text) to the chat completions route.
    func chat(_ body: String, headers: HTTPFields = [.contentType: "application/json"]) async throws -> TestResponse {
        try await execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    /// POSTs a JSON value to the chat completions route.
    func chat(_ value: JSONValue) async throws -> TestResponse { try await chat(JSONOutput.string(value)) }
}

/// Asserts an OpenAI error answer: `status`, and `{"error":{"message","type","param","code"}}` with these values.
func assertAPIError(_ response: TestResponse, status: Int, type: String = "invalid_request_error", param: String?? = nil,
                    code: String?? = nil, messageContains: String? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
    XCTAssertEqual(response.status.code, status, "status", file: file, line: line)
    XCTAssertEqual(response.headers[.contentType], "application/json", file: file, line: line)
    let body = try json(response)
    guard let error = body["error"], error.objectValue != nil else {
        return XCTFail("no error object in \(JSONOutput.string(body))", file: file, line: line)
    }
    XCTAssertEqual(error.objectValue?.map(\.key), ["message", "type", "param", "code"], file: file, line: line)
    XCTAssertFalse(error["message"]?.stringValue?.isEmpty ?? true, "message", file: file, line: line)
    XCTAssertEqual(error["type"]?.stringValue, type, file: file, line: line)
    if let param { XCTAssertEqual(error["param"]?.stringValue, param, "param", file: file, line: line) }
    if let code { XCTAssertEqual(error["code"]?.stringValue, code, "code", file: file, line: line) }
    if let messageContains {
        XCTAssertTrue(error["message"]?.stringValue?.contains(messageContains) ?? false,
                      "message '\(error["message"]?.stringValue ?? "")' lacks '\(messageContains)'", file: file, line: line)
    }
}

extension JSONValue {
    /// Integer list payload (ids).
    var int32s: [Int32] { (arrayValue ?? []).compactMap { $0.intValue.map(Int32.init) } }
}
