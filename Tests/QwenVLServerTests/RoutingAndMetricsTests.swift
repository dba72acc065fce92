import Foundation
import Hummingbird
import HummingbirdTesting
import QwenVLTokenizer
import XCTest
@testable import QwenVLServer

/// `GET /health`, `/v1/models`, `/metrics`, and the counters a few requests leave behind.
final class RoutingAndMetricsTests: XCTestCase {
    func testHealthAndModels() async throws {
        try await withServer(ServerOptions(modelName: "qwen-tiny")) { client, _ in
            let health = try await client.execute(uri: "/health", method: .get)
            XCTAssertEqual(health.status, .ok)
            XCTAssertEqual(try json(health)["status"]?.stringValue, "ok")
            let models = try json(try await client.execute(uri: "/v1/models", method: .get))
            XCTAssertEqual(models["object"]?.stringValue, "list")
            let card = models["data"]?.arrayValue?.first
            XCTAssertEqual(models["data"]?.arrayValue?.count, 1)
            XCTAssertEqual(card?["id"]?.stringValue, "qwen-tiny")
            XCTAssertEqual(card?["object"]?.stringValue, "model")
            XCTAssertEqual(card?["max_model_len"]?.intValue, 32768, "max_position_embeddings of tiny-f32/config.json")
            let one = try json(try await client.execute(uri: "/v1/models/qwen-tiny", method: .get))
            XCTAssertEqual(one["id"]?.stringValue, "qwen-tiny")
            // The served name replaces the folder name.
            try assertAPIError(try await client.chat(#"{"model":"tiny-f32","messages":[{"role":"user","content":"Hi"}]}"#),
                               status: 404, code: "model_not_found")
        }
    }

    func testMetricsCountRequestsTokensErrorsAndLatency() async throws {
        try await withServer { client, server in
            let ok = #"{"messages":[{"role":"user","content":"Hi"}],"max_tokens":3,"temperature":0,"ignore_eos":true}"#
            for _ in 0..<2 {
                let status = try await client.chat(ok).status
                XCTAssertEqual(status, .ok)
            }
            let streamed = try await client.chat(ok.replacingOccurrences(of: "}", with: #","stream":true}"#, options: .backwards,
                                                                           range: ok.index(before: ok.endIndex)..<ok.endIndex))
            XCTAssertEqual(streamed.status, .ok)
            _ = try await client.chat("{")
            _ = try await client.chat(#"{"model":"nope","messages":[{"role":"user","content":"Hi"}]}"#)
            let prompt = try json(try await client.chat(ok.replacingOccurrences(of: "\"max_tokens\"", with: "\"return_token_ids\":true,\"max_tokens\"")))
            let promptTokens = prompt["prompt_token_ids"]?.arrayValue?.count ?? 0
            XCTAssertGreaterThan(promptTokens, 0)

            let response = try await client.execute(uri: "/metrics", method: .get)
            XCTAssertEqual(response.status, .ok)
            XCTAssertEqual(response.headers[.contentType], "text/plain; version=0.0.4; charset=utf-8")
            let text = String(buffer: response.body)
            let values = Self.samples(text)
            XCTAssertEqual(values["qwenvl_requests_total"], 6)
            XCTAssertEqual(values["qwenvl_request_errors_total{status=\"400\"}"], 1)
            XCTAssertEqual(values["qwenvl_request_errors_total{status=\"404\"}"], 1)
            XCTAssertEqual(values["qwenvl_completion_tokens_total"], 12, "4 successful requests × 3 tokens (EOS ignored)")
            XCTAssertEqual(values["qwenvl_prompt_tokens_total"], Double(4 * promptTokens))
            XCTAssertEqual(values["qwenvl_requests_cancelled_total"], 0)
            XCTAssertEqual(values["qwenvl_queue_length"], 0)
            XCTAssertEqual(values["qwenvl_time_to_first_token_seconds_count"], 4)
            XCTAssertEqual(values["qwenvl_time_to_first_token_seconds_bucket{le=\"+Inf\"}"], 4)
            XCTAssertEqual(values["qwenvl_time_per_output_token_seconds_count"], 8, "2 gaps per 3-token answer")
            XCTAssertGreaterThan(values["qwenvl_time_per_output_token_seconds_sum"] ?? 0, 0)
            for name in ["qwenvl_requests_total", "qwenvl_time_to_first_token_seconds", "qwenvl_queue_length"] {
                XCTAssertTrue(text.contains("# TYPE \(name) "), name)
            }
            // Buckets are cumulative: counts never decrease with the bound.
            let buckets = text.split(separator: "\n").filter { $0.hasPrefix("qwenvl_time_per_output_token_seconds_bucket") }
                .compactMap { Double($0.split(separator: " ").last ?? "") }
            XCTAssertEqual(buckets, buckets.sorted())
            _ = server
        }
    }

    /// `name{labels} value` lines of a Prometheus text body.
    static func samples(_ text: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let value = Double(parts[1]) { out[String(parts[0])] = value }
        }
        return out
    }
}
