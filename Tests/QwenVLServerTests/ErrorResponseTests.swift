import Foundation
import Hummingbird
import HummingbirdTesting
import QwenVLTokenizer
import XCTest
@testable import QwenVLServer

/// Every bad request gets the right status and OpenAI's error JSON, and the server keeps serving.
final class ErrorResponseTests: XCTestCase {
    static let hello = #"{"model":"tiny-f32","messages":[{"role":"user","content":"Hi"}],"max_tokens":1,"temperature":0}"#

    static func imageRequest(_ url: String) -> String {
        JSONOutput.string(.obj(["model": .string("tiny-f32"), "max_tokens": .int(1), "messages": .array([.obj([
            "role": .string("user"), "content": .array([.obj(["type": .string("image_url"), "image_url": .obj(["url": .string(url)])]),
                                                      .obj(["type": .string("text"), "text": .string("What is this?")])]),
        ])])]))
    }

    func testRequestErrors() async throws {
        var options = ServerOptions(maxBodyBytes: 64 << 10, maxImagesPerRequest: 1, maxPromptTokens: 40)
        options.maxQueueLength = 4
        try await withServer(options) { client, server in
            let cases: [(String, Int, String?, String?, String?)] = [
                // body, status, param, code, message fragment
                ("{\"model\": ", 400, nil, "invalid_json", "not valid JSON"),
                ("[1, 2]", 400, nil, nil, "JSON object"),
                (#"{"model":"tiny-f32"}"#, 400, "messages", nil, "messages"),
                (#"{"model":"tiny-f32","messages":[]}"#, 400, "messages", nil, "empty"),
                (#"{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}]}"#, 404, "model", "model_not_found", "gpt-4o"),
                (#"{"messages":[{"role":"user","content":"Hi"}],"n":2}"#, 400, "n", nil, "n = 1"),
                (#"{"messages":[{"role":"user","content":"Hi"}],"temperature":"hot"}"#, 400, "temperature", nil, "number"),
                (#"{"messages":[{"role":"user","content":"Hi"}],"temperature":-1}"#, 400, "temperature", nil, nil),
                (#"{"messages":[{"role":"user","content":"Hi"}],"top_p":0}"#, 400, "top_p", nil, nil),
                (#"{"messages":[{"role":"user","content":"Hi"}],"max_tokens":0}"#, 400, "max_tokens", nil, nil),
                (#"{"messages":[{"role":"user","content":"Hi"}],"stop":[1]}"#, 400, "stop", nil, nil),
                (#"{"messages":[{"role":"user","content":"Hi"}],"stream":"yes"}"#, 400, "stream", nil, nil),
                (#"{"messages":[{"role":"user"}],"mm_processor_kwargs":{"max_pixels":10}}"#, 400, "mm_processor_kwargs.max_pixels", nil, nil),
                (#"{"messages":[{"role":"user","content":[{"type":"audio","audio":"x"}]}]}"#, 400, "messages[0]", nil, "audio"),
                (#"{"messages":[{"role":"user","content":"\#(String(repeating: "word ", count: 60))"}]}"#, 400, "messages",
                 "context_length_exceeded", "limit of 40"),
            ]
            for (body, status, param, code, fragment) in cases {
                let response = try await client.chat(body)
                try assertAPIError(response, status: status, param: param.map { $0 }, code: code.map { $0 }, messageContains: fragment)
                let status = try await client.chat(Self.hello).status
                XCTAssertEqual(status, .ok, "after \(body.prefix(60))")
            }
            _ = server
        }
    }

    func testMediaErrors() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("qwenvl-serve-\(UUID().uuidString)")
        let allowed = folder.appendingPathComponent("allowed")
        try FileManager.default.createDirectory(at: allowed, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let icon = ServerFixtures.images.appendingPathComponent("icon.png")
        try FileManager.default.copyItem(at: icon, to: allowed.appendingPathComponent("icon.png"))
        try FileManager.default.copyItem(at: icon, to: folder.appendingPathComponent("secret.png"))
        try FileManager.default.createSymbolicLink(atPath: allowed.appendingPathComponent("escape.png").path,
                                                   withDestinationPath: folder.appendingPathComponent("secret.png").path)
        let png = try ServerFixtures.dataURL("icon.png")

        try await withServer(ServerOptions(maxBodyBytes: 64 << 10, maxImagesPerRequest: 1)) { client, _ in
            try assertAPIError(try await client.chat(Self.imageRequest(icon.path)), status: 403, param: "messages[0].content[0]",
                               code: "media_not_allowed", messageContains: "--allow-local-media")
            try assertAPIError(try await client.chat(Self.imageRequest("https://example.com/cat.png")), status: 403,
                               code: "media_not_allowed", messageContains: "--allow-remote-media")
            try assertAPIError(try await client.chat(Self.imageRequest("data:image/png;base64,iVBORw0KG")), status: 400,
                               messageContains: "base64")
            try assertAPIError(try await client.chat(Self.imageRequest("data:text/plain;base64,aGVsbG8=")), status: 400,
                               messageContains: "data URL")
            try assertAPIError(try await client.chat(Self.imageRequest("data:image/png;base64," + Data("not a png".utf8).base64EncodedString())),
                               status: 400, messageContains: "unsupported image format")
            let big = "data:image/png;base64," + String(repeating: "A", count: 70 << 10)
            try assertAPIError(try await client.chat(Self.imageRequest(big)), status: 413, code: "request_too_large")
            let two = Self.imageRequest(png).replacingOccurrences(of: #"{"type":"text""#,
                                                                  with: #"{"type":"image","image":"\#(png)"},{"type":"text""#)
            try assertAPIError(try await client.chat(two), status: 400, code: "too_many_images", messageContains: "limit of 1")
            let status = try await client.chat(Self.imageRequest(png)).status
            XCTAssertEqual(status, .ok)
        }

        var options = ServerOptions()
        options.allowLocalMedia = allowed
        try await withServer(options) { client, _ in
            for path in ["icon.png", allowed.appendingPathComponent("icon.png").path, "file://" + allowed.appendingPathComponent("icon.png").path] {
                let status = try await client.chat(Self.imageRequest(path)).status
                XCTAssertEqual(status, .ok, path)
            }
            for path in ["../secret.png", allowed.path + "/../secret.png", "file://" + folder.appendingPathComponent("secret.png").path,
                         "escape.png", "/etc/passwd"] {
                try assertAPIError(try await client.chat(Self.imageRequest(path)), status: 403, code: "media_not_allowed",
                                   messageContains: "outside the allowed media folder")
            }
            try assertAPIError(try await client.chat(Self.imageRequest("missing.png")), status: 400, code: "media_not_found")
            let status = try await client.chat(Self.hello).status
            XCTAssertEqual(status, .ok)
        }
    }

    /// An image whose header claims more pixels than the decoder's limit is refused before decoding.
    func testOversizedImageDimensions() async throws {
        try await withServer { client, _ in
            let url = "data:image/png;base64," + Self.hugePNG(width: 20000, height: 10000).base64EncodedString()
            try assertAPIError(try await client.chat(Self.imageRequest(url)), status: 400, messageContains: "too large")
            let status = try await client.chat(Self.hello).status
            XCTAssertEqual(status, .ok)
        }
    }

    func testUnknownRoutesAndMethods() async throws {
        try await withServer { client, _ in
            try assertAPIError(try await client.execute(uri: "/v1/completions", method: .post), status: 404, code: "not_found")
            try assertAPIError(try await client.execute(uri: "/v1/chat/completions", method: .get), status: 404)
            try assertAPIError(try await client.execute(uri: "/v1/models/other", method: .get), status: 404, code: "model_not_found")
        }
    }

    /// A PNG header (IHDR) claiming `width × height` 1-bit grey pixels, with a tiny IDAT that is never reached.
    static func hugePNG(width: Int, height: Int) -> Data {
        func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 255), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)] }
        func chunk(_ type: String, _ payload: [UInt8]) -> [UInt8] {
            let body = Array(type.utf8) + payload
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in body {
                crc ^= UInt32(byte)
                for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
            }
            return be32(payload.count) + body + be32(Int(crc ^ 0xFFFF_FFFF))
        }
        let header: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        let ihdr = be32(width) + be32(height) + [1, 0, 0, 0, 0]
        return Data(header + chunk("IHDR", ihdr) + chunk("IDAT", [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]) + chunk("IEND", []))
    }
}
