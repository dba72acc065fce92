import Foundation
import QwenVLTokenizer

/// Compact JSON text for response bodies, written from ``JSONValue`` so key order is kept as built.
///
/// Strings are escaped per RFC 8259 (quote, backslash and control characters); everything else, including
/// U+FEFF and non-BMP scalars, is written as raw UTF-8.
enum JSONOutput {
    /// The compact JSON text of `value`.
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
        case .string(let s): writeString(s, into: &out)
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
                writeString(member.key, into: &out)
                out += ":"
                write(member.value, into: &out)
            }
            out += "}"
        }
    }

    static func writeString(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

extension JSONValue {
    /// An object from ordered `(key, value)` pairs.
    static func obj(_ pairs: KeyValuePairs<String, JSONValue>) -> JSONValue {
        .object(pairs.map { JSONMember(key: $0.key, value: $0.value) })
    }

    /// A JSON string, or `null` for nil.
    static func str(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }

    /// A JSON integer.
    static func int(_ i: Int) -> JSONValue { .number(String(i)) }

    /// A JSON number from a double (non-finite values become `null`).
    static func double(_ d: Double) -> JSONValue { d.isFinite ? .number(String(d)) : .null }

    /// A JSON array of integers.
    static func ints<S: Sequence>(_ values: S) -> JSONValue where S.Element: BinaryInteger {
        .array(values.map { .number(String($0)) })
    }
}
