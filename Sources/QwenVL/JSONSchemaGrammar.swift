import Foundation
import QwenVLTokenizer

/// One rule of a compiled constraint grammar; rules refer to each other by index into ``JSONGrammar/nodes``.
///
/// Every rule matches a bounded byte language, so the automaton built from them always reaches an end.
enum GrammarNode: Sendable {
    /// Exactly these bytes (a JSON literal, an enum value, the text around a tool call).
    case literal([UInt8])
    /// The children one after another.
    case sequence([Int32])
    /// Any one of the children.
    case anyOf([Int32])
    /// `{` the listed properties in order (required ones present, optional ones may be skipped) `}`.
    case object([GrammarProperty])
    /// `{` up to `maxMembers` `key: value` members with free string keys (`key` is a string rule) `}`.
    case freeObject(key: Int32, value: Int32, maxMembers: Int32)
    /// `[` between `minItems` and `maxItems` items `]`.
    case array(item: Int32, minItems: Int32, maxItems: Int32)
    /// `item` repeated `min…max` times with `separator` bytes between (no brackets, no whitespace).
    case repetition(item: Int32, separator: [UInt8], min: Int32, max: Int32)
    /// A JSON string of `minLength…maxLength` characters (Unicode scalars; an escape counts as one).
    case string(minLength: Int32, maxLength: Int32)
    /// A JSON number: `-?(0|[1-9][0-9]*)`, then for non-integers an optional `.[0-9]+`; digits bounded.
    case number(integer: Bool)
}

/// A property of a fixed-shape object rule.
struct GrammarProperty: Sendable {
    /// The key as JSON text, quotes included (`"name"`).
    var key: [UInt8]
    var value: Int32
    var required: Bool
}

/// A compiled constraint: the rules and the root rule the whole output must match.
final class JSONGrammar: Sendable {
    let nodes: [GrammarNode]
    let root: Int32
    /// Token masks per parse state, shared by the generations using this grammar.
    let maskCache = TokenMaskCache()
    /// The bytes a shortest completion can need (``JSONGrammarState/shortestCompletion(limit:)``).
    let completionAlphabet: [UInt8]

    init(nodes: [GrammarNode], root: Int32) {
        self.nodes = nodes
        self.root = root
        completionAlphabet = TokenBudget.alphabet(of: nodes)
    }
}

/// Builds grammar rules: from a JSON schema (the supported subset), free-form JSON, or tool calls.
struct JSONGrammarBuilder {
    private(set) var nodes: [GrammarNode] = []
    /// Unsupported keywords met so far (reported together at the end).
    private var unsupported: [String] = []
    private var freeValues: [Int: Int32] = [:]
    private var freeObjects: [Int: Int32] = [:]
    private var freeKey: Int32?

    /// Keywords that never change what is valid.
    static let annotations: Set<String> = ["title", "description", "default", "examples", "$schema", "$id", "$comment"]
    /// Keywords the compiler enforces.
    static let supported: Set<String> = ["type", "properties", "required", "additionalProperties", "items", "minItems",
                                         "maxItems", "minLength", "maxLength", "enum", "const", "anyOf"]

    mutating func add(_ node: GrammarNode) -> Int32 {
        nodes.append(node)
        return Int32(nodes.count - 1)
    }

    func finish(root: Int32) -> JSONGrammar { JSONGrammar(nodes: nodes, root: root) }

    mutating func literal(_ text: String) -> Int32 { add(.literal(Array(text.utf8))) }

    // MARK: - Free-form JSON

    /// Any JSON value nested at most `depth` levels (depth 0: scalars only).
    mutating func freeValue(depth: Int) -> Int32 {
        if let id = freeValues[depth] { return id }
        var choices: [Int32] = []
        if depth > 0 {
            choices.append(freeObject(depth: depth))
            let item = freeValue(depth: depth - 1)
            choices.append(add(.array(item: item, minItems: 0, maxItems: Int32(ResponseConstraint.Limits.maxItems))))
        }
        choices.append(add(.string(minLength: 0, maxLength: Int32(ResponseConstraint.Limits.maxStringLength))))
        choices.append(add(.number(integer: false)))
        choices.append(literal("true"))
        choices.append(literal("false"))
        choices.append(literal("null"))
        let id = add(.anyOf(choices))
        freeValues[depth] = id
        return id
    }

