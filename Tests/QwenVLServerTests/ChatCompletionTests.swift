import Foundation
import Hummingbird
import HummingbirdTesting
import QwenVL
import QwenVLTokenizer
import XCTest
@testable import QwenVLServer

/// `POST /v1/chat/completions` answers match the HF transformers reference generations of the fixture cases.
final class ChatCompletionTests: XCTestCase {
    /// A request body for `messages` with extra top-level fields.
    static func request(_ messages: JSONValue, _ extra: KeyValuePairs<String, JSONValue>) -> JSONValue {
        .object([.init(key: "model", value: .string("tiny-f32")), .init(key: "messages", value: messages),
                 .init(key: "return_token_ids", value: .bool(true))]
                + extra.map { JSONValue.JSONMember(key: $0.key, value: $0.value) })
    }

    /// Greedy answers of the text cases (the first 4 of the reference's 16 greedy tokens; generation is causal, so a
    /// shorter run is a prefix), then the repetition penalty and the generation_config defaults on the first two cases.
    func testTextCasesMatchReferenceGreedyPenalizedAndDefaults() async throws {
        let messages = try ServerFixtures.caseMessages("text_cases.json")
        let refs = try ServerFixtures.referenceCases("text.json")
        XCTAssertEqual(messages.count, refs.count)
        try await withServer { client, server in
            // long_prompt (1709 tokens) is left to the model's own parity tests: a debug-build prefill costs seconds.
            for (index, (item, ref)) in zip(messages, refs).enumerated() where (ref["prompt_token_ids"]?.arrayValue?.count ?? 0) < 200 {
                let name = ref["name"]?.stringValue ?? "?"
                let msgs = item["messages"] ?? .null
                let greedy = try await client.chat(Self.request(msgs, ["temperature": .int(0), "repetition_penalty": .int(1), "max_tokens": .int(4)]))
                XCTAssertEqual(greedy.status, .ok, name)
                let body = try json(greedy)
                XCTAssertEqual(body["object"]?.stringValue, "chat.completion")
                XCTAssertEqual(body["model"]?.stringValue, "tiny-f32")
                XCTAssertTrue(body["id"]?.stringValue?.hasPrefix("chatcmpl-") ?? false)
                XCTAssertEqual(body["prompt_token_ids"]?.int32s, ref["prompt_token_ids"]?.int32s, "\(name) prompt")
                let choice = body["choices"]?.arrayValue?.first
                let expected = Array((ref["greedy_token_ids"]?.int32s ?? []).prefix(4))
                XCTAssertEqual(choice?["token_ids"]?.int32s, expected, "\(name) greedy")
                XCTAssertEqual(choice?["message"]?["role"]?.stringValue, "assistant")
                XCTAssertEqual(choice?["message"]?["content"]?.stringValue,
                               server.model.tokenizer.decode(expected, skipSpecialTokens: true), "\(name) text")
                XCTAssertEqual(choice?["finish_reason"]?.stringValue, "length")
                XCTAssertEqual(body["usage"]?["prompt_tokens"]?.intValue, ref["prompt_token_ids"]?.arrayValue?.count)
                XCTAssertEqual(body["usage"]?["completion_tokens"]?.intValue, 4)
                XCTAssertEqual(body["usage"]?["total_tokens"]?.intValue, (ref["prompt_token_ids"]?.arrayValue?.count ?? 0) + 4)
                guard index < 2 else { continue }

                let penalized = try json(try await client.chat(Self.request(msgs, ["temperature": .int(0), "repetition_penalty": .number("1.3"),
                                                                                   "max_completion_tokens": .int(8), "max_tokens": .int(3)])))
                XCTAssertEqual(penalized["choices"]?.arrayValue?.first?["token_ids"]?.int32s,
                               Array((ref["penalized_token_ids"]?.int32s ?? []).prefix(8)),
                               "\(name) repetition_penalty 1.3 (max_completion_tokens wins over max_tokens)")

                // No sampling fields: generation_config.json (do_sample, temperature 0.1, top_k 1, top_p 0.001, penalty 1.05).
                let defaults = try json(try await client.chat(Self.request(msgs, ["max_tokens": .int(12), "seed": .int(1)])))
                XCTAssertEqual(defaults["choices"]?.arrayValue?.first?["token_ids"]?.int32s,
                               Array((ref["default_token_ids"]?.int32s ?? []).prefix(12)), "\(name) generation_config defaults")
            }
        }
    }

    func testImageCasesAsDataURLsMatchReference() async throws {
        let messages = try ServerFixtures.caseMessages("image_cases.json")
        let refs = try ServerFixtures.referenceCases("image.json")
        try await withServer { client, _ in
            var checked = 0
            for (item, ref) in zip(messages, refs) where item["add_vision_id"] == nil {
                let name = ref["name"]?.stringValue ?? "?"
                let msgs = try Self.withDataURLs(item["messages"] ?? .null)
                let response = try await client.chat(Self.request(msgs, ["temperature": .int(0), "repetition_penalty": .int(1), "max_tokens": .int(3)]))
                XCTAssertEqual(response.status, .ok, name)
                let body = try json(response)
                XCTAssertEqual(body["prompt_token_ids"]?.int32s, ref["prompt_token_ids"]?.int32s, "\(name) prompt")
                XCTAssertEqual(body["choices"]?.arrayValue?.first?["token_ids"]?.int32s,
                               Array((ref["greedy_token_ids"]?.int32s ?? []).prefix(3)), "\(name) greedy")
                checked += 1
            }
            XCTAssertEqual(checked, 7)
        }
    }

