/// Small UTF-8 helpers shared by the JSON reader, NFC, the pre-tokenizer and the streaming decoder.
enum UTF8Coding {
    /// Appends the UTF-8 encoding of a scalar value (assumed valid: ≤ 0x10FFFF, not a surrogate).
    @inline(__always)
    static func append(_ v: UInt32, to out: inout [UInt8]) {
        if v < 0x80 {
            out.append(UInt8(v))
        } else if v < 0x800 {
            out.append(UInt8(0xC0 | (v >> 6)))
            out.append(UInt8(0x80 | (v & 0x3F)))
        } else if v < 0x10000 {
            out.append(UInt8(0xE0 | (v >> 12)))
            out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (v & 0x3F)))
        } else {
            out.append(UInt8(0xF0 | (v >> 18)))
            out.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (v & 0x3F)))
        }
    }

    /// Decodes the scalar starting at `i` in VALID UTF-8 (e.g. a Swift string's bytes): (value, byte length).
    @inline(__always)
    static func decode(_ p: UnsafeBufferPointer<UInt8>, at i: Int) -> (value: UInt32, length: Int) {
        let b0 = UInt32(p[i])
        if b0 < 0x80 { return (b0, 1) }
        if b0 < 0xE0 { return ((b0 & 0x1F) << 6 | UInt32(p[i + 1] & 0x3F), 2) }
        if b0 < 0xF0 {
            return ((b0 & 0x0F) << 12 | UInt32(p[i + 1] & 0x3F) << 6 | UInt32(p[i + 2] & 0x3F), 3)
        }
        return ((b0 & 0x07) << 18 | UInt32(p[i + 1] & 0x3F) << 12 | UInt32(p[i + 2] & 0x3F) << 6
                | UInt32(p[i + 3] & 0x3F), 4)
    }

    /// The number of bytes a sequence starting with `lead` has, or 0 when `lead` cannot start one.
    @inline(__always)
    static func sequenceLength(lead: UInt8) -> Int {
        switch lead {
        case 0x00...0x7F: return 1
        case 0xC2...0xDF: return 2
        case 0xE0...0xEF: return 3
        case 0xF0...0xF4: return 4
        default: return 0
        }
    }

    /// Whether `byte` may follow `lead` as the second byte of a well-formed sequence (Unicode Table 3-7).
    @inline(__always)
    static func isValidSecond(_ byte: UInt8, lead: UInt8) -> Bool {
        switch lead {
        case 0xE0: return (0xA0...0xBF).contains(byte)
        case 0xED: return (0x80...0x9F).contains(byte)
        case 0xF0: return (0x90...0xBF).contains(byte)
        case 0xF4: return (0x80...0x8F).contains(byte)
        default: return (0x80...0xBF).contains(byte)
        }
    }

    /// Whether a byte buffer is well-formed UTF-8.
    static func isValid(_ p: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        let n = p.count
        while i < n {
            let b = p[i]
            if b < 0x80 { i += 1; continue }
            let length = sequenceLength(lead: b)
            guard length > 0, i + length <= n, isValidSecond(p[i + 1], lead: b) else { return false }
            for k in 2..<max(2, length) where p[i + k] & 0xC0 != 0x80 { return false }
            i += length
        }
        return true
    }

    /// Where a trailing *incomplete but so-far valid* UTF-8 sequence starts, or `bytes.count` if there is none.
    ///
    /// Bytes before the returned index decode identically whatever comes next (every non-continuation byte
    /// restarts the decoder), so a streaming decoder can emit them and hold the rest.
    static func incompleteTailStart(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        var k = n - 1
        // The lead byte of a trailing sequence is at most 3 bytes back.
        while k >= 0, k >= n - 3, bytes[k] & 0xC0 == 0x80 { k -= 1 }
        guard k >= 0 else { return n }
        let lead = bytes[k]
        let length = sequenceLength(lead: lead)
        guard length > 1, n - k < length else { return n }
        if n - k >= 2, !isValidSecond(bytes[k + 1], lead: lead) { return n }
        return k
    }

    /// Decodes bytes as UTF-8, replacing each maximal ill-formed subpart with U+FFFD (like Rust's
    /// `String::from_utf8_lossy` and Python's `errors="replace"`).
    static func lossyString<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        String(decoding: bytes, as: UTF8.self)
    }
}
