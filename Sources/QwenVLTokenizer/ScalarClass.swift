/// How the Qwen2 split regex sees one Unicode scalar: `\p{L}`, `\p{N}`, `\s` (with CR/LF apart), or other.
///
/// HF `tokenizers` runs the regex with Oniguruma, whose tables are Unicode 16.0: `\p{L}` is general category
/// L*, `\p{N}` is N*, `\s` is the White_Space property. Swift's tables may be newer, so scalars assigned after
/// Unicode 16.0 count as unassigned ("other"), exactly as Oniguruma treats them. Verified for every scalar
/// against HF in `Tests/Fixtures/tokenizer-extra/scalar_classes.json`.
public enum ScalarClass: UInt8, Sendable {
    case other = 0
    case letter = 1
    case number = 2
    /// White space other than CR and LF.
    case space = 3
    /// `\r` or `\n` (the only scalars `[\r\n]` matches; also white space).
    case newline = 4

    /// Class of a Unicode scalar, as HF's Qwen2 split regex sees it.
    public static func of(_ scalar: Unicode.Scalar) -> ScalarClass { of(scalar.value) }

    /// Class of a scalar value (any UInt32; invalid values are "other").
    @inline(__always)
    static func of(_ v: UInt32) -> ScalarClass {
        if v < 0x10000 { return ScalarClass(rawValue: ScalarClassTable.bmp[Int(v)]) ?? .other }
        return compute(v)
    }

    /// The Unicode version of the regex engine's tables in HF `tokenizers` 0.22 (Oniguruma 6.9.10).
    static let regexUnicodeVersion = (major: 16, minor: 0)

    /// Classifies from the stdlib's Unicode properties (slow path; the BMP is tabulated once).
    static func compute(_ v: UInt32) -> ScalarClass {
        if v == 0x0A || v == 0x0D { return .newline }
        guard let scalar = Unicode.Scalar(v) else { return .other }
        let properties = scalar.properties
        guard let age = properties.age,
              age.major < regexUnicodeVersion.major
                || (age.major == regexUnicodeVersion.major && age.minor <= regexUnicodeVersion.minor)
        else { return .other }
        if properties.isWhitespace { return .space }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return .other
        }
    }
}

/// The BMP class table, built on first use (65,536 bytes).
enum ScalarClassTable {
    static let bmp: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 0x10000)
        for v in 0..<0x10000 { table[v] = ScalarClass.compute(UInt32(v)).rawValue }
        return table
    }()
}
