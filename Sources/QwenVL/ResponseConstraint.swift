import Foundation
import QwenVLTokenizer

/// A function the model may call: its name and the JSON schema of its arguments (OpenAI `function.parameters`).
public struct FunctionSchema: Sendable, Equatable {
    public var name: String
    /// A JSON schema from the supported subset (see ``ResponseConstraint/jsonSchema(_:)``); `{}` allows any value.
    public var parameters: JSONValue

    public init(name: String, parameters: JSONValue) {
        self.name = name
        self.parameters = parameters
    }
}

/// A schema the constraint engine cannot enforce, naming what it does not support.
public struct ResponseConstraintError: Error, CustomStringConvertible, Equatable {
    /// A sentence for the user, e.g. `unsupported JSON schema keywords: patternProperties, $ref`.
    public var description: String
    /// The unsupported keywords or bad constructs, e.g. `["patternProperties", "$ref"]` (the server answers 400
    /// naming them).
    public var unsupportedKeywords: [String]

    public init(description: String, unsupportedKeywords: [String] = []) {
        self.description = description
        self.unsupportedKeywords = unsupportedKeywords
    }
}

/// What the generated text must be: a JSON object, a value valid for a JSON schema, or tool calls.
///
/// Set ``GenerationParameters/constraint`` and every decoding step masks the tokens whose bytes the
/// constraint's automaton rejects (see ``ConstrainedDecoder``), so the output is valid even with random weights:
///
/// ```swift
/// var p = GenerationParameters()
/// p.constraint = try .jsonSchema(.parse(#"{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"]}"#))
/// let result = try await model.generate(messages: messages, parameters: p)   // result.text is e.g. {"x": 42}
/// ```
///
/// Supported schema subset: `type` (object, array, string, number, integer, boolean, null, or a list of them),
/// `properties`, `required`, `additionalProperties` (false, true, absent or a schema), `items`, `minItems`,
/// `maxItems`, `minLength`, `maxLength`, `enum`, `const`, `anyOf`; annotations (`title`, `description`,
/// `default`, `examples`, `$schema`, `$id`, `$comment`) are ignored. Anything else throws
/// ``ResponseConstraintError`` naming it.
///
/// The generated text is compact JSON with at most one space after `:` and `,`; objects list their properties
/// in schema order (required ones always, optional ones may be skipped). Bounds keep decoding finite: strings
/// at most `maxLength` (default ``Limits/maxStringLength``) characters, arrays at most `maxItems` (default
/// ``Limits/maxItems``) items, integers at most ``Limits/maxIntegerDigits`` digits and fractions at most
/// ``Limits/maxFractionDigits`` digits, free-form values nested at most ``Limits/maxFreeDepth`` levels.
public struct ResponseConstraint: Sendable, Equatable {
    /// Bounds the automaton puts on what the schema leaves open, so decoding always ends.
    public enum Limits {
        /// Characters of a string without `maxLength`.
        public static let maxStringLength = 256
        /// Items of an array without `maxItems`.
        public static let maxItems = 16
        /// Members of an object with free-form keys (`{"type": "object"}` without `properties`).
        public static let maxFreeMembers = 8
        /// Characters of a free-form key.
        public static let maxFreeKeyLength = 32
        /// Nesting of values left free by the schema (`{}`, arrays without `items`).
        public static let maxFreeDepth = 3
        /// Digits before the decimal point (after an optional minus sign).
        public static let maxIntegerDigits = 15
        /// Digits after the decimal point.
        public static let maxFractionDigits = 8
        /// Calls in one answer with `parallel: true`.
        public static let maxParallelCalls = 8
    }

    /// Where the constraint came from (kept for equality and descriptions).
    public enum Source: Sendable, Equatable {
        case jsonObject
        case jsonSchema(JSONValue)
        case toolCalls([FunctionSchema], parallel: Bool)
    }

    public let source: Source
    /// The compiled automaton description (immutable, shared).
    let grammar: JSONGrammar

    init(source: Source, grammar: JSONGrammar) {
        self.source = source
        self.grammar = grammar
    }

    /// Any JSON object (OpenAI `response_format: {"type": "json_object"}`).
    public static func jsonObject() -> ResponseConstraint {
        var builder = JSONGrammarBuilder()
        let root = builder.freeObject(depth: Limits.maxFreeDepth)
        return ResponseConstraint(source: .jsonObject, grammar: builder.finish(root: root))
    }

    /// A value valid for `schema` (OpenAI `response_format: {"type": "json_schema", "json_schema": {"schema": …}}`).
    ///
    /// Throws ``ResponseConstraintError`` for keywords outside the supported subset or an unsatisfiable schema.
    public static func jsonSchema(_ schema: JSONValue) throws -> ResponseConstraint {
        var builder = JSONGrammarBuilder()
        let root = try builder.compileRoot(schema)
        return ResponseConstraint(source: .jsonSchema(schema), grammar: builder.finish(root: root))
    }

    /// Tool calls in the Qwen2.5 (Hermes) format:
    /// `<tool_call>\n{"name": <one of functions>, "arguments": <valid for that function>}\n</tool_call>`
    /// (one call, or when `parallel` one or more calls separated by "\n"), then `<|im_end|>`.
    public static func toolCalls(_ functions: [FunctionSchema], parallel: Bool) throws -> ResponseConstraint {
        var builder = JSONGrammarBuilder()
        let root = try builder.toolCalls(functions, parallel: parallel)
        return ResponseConstraint(source: .toolCalls(functions, parallel: parallel), grammar: builder.finish(root: root))
    }

    /// Whether `text` is a complete output the constraint allows (the automaton run over its UTF-8 bytes).
    public func accepts(_ text: String) -> Bool {
        var state = JSONGrammarState(grammar: grammar)
        for byte in text.utf8 {
            state.advance(byte)
            if state.isDead { return false }
        }
        return state.isComplete
    }

    /// Whether `text` can be continued into an output the constraint allows.
    public func acceptsPrefix(_ text: String) -> Bool {
        var state = JSONGrammarState(grammar: grammar)
        for byte in text.utf8 {
            state.advance(byte)
            if state.isDead { return false }
        }
        return true
    }

    public static func == (a: ResponseConstraint, b: ResponseConstraint) -> Bool { a.source == b.source }
}
