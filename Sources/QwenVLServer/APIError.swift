import Foundation
import Hummingbird
import QwenVLTokenizer

/// An error answered in OpenAI's shape: `{"error":{"message","type","param","code"}}` with an HTTP status.
///
/// ```swift
/// throw APIError.invalidRequest("\"n\" must be 1", param: "n")    // 400
/// ```
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var message: String
    /// OpenAI's error class: `invalid_request_error`, `not_found_error`, `server_error`, …
    public var type: String
    /// The request field at fault, if one is.
    public var param: String?
    /// A machine-readable code (`model_not_found`, `context_length_exceeded`, …).
    public var code: String?

    public init(status: HTTPResponse.Status, message: String, type: String, param: String? = nil, code: String? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
    }

    public var description: String { "\(status.code) \(type): \(message)" }

    /// 400: the request is malformed or asks for something unsupported.
    public static func invalidRequest(_ message: String, param: String? = nil, code: String? = nil) -> APIError {
        APIError(status: .badRequest, message: message, type: "invalid_request_error", param: param, code: code)
    }

    /// 404: the model named in the request is not served here.
    public static func modelNotFound(_ name: String) -> APIError {
        APIError(status: .notFound, message: "The model '\(name)' does not exist", type: "invalid_request_error",
                 param: "model", code: "model_not_found")
    }

    /// 404 for an unknown route.
    public static func routeNotFound(_ method: String, _ path: String) -> APIError {
        APIError(status: .notFound, message: "No route for \(method) \(path)", type: "invalid_request_error", code: "not_found")
    }

    /// 413: the body is larger than the server accepts.
    public static func bodyTooLarge(limit: Int) -> APIError {
        APIError(status: .contentTooLarge, message: "The request body exceeds the limit of \(limit) bytes",
                 type: "invalid_request_error", code: "request_too_large")
    }

    /// 403: a media reference the server's media policy refuses.
    public static func mediaForbidden(_ message: String, param: String?) -> APIError {
        APIError(status: .forbidden, message: message, type: "invalid_request_error", param: param, code: "media_not_allowed")
    }

    /// 503: the queue is full.
    public static func overloaded(_ message: String) -> APIError {
        APIError(status: .serviceUnavailable, message: message, type: "server_error", code: "server_overloaded")
    }

    /// 500: something failed inside the server.
    public static func internalError(_ message: String) -> APIError {
        APIError(status: .internalServerError, message: message, type: "server_error", code: "internal_error")
    }

    /// The `{"error":{…}}` object.
    var json: JSONValue {
        .obj(["error": .obj([
            "message": .string(message), "type": .string(type), "param": .str(param), "code": .str(code),
        ])])
    }
}
