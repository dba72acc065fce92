/// Base64 decoding with exactly the leniency of Python's `base64.b64decode(s)` (CPython 3.11 `a2b_base64`,
/// non-strict), which is what qwen-vl-utils applies to a `data:image/...;base64,` payload.
///
/// - characters outside the standard alphabet (whitespace, line breaks, and also the URL-safe `-` and `_`)
///   are skipped, not translated;
/// - `=` only counts once two or more characters of a quantum are in; a pad that completes the quantum
///   ends decoding and anything after it is ignored;
/// - a final partial quantum is an error ("Incorrect padding", or "1 more than a multiple of 4");
/// - non-ASCII text is an error.
enum PythonBase64 {
    private static let table: [UInt8] = {
        var t = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            t[Int(c)] = UInt8(i)
        }
        return t
    }()

    /// Decodes `text`, or throws `MediaError.invalidBase64` with Python's reason.
    static func decode<S: StringProtocol>(_ text: S) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count / 4 * 3 + 3)
        var quadPosition = 0, pads = 0, dataCharacters = 0
        var left: UInt8 = 0
        for c in text.utf8 {
            guard c < 0x80 else {
                throw MediaError.invalidBase64(reason: "string argument should contain only ASCII characters")
            }
            if c == UInt8(ascii: "=") {
                if quadPosition >= 2 {
                    pads += 1
                    if quadPosition + pads >= 4 { return out }
                }
                continue
            }
            let v = table[Int(c)]
            if v == 0xFF { continue }
            pads = 0
            dataCharacters += 1
            switch quadPosition {
            case 0:
                left = v
                quadPosition = 1
            case 1:
                out.append(left << 2 | v >> 4)
                left = v & 0x0F
                quadPosition = 2
            case 2:
                out.append(left << 4 | v >> 2)
                left = v & 0x03
                quadPosition = 3
            default:
                out.append(left << 6 | v)
                left = 0
                quadPosition = 0
            }
        }
        if quadPosition == 1 {
            throw MediaError.invalidBase64(reason: "number of data characters (\(dataCharacters)) cannot be 1 more "
                                           + "than a multiple of 4")
        }
        if quadPosition != 0 { throw MediaError.invalidBase64(reason: "Incorrect padding") }
        return out
    }
}
