/// The encoded image formats the decoder reads, recognised by their magic bytes (never the file name).
public enum ImageFormat: String, Sendable, CaseIterable, CustomStringConvertible {
    case jpeg, png, webp, gif, bmp

    /// Human-readable name ("JPEG", "PNG", …).
    public var name: String {
        switch self {
        case .jpeg: return "JPEG"
        case .png: return "PNG"
        case .webp: return "WebP"
        case .gif: return "GIF"
        case .bmp: return "BMP"
        }
    }

    public var description: String { name }

    /// Identifies the format from the first bytes, or nil if they match none of the supported formats.
    /// The signatures are the ones Pillow's plugins accept: JPEG `FF D8 FF`, PNG `89 50 4E 47 0D 0A 1A 0A`,
    /// WebP `RIFF????WEBP`, GIF `GIF87a`/`GIF89a`, BMP `BM`.
    public static func detect<Bytes: Collection>(_ bytes: Bytes) -> ImageFormat? where Bytes.Element == UInt8 {
        let head = Array(bytes.prefix(16))
        func starts(_ sig: [UInt8]) -> Bool { head.count >= sig.count && Array(head.prefix(sig.count)) == sig }
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if head.count >= 12, starts(Array("RIFF".utf8)), Array(head[8..<12]) == Array("WEBP".utf8) { return .webp }
        if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) { return .gif }
        if starts(Array("BM".utf8)) { return .bmp }
        return nil
    }

    /// Describes unrecognised leading bytes for an error message: hex, printable ASCII, and a guess at
    /// well-known formats we do not read (TIFF, HEIF/AVIF, JPEG 2000, ICO, PDF, …).
    static func describeMagic<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let head = Array(bytes.prefix(12))
        let hex = head.map { byte -> String in
            let digits = String(byte, radix: 16, uppercase: true)
            return digits.count == 1 ? "0" + digits : digits
        }.joined(separator: " ")
        let ascii = String(head.map { (0x20...0x7E).contains($0) ? Character(UnicodeScalar($0)) : "." })
        var text = "first bytes \(hex) (\"\(ascii)\")"
        if let guess = knownOtherFormat(head) { text += ", which looks like \(guess)" }
        return text
    }

    private static func knownOtherFormat(_ head: [UInt8]) -> String? {
        func starts(_ sig: [UInt8]) -> Bool { head.count >= sig.count && Array(head.prefix(sig.count)) == sig }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return "TIFF" }
        if head.count >= 12, Array(head[4..<8]) == Array("ftyp".utf8) {
            let brand = String(decoding: head[8..<12], as: UTF8.self)
            if brand.hasPrefix("avi") { return "AVIF" }
            if ["heic", "heix", "mif1", "msf1", "hevc"].contains(brand) { return "HEIF/HEIC" }
            return "an ISO media file (MP4/MOV), brand '\(brand)'"
        }
        if starts([0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50]) || starts([0xFF, 0x4F, 0xFF, 0x51]) { return "JPEG 2000" }
        if starts([0x00, 0x00, 0x01, 0x00]) { return "ICO" }
        if starts(Array("%PDF".utf8)) { return "PDF" }
        if starts(Array("8BPS".utf8)) { return "Photoshop PSD" }
        if starts(Array("RIFF".utf8)) { return "a RIFF container that is not WebP" }
        if starts([0x1A, 0x45, 0xDF, 0xA3]) { return "Matroska/WebM video" }
        if starts(Array("<svg".utf8)) || starts(Array("<?xml".utf8)) { return "SVG/XML text" }
        if !head.isEmpty, head.allSatisfy({ (0x20...0x7E).contains($0) || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            return "text"
        }
        return nil
    }
}
