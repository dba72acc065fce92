/// GPT-2's reversible byte ↔ printable-character map (`bytes_to_unicode`), used by byte-level BPE.
///
/// Printable Latin-1 bytes (`!`…`~`, `¡`…`¬`, `®`…`ÿ`) map to themselves; the other 68 bytes map, in byte
/// order, to U+0100, U+0101, …, so every byte becomes one visible character (space → `Ġ` U+0120).
enum ByteLevel {
    /// `byteToScalar[b]`: the character standing for byte `b`. Shape [256].
    static let byteToScalar: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var extra: UInt32 = 0
        for b in 0..<256 {
            let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            if printable {
                table[b] = UInt32(b)
            } else {
                table[b] = 0x100 + extra
                extra += 1
            }
        }
        return table
    }()

    /// `scalarToByte[c]`: the byte a character stands for, or -1. Indexed by scalar value < 0x144.
    static let scalarToByte: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (b, s) in byteToScalar.enumerated() { table[Int(s)] = Int16(b) }
        return table
    }()

    /// The byte-level string of raw bytes (e.g. `[0x20, 0x68]` → "Ġh").
    static func encode<C: Sequence>(_ bytes: C) -> String where C.Element == UInt8 {
        var scalars = String.UnicodeScalarView()
        for b in bytes { scalars.append(Unicode.Scalar(byteToScalar[Int(b)]) ?? "?") }
        return String(scalars)
    }

    /// The raw bytes of a token string, as HF's ByteLevel decoder computes them: every character mapped back
    /// through the table, or — if any character is not in the table — the token's own UTF-8 bytes.
    static func decode(_ token: String) -> [UInt8] {
        var out: [UInt8] = []
        appendDecoded(token, to: &out)
        return out
    }

    /// `decode`, appending to `out` (fast path over the UTF-8: table characters are 1–2 bytes long).
    static func appendDecoded(_ token: String, to out: inout [UInt8]) {
        let start = out.count
        var iterator = token.utf8.makeIterator()
        while let b0 = iterator.next() {
            var v = Int(b0)
            if b0 >= 0x80 {
                // Only 2-byte sequences (U+0080…U+07FF) can be table characters.
                guard b0 & 0xE0 == 0xC0, let b1 = iterator.next() else { return fallback(token, start, &out) }
                v = Int(b0 & 0x1F) << 6 | Int(b1 & 0x3F)
            }
            guard v < scalarToByte.count, scalarToByte[v] >= 0 else { return fallback(token, start, &out) }
            out.append(UInt8(scalarToByte[v]))
        }
    }

    private static func fallback(_ token: String, _ start: Int, _ out: inout [UInt8]) {
        out.removeSubrange(start...)
        out.append(contentsOf: token.utf8)
    }
}
