/// A bounds-checked cursor over encoded bytes; running past the end throws `truncated` for `format`.
struct ByteReader {
    let bytes: UnsafeBufferPointer<UInt8>
    let format: ImageFormat
    var position: Int = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>, format: ImageFormat, position: Int = 0) {
        self.bytes = bytes
        self.format = format
        self.position = position
    }

    var remaining: Int { bytes.count - position }
    var isAtEnd: Bool { position >= bytes.count }

    mutating func u8(_ what: @autoclosure () -> String) throws -> UInt8 {
        guard position < bytes.count else { throw truncated(what()) }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func le16(_ what: @autoclosure () -> String) throws -> Int {
        let lo = try u8(what()), hi = try u8(what())
        return Int(lo) | Int(hi) << 8
    }

    /// A view of the next `count` bytes, advancing past them.
    mutating func take(_ count: Int, _ what: @autoclosure () -> String) throws -> UnsafeBufferPointer<UInt8> {
        guard count >= 0, count <= remaining else { throw truncated(what()) }
        defer { position += count }
        return UnsafeBufferPointer(rebasing: bytes[position..<position + count])
    }

    func truncated(_ what: String) -> MediaError {
        .truncated(format: format, detail: "data ends inside \(what) (at byte \(position) of \(bytes.count))")
    }
}

extension UnsafeBufferPointer where Element == UInt8 {
    /// Little-endian unsigned 16-bit value at `offset` (caller checks bounds).
    func le16(at offset: Int) -> UInt32 { UInt32(self[offset]) | UInt32(self[offset + 1]) << 8 }

    /// Little-endian unsigned 32-bit value at `offset` (caller checks bounds).
    func le32(at offset: Int) -> UInt32 { le16(at: offset) | le16(at: offset + 2) << 16 }
}