    /// The strip case's per-image `max_pixels: 18816` given instead as vLLM's `mm_processor_kwargs`.
    func testMMProcessorKwargsMaxPixels() async throws {
        let ref = try ServerFixtures.referenceCases("image.json").first { $0["name"]?.stringValue == "strip_max_pixels" }
        let url = try ServerFixtures.dataURL("strip.png")
        let messages: JSONValue = .array([.obj(["role": .string("user"), "content": .array([
            .obj(["type": .string("image_url"), "image_url": .obj(["url": .string(url)])]),
            .obj(["type": .string("text"), "text": .string("Read the text in this strip.")]),
        ])])])
        try await withServer { client, _ in
            let body = try json(try await client.chat(Self.request(messages, [
                "temperature": .int(0), "repetition_penalty": .int(1), "max_tokens": .int(3),
                "mm_processor_kwargs": .obj(["max_pixels": .int(18816)])])))
            XCTAssertEqual(body["prompt_token_ids"]?.int32s, ref?["prompt_token_ids"]?.int32s)
            XCTAssertEqual(body["choices"]?.arrayValue?.first?["token_ids"]?.int32s, Array((ref?["greedy_token_ids"]?.int32s ?? []).prefix(3)))
        }
    }

    func testStreamingEventsMatchWholeAnswer() async throws {
        let item = try ServerFixtures.caseMessages("image_cases.json")[0]
        let ref = try ServerFixtures.referenceCases("image.json")[0]
        let msgs = try Self.withDataURLs(item["messages"] ?? .null)
        try await withServer { client, server in
            let response = try await client.chat(Self.request(msgs, [
                "temperature": .int(0), "repetition_penalty": .int(1), "max_tokens": .int(8), "stream": .bool(true),
                "stream_options": .obj(["include_usage": .bool(true)])]))
            XCTAssertEqual(response.status, .ok)
            XCTAssertEqual(response.headers[.contentType], "text/event-stream; charset=utf-8")
            let text = String(buffer: response.body)
            XCTAssertTrue(text.hasSuffix("data: [DONE]\n\n"))
            let events = text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
            XCTAssertTrue(events.allSatisfy { $0.hasPrefix("data: ") })
            let chunks = try events.dropLast().map { try JSONValue.parse(String($0.dropFirst(6))) }
            XCTAssertEqual(events.last, "data: [DONE]")
            XCTAssertTrue(chunks.allSatisfy { $0["object"]?.stringValue == "chat.completion.chunk" })
            XCTAssertEqual(Set(chunks.compactMap { $0["id"]?.stringValue }).count, 1, "one id for the whole stream")
            let first = chunks.first?["choices"]?.arrayValue?.first
            XCTAssertEqual(first?["delta"]?["role"]?.stringValue, "assistant")
            let usage = chunks.last
            XCTAssertEqual(usage?["choices"]?.arrayValue?.count, 0)
            XCTAssertEqual(usage?["usage"]?["prompt_tokens"]?.intValue, ref["prompt_token_ids"]?.arrayValue?.count)
            XCTAssertEqual(usage?["usage"]?["completion_tokens"]?.intValue, 8)
            let choices = chunks.dropLast().compactMap { $0["choices"]?.arrayValue?.first }
            XCTAssertTrue(chunks.dropLast().allSatisfy { $0["usage"] == .null }, "usage: null on every chunk but the last")
            XCTAssertEqual(choices.last?["finish_reason"]?.stringValue, "length")
            XCTAssertTrue(choices.dropLast().allSatisfy { $0["finish_reason"] == .null })
            let ids = choices.flatMap { $0["token_ids"]?.int32s ?? [] }
            XCTAssertEqual(ids, Array((ref["greedy_token_ids"]?.int32s ?? []).prefix(8)))
            let content = choices.compactMap { $0["delta"]?["content"]?.stringValue }.joined()
            XCTAssertEqual(content, server.model.tokenizer.decode(ids, skipSpecialTokens: true))
        }
    }

    func testStopStringsCutTheAnswer() async throws {
        let item = try ServerFixtures.caseMessages("text_cases.json")[0]
        try await withServer { client, server in
            let full = try json(try await client.chat(Self.request(item["messages"] ?? .null, ["temperature": .int(0), "max_tokens": .int(8)])))
            let text = full["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue ?? ""
            XCTAssertGreaterThan(text.count, 2)
            let stop = String(text.dropFirst(text.count / 2).prefix(2))
            let cut = try json(try await client.chat(Self.request(item["messages"] ?? .null, [
                "temperature": .int(0), "max_tokens": .int(8), "stop": .array([.string("\u{1F600}never"), .string(stop)])])))
            let choice = cut["choices"]?.arrayValue?.first
            XCTAssertEqual(choice?["message"]?["content"]?.stringValue, String(text[..<(text.range(of: stop)?.lowerBound ?? text.endIndex)]))
            XCTAssertEqual(choice?["finish_reason"]?.stringValue, "stop")
            _ = server
        }
    }

    /// Replaces the fixture image names of a cases file with `data:` URLs of the same files.
    static func withDataURLs(_ value: JSONValue) throws -> JSONValue {
        switch value {
        case .object(let members):
            return .object(try members.map { member in
                if member.key == "image", let name = member.value.stringValue {
                    return .init(key: "image", value: .string(try ServerFixtures.dataURL(name)))
                }
                return .init(key: member.key, value: try withDataURLs(member.value))
            })
        case .array(let items): return .array(try items.map(withDataURLs))
        default: return value
        }
    }
}
