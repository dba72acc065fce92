/// Every way loading or decoding an image can fail; `description` names the problem in plain words.
public enum MediaError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The input holds zero bytes.
    case emptyInput
    /// The magic bytes match no supported format. `magic` shows the first bytes (hex and ASCII) and,
    /// when recognisable, the format they belong to.
    case unsupportedFormat(magic: String)
    /// The data ends before the image does.
    case truncated(format: ImageFormat, detail: String)
    /// The data is malformed.
    case corrupt(format: ImageFormat, detail: String)
    /// A valid file of a known format using a feature this decoder does not implement (e.g. BMP RLE).
    case unsupportedFeature(format: ImageFormat, detail: String)
    /// The header claims more pixels than the configured limit; nothing was allocated for them.
    case tooLarge(width: Int, height: Int, maxPixels: Int)
    /// Width or height is zero, negative or overflows, or a pixel buffer has the wrong size.
    case invalidDimensions(width: Int, height: Int)
    /// A file path (or `file://` URL) could not be read.
    case unreadablePath(path: String, reason: String)
    /// A `data:` URL whose base64 payload does not decode.
    case invalidBase64(reason: String)
    /// A `data:` URL that is not a base64 image, or a reference that is not a path or a supported URL.
    case invalidReference(String)
    /// An `http(s)` download failed (status, timeout, connection).
    case downloadFailed(url: String, reason: String)
    /// An `http(s)` download exceeded the byte limit.
    case downloadTooLarge(url: String, limit: Int)
    /// A C decoder could not allocate memory.
    case outOfMemory(format: ImageFormat)

    public var description: String {
        switch self {
        case .emptyInput:
            return "image data is empty (zero bytes)"
        case .unsupportedFormat(let magic):
            return "unsupported image format: \(magic); supported are JPEG, PNG, WebP, GIF and BMP"
        case .truncated(let format, let detail):
            return "truncated \(format.name) data: \(detail)"
        case .corrupt(let format, let detail):
            return "corrupt \(format.name) data: \(detail)"
        case .unsupportedFeature(let format, let detail):
            return "unsupported \(format.name) feature: \(detail)"
        case .tooLarge(let width, let height, let maxPixels):
            return "image is too large: \(width)×\(height) = \(width * height) pixels exceeds the limit of "
                + "\(maxPixels) pixels"
        case .invalidDimensions(let width, let height):
            return "invalid image dimensions \(width)×\(height)"
        case .unreadablePath(let path, let reason):
            return "cannot read image file '\(path)': \(reason)"
        case .invalidBase64(let reason):
            return "invalid base64 in data URL: \(reason)"
        case .invalidReference(let reason):
            return "unrecognized image reference: \(reason)"
        case .downloadFailed(let url, let reason):
            return "downloading \(url) failed: \(reason)"
        case .downloadTooLarge(let url, let limit):
            return "downloading \(url) failed: the response exceeds the limit of \(limit) bytes"
        case .outOfMemory(let format):
            return "out of memory while decoding \(format.name)"
        }
    }
}
