import Foundation
import QwenVL
import QwenVLTokenizer

/// The `response_format` request field: `{"type": "text" | "json_object" | "json_schema", "json_schema": {…}}`.
enum ResponseFormatField {
    /// Reads the field (absent or null: text); errors are 400s naming the field.
    static func request(_ json: JSONValue) throws -> ResponseFormat {
        guard let value = json["response_format"], !value.isNull else { return .text }
        do { return try ResponseFormat(json: value) } catch let error as QwenVLError {
            throw APIError.invalidRequest(error.description, param: "response_format")
        }
    }

    /// Builds the tool-calling plan, turning its errors (unknown function, unsupported schema keywords) into 400s.
    static func plan(tools: [Tool], choice: ToolChoice?, parallel: Bool, format: ResponseFormat) throws -> ToolCallingPlan {
        do {
            return try ToolCallingPlan(tools: tools, toolChoice: choice, parallelToolCalls: parallel, responseFormat: format)
        } catch let error as ToolRequestError {
            throw APIError.invalidRequest(error.description, param: error.field,
                                          code: error.unsupportedKeywords.isEmpty ? nil : "unsupported_schema_keyword")
        }
    }
}
