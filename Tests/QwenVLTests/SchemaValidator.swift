import Foundation
import QwenVLTokenizer

/// A JSON-schema validator for the subset constrained decoding supports, written independently of the grammar
/// compiler (the Swift-side check of the property test; Python's jsonschema is the other).
enum SchemaValidator {
    /// The first violation of `schema` by `value` (nil: valid), with a JSON-pointer-ish path.
    static func violation(_ value: JSONValue, _ schema: JSONValue, path: String = "$") -> String? {
        if schema == .bool(true) { return nil }
        if schema == .bool(false) { return "\(path): schema false" }
        if let expected = schema["const"], !equal(value, expected) { return "\(path): not the const" }
        if let options = schema["enum"]?.arrayValue, !options.contains(where: { equal(value, $0) }) {
            return "\(path): not in the enum"
        }
        if let alternatives = schema["anyOf"]?.arrayValue,
           !alternatives.contains(where: { violation(value, $0, path: path) == nil }) {
            return "\(path): matches no anyOf alternative"
        }
        if let type = schema["type"] {
            let types = type.arrayValue?.compactMap(\.stringValue) ?? [type.stringValue ?? ""]
            if !types.contains(where: { has(value, type: $0) }) { return "\(path): not of type \(types)" }
        }
        switch value {
        case .string(let s):
            let n = s.unicodeScalars.count
            if let min = schema["minLength"]?.intValue, n < min { return "\(path): shorter than \(min)" }
            if let max = schema["maxLength"]?.intValue, n > max { return "\(path): longer than \(max)" }
        case .array(let items):
            if let min = schema["minItems"]?.intValue, items.count < min { return "\(path): fewer than \(min) items" }
            if let max = schema["maxItems"]?.intValue, items.count > max { return "\(path): more than \(max) items" }
            if let itemSchema = schema["items"] {
                for (i, item) in items.enumerated() {
                    if let v = violation(item, itemSchema, path: "\(path)[\(i)]") { return v }
                }
            }
        case .object(let members):
            let properties = schema["properties"]?.objectValue ?? []
            for name in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? []
            where !members.contains(where: { $0.key == name }) {
                return "\(path): missing required \(name)"
            }
            for member in members {
                let memberPath = "\(path).\(member.key)"
                if let property = properties.first(where: { $0.key == member.key }) {
                    if let v = violation(member.value, property.value, path: memberPath) { return v }
                } else if let additional = schema["additionalProperties"] {
                    if let v = violation(member.value, additional, path: memberPath) { return v }
                }
            }
        default:
            break
        }
        return nil
    }

    static func has(_ value: JSONValue, type: String) -> Bool {
        switch (value, type) {
        case (.null, "null"), (.bool, "boolean"), (.string, "string"), (.array, "array"), (.object, "object"),
             (.number, "number"): return true
        case (.number(let text), "integer"): return Double(text).map { $0 == $0.rounded() } ?? false
        default: return false
        }
    }

    /// JSON equality: numbers by value, objects regardless of member order.
    static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.number(let x), .number(let y)): return Double(x) == Double(y)
        case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case (.object(let x), .object(let y)):
            return x.count == y.count && x.allSatisfy { m in y.contains { $0.key == m.key && equal($0.value, m.value) } }
        default: return a == b
        }
    }
}