    /// Any JSON object whose values nest at most `depth − 1` further levels.
    mutating func freeObject(depth: Int) -> Int32 {
        if let id = freeObjects[depth] { return id }
        let value = freeValue(depth: max(depth - 1, 0))
        let id = freeObject(value: value)
        freeObjects[depth] = id
        return id
    }

    /// An object with free keys whose values all match `value`.
    mutating func freeObject(value: Int32) -> Int32 {
        let key = freeKey ?? add(.string(minLength: 0, maxLength: Int32(ResponseConstraint.Limits.maxFreeKeyLength)))
        freeKey = key
        return add(.freeObject(key: key, value: value, maxMembers: Int32(ResponseConstraint.Limits.maxFreeMembers)))
    }

    // MARK: - Tool calls

    /// `<tool_call>\n{"name": "f", "arguments": …}\n</tool_call>`, once or (parallel) 1…N times joined by "\n".
    mutating func toolCalls(_ functions: [FunctionSchema], parallel: Bool) throws -> Int32 {
        guard !functions.isEmpty else {
            throw ResponseConstraintError(description: "tool calls need at least one function")
        }
        var calls: [Int32] = []
        for function in functions {
            guard !function.name.isEmpty else { throw ResponseConstraintError(description: "a function has an empty name") }
            let arguments: Int32
            if case .object(let members) = function.parameters, members.allSatisfy({ Self.annotations.contains($0.key) }) {
                arguments = freeObject(depth: ResponseConstraint.Limits.maxFreeDepth)       // `{}`: any object
            } else {
                arguments = try compile(function.parameters, path: "\(function.name).parameters")
            }
            let head = literal("{\"name\": " + JSONText.string(.string(function.name)) + ", \"arguments\": ")
            calls.append(add(.sequence([head, arguments, literal("}")])))
        }
        try throwUnsupported()
        let body = calls.count == 1 ? calls[0] : add(.anyOf(calls))
        let call = add(.sequence([literal("<tool_call>\n"), body, literal("\n</tool_call>")]))
        guard parallel else { return call }
        return add(.repetition(item: call, separator: [0x0A], min: 1, max: Int32(ResponseConstraint.Limits.maxParallelCalls)))
    }

    // MARK: - JSON schema

    /// The rule for a whole schema; throws naming every unsupported keyword found anywhere in it.
    mutating func compileRoot(_ schema: JSONValue) throws -> Int32 {
        let root = try compile(schema, path: "schema")
        try throwUnsupported()
        return root
    }

    private func throwUnsupported() throws {
        guard !unsupported.isEmpty else { return }
        throw ResponseConstraintError(description: "unsupported JSON schema keywords: " + unsupported.joined(separator: ", "),
                                      unsupportedKeywords: unsupported)
    }

    private mutating func noteUnsupported(_ keyword: String) {
        if !unsupported.contains(keyword) { unsupported.append(keyword) }
    }

    private func bad(_ path: String, _ message: String) -> ResponseConstraintError {
        ResponseConstraintError(description: "\(path): \(message)")
    }

    /// The rule for one (sub)schema; `path` names it in errors (e.g. `schema.properties.x`).
    mutating func compile(_ schema: JSONValue, path: String) throws -> Int32 {
        switch schema {
        case .bool(true): return freeValue(depth: ResponseConstraint.Limits.maxFreeDepth)
        case .bool(false): throw bad(path, "the schema `false` accepts nothing")
        case .object(let members):
            for member in members where !Self.supported.contains(member.key) && !Self.annotations.contains(member.key) {
                noteUnsupported(member.key)
            }
            return try compileObjectSchema(schema, path: path)
        default: throw bad(path, "a schema must be an object or a boolean")
        }
    }

