/// JSON text exactly as Python's `json.dumps(value, ensure_ascii=False)` writes it (what Jinja's `tojson` gives in
/// transformers' chat templates).
///
/// Rules reproduced: separators `", "` and `": "`; key order kept, a repeated key keeps its first position and its
/// last value (a Python dict); strings escape `"` `\` `\n` `\r` `\t` `\b` `\f` and other controls as `\u00xx`,
/// everything else raw UTF-8; integer literals print as Python ints (`-0` → `0`, any length); other numbers as
/// Python's float `repr` (`1E2` → `100.0`, `1e-7` → `1e-07`, `1e16` → `1e+16`, overflow → `Infinity`).
///
///     PythonJSON.dumps(try JSONValue.parse(#"{"x": 1E2, "s": "é\n"}"#))   // {"x": 100.0, "s": "é\n"}
public enum PythonJSON {
    /// The `json.dumps` text of `value`.
    public static func dumps(_ value: JSONValue) -> String {
        var out = ""
        write(value, into: &out)
        return out
    }

    static func write(_ value: JSONValue, into out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let literal): out += number(literal)
        case .string(let s): writeString(s, into: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += ", " }
                write(item, into: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, member) in dictionaryMembers(members).enumerated() {
                if i > 0 { out += ", " }
                writeString(member.key, into: &out)
                out += ": "
                write(member.value, into: &out)
            }
            out += "}"
        }
    }

    /// Members as a Python dict holds them after `json.loads`: first position, last value for a repeated key.
    static func dictionaryMembers(_ members: [JSONValue.JSONMember]) -> [JSONValue.JSONMember] {
        var index: [String: Int] = [:]
        var out: [JSONValue.JSONMember] = []
        out.reserveCapacity(members.count)
        for member in members {
            if let at = index[member.key] {
                out[at].value = member.value
            } else {
                index[member.key] = out.count
                out.append(member)
            }
        }
        return out
    }

    /// Python's `json.dumps` of the number `json.loads` makes of `literal` (an int, or a float's `repr`).
    public static func number(_ literal: String) -> String {
        let isInteger = !literal.contains(where: { $0 == "." || $0 == "e" || $0 == "E" })
        if isInteger {
            let digits = literal.hasPrefix("-") ? literal.dropFirst() : Substring(literal)
            return digits.allSatisfy({ $0 == "0" }) ? "0" : literal
        }
        guard let value = Double(literal) else { return literal }
        return floatRepr(value)
    }

    /// Python's `float.__repr__` (shortest round-trip digits; scientific below 1e-4 and from 1e16).
    public static func floatRepr(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
        if value == 0 { return value.sign == .minus ? "-0.0" : "0.0" }
        // Swift's description gives the same shortest digits; re-lay them out by Python's rules.
        var text = "\(value.magnitude)"
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...]) ?? 0
            text = String(text[..<e])
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let intPart = String(parts[0])
        let fracPart = parts.count > 1 ? String(parts[1]) : ""
        // value = 0.DIGITS × 10^point, with DIGITS stripped of leading and trailing zeros.
        var digits = intPart + fracPart
        var point = intPart.count + exponent
        while digits.hasPrefix("0") { digits.removeFirst(); point -= 1 }
        while digits.hasSuffix("0") { digits.removeLast() }
        if digits.isEmpty { return value.sign == .minus ? "-0.0" : "0.0" }
        let decimalExponent = point - 1   // value = d.ddd × 10^decimalExponent
        var out = value.sign == .minus ? "-" : ""
        if decimalExponent < -4 || decimalExponent >= 16 {
            out.append(digits[digits.startIndex])
            if digits.count > 1 {
                out += "."
                out += String(digits.dropFirst())
            }
            out += "e" + (decimalExponent < 0 ? "-" : "+")
            let magnitude = String(abs(decimalExponent))
            out += magnitude.count < 2 ? "0" + magnitude : magnitude
        } else if point <= 0 {
            out += "0." + String(repeating: "0", count: -point) + digits
        } else if point >= digits.count {
            out += digits + String(repeating: "0", count: point - digits.count) + ".0"
        } else {
            let cut = digits.index(digits.startIndex, offsetBy: point)
            out += String(digits[..<cut])
            out += "."
            out += String(digits[cut...])
        }
        return out
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
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