    private mutating func compileObjectSchema(_ schema: JSONValue, path: String) throws -> Int32 {
        let types = try typeList(schema, path: path)
        if let value = schema["const"] {
            if let types, !types.contains(where: { Self.matches(value, type: $0) }) {
                throw bad(path, "`const` does not have the schema's type")
            }
            return add(.literal(Array(JSONText.string(value).utf8)))
        }
        if let values = schema["enum"] {
            guard let list = values.arrayValue else { throw bad(path, "`enum` must be an array") }
            let kept = list.filter { value in types.map { $0.contains { Self.matches(value, type: $0) } } ?? true }
            guard !kept.isEmpty else { throw bad(path, "`enum` has no value of the schema's type") }
            var seen = Set<String>()
            let literals = kept.map { JSONText.string($0) }.filter { seen.insert($0).inserted }.map { add(.literal(Array($0.utf8))) }
            return literals.count == 1 ? literals[0] : add(.anyOf(literals))
        }
        if let alternatives = schema["anyOf"] {
            guard let list = alternatives.arrayValue, !list.isEmpty else { throw bad(path, "`anyOf` must be a non-empty array") }
            if let sibling = schema.objectValue?.first(where: { Self.supported.contains($0.key) && $0.key != "anyOf" }) {
                noteUnsupported("anyOf with \(sibling.key)")
            }
            let choices = try list.enumerated().map { try compile($1, path: "\(path).anyOf[\($0)]") }
            return choices.count == 1 ? choices[0] : add(.anyOf(choices))
        }
        let inferred = types ?? inferType(schema).map { [$0] }
        guard let inferred else { return freeValue(depth: ResponseConstraint.Limits.maxFreeDepth) }
        let choices = try inferred.map { try compile(schema, type: $0, path: path) }
        return choices.count == 1 ? choices[0] : add(.anyOf(choices))
    }

    /// `type` as a list, nil when absent.
    private func typeList(_ schema: JSONValue, path: String) throws -> [String]? {
        guard let type = schema["type"] else { return nil }
        let known: Set<String> = ["object", "array", "string", "number", "integer", "boolean", "null"]
        let names: [String]
        if let name = type.stringValue {
            names = [name]
        } else if let list = type.arrayValue, !list.isEmpty, list.allSatisfy({ $0.stringValue != nil }) {
            names = list.compactMap(\.stringValue)
        } else {
            throw bad(path, "`type` must be a type name or a non-empty list of them")
        }
        for name in names where !known.contains(name) { throw bad(path, "unknown type \"\(name)\"") }
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }

    /// The type implied by the keywords present, when `type` is absent.
    private func inferType(_ schema: JSONValue) -> String? {
        let keys = Set(schema.objectValue?.map(\.key) ?? [])
        if !keys.isDisjoint(with: ["properties", "required", "additionalProperties"]) { return "object" }
        if !keys.isDisjoint(with: ["items", "minItems", "maxItems"]) { return "array" }
        if !keys.isDisjoint(with: ["minLength", "maxLength"]) { return "string" }
        return nil
    }

    /// Whether a JSON value has a schema type (`integer`: a number literal without fraction or exponent).
    static func matches(_ value: JSONValue, type: String) -> Bool {
        switch (value, type) {
        case (.null, "null"), (.bool, "boolean"), (.string, "string"), (.array, "array"), (.object, "object"),
             (.number, "number"): return true
        case (.number(let text), "integer"): return Double(text).map { $0 == $0.rounded() } ?? false
        default: return false
        }
    }

    private func count(_ schema: JSONValue, _ key: String, path: String) throws -> Int? {
        guard let value = schema[key] else { return nil }
        guard let n = value.intValue, n >= 0 else { throw bad(path, "`\(key)` must be a non-negative integer") }
        return n
    }

    private mutating func compile(_ schema: JSONValue, type: String, path: String) throws -> Int32 {
        switch type {
        case "null": return literal("null")
        case "boolean": return add(.anyOf([literal("true"), literal("false")]))
        case "integer": return add(.number(integer: true))
        case "number": return add(.number(integer: false))
        case "string":
            let minLength = try count(schema, "minLength", path: path) ?? 0
            let maxLength = try count(schema, "maxLength", path: path) ?? max(minLength, ResponseConstraint.Limits.maxStringLength)
            guard minLength <= maxLength else { throw bad(path, "minLength \(minLength) is above maxLength \(maxLength)") }
            return add(.string(minLength: Int32(clamping: minLength), maxLength: Int32(clamping: maxLength)))
        case "array":
            let minItems = try count(schema, "minItems", path: path) ?? 0
            let maxItems = try count(schema, "maxItems", path: path) ?? max(minItems, ResponseConstraint.Limits.maxItems)
            guard minItems <= maxItems else { throw bad(path, "minItems \(minItems) is above maxItems \(maxItems)") }
            let item: Int32
            switch schema["items"] {
            case nil: item = freeValue(depth: ResponseConstraint.Limits.maxFreeDepth - 1)
            case .array?: noteUnsupported("items (array form)"); item = literal("null")
            case let items?: item = try compile(items, path: "\(path).items")
            }
            if maxItems == 0 { return literal("[]") }
            return add(.array(item: item, minItems: Int32(clamping: minItems), maxItems: Int32(clamping: maxItems)))
        default:
            return try compileObject(schema, path: path)
        }
    }

    private mutating func compileObject(_ schema: JSONValue, path: String) throws -> Int32 {
        var properties: [(name: String, schema: JSONValue)] = []
        if let value = schema["properties"] {
            guard let members = value.objectValue else { throw bad(path, "`properties` must be an object") }
            properties = members.map { ($0.key, $0.value) }
        }
        var required: [String] = []
        if let value = schema["required"] {
            guard let list = value.arrayValue, list.allSatisfy({ $0.stringValue != nil }) else {
                throw bad(path, "`required` must be an array of strings")
            }
            for name in list.compactMap(\.stringValue) where !required.contains(name) { required.append(name) }
        }
        let additional = schema["additionalProperties"]
        let closed = additional == .bool(false)
        var extra: JSONValue? = nil                           // the schema of properties not listed
        if let additional, case .object = additional { extra = additional }
        if let additional, additional != .bool(true), additional != .bool(false), extra == nil {
            throw bad(path, "`additionalProperties` must be a boolean or a schema")
        }
        if properties.isEmpty && required.isEmpty {
            if closed { return literal("{}") }
            let value = try extra.map { try compile($0, path: "\(path).additionalProperties") }
                ?? freeValue(depth: ResponseConstraint.Limits.maxFreeDepth - 1)
            return freeObject(value: value)
        }
        var rules: [GrammarProperty] = []
        for (name, propertySchema) in properties where !rules.contains(where: { $0.key == Self.keyBytes(name) }) {
            let value = try compile(propertySchema, path: "\(path).properties.\(name)")
            rules.append(GrammarProperty(key: Self.keyBytes(name), value: value, required: required.contains(name)))
        }
        for name in required where !properties.contains(where: { $0.name == name }) {
            if closed { throw bad(path, "required property \"\(name)\" is not allowed by additionalProperties: false") }
            let value = try extra.map { try compile($0, path: "\(path).additionalProperties") }
                ?? freeValue(depth: ResponseConstraint.Limits.maxFreeDepth - 1)
            rules.append(GrammarProperty(key: Self.keyBytes(name), value: value, required: true))
        }
        return add(.object(rules))
    }

    static func keyBytes(_ name: String) -> [UInt8] { Array(JSONText.string(.string(name)).utf8) }
}

/// Compact JSON text of a ``JSONValue`` (RFC 8259 escapes for quote, backslash and control characters).
enum JSONText {
    static func string(_ value: JSONValue) -> String {
        var out = ""
        write(value, into: &out)
        return out
    }

    static func write(_ value: JSONValue, into out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let text): out += text
        case .string(let s):
            out += "\""
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
                default: out.unicodeScalars.append(scalar)
                }
            }
            out += "\""
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                write(item, into: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, member) in members.enumerated() {
                if i > 0 { out += "," }
                write(.string(member.key), into: &out)
                out += ":"
                write(member.value, into: &out)
            }
            out += "}"
        }
    }
}
