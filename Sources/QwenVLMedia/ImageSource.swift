import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where an image comes from: a local file, a base64 `data:` URL, an `http(s)` URL, or bytes in memory.
///
/// `init(reference:)` dispatches a string exactly like qwen-vl-utils' `fetch_image`:
/// - `http://…` / `https://…` → download;
/// - `file://…` → the rest of the string after the 7-character prefix, used as a path as-is (no
///   percent-decoding, as in Python's `image[7:]`);
/// - `data:image…` containing `base64,` → the text after the first `base64,`, decoded like Python's
///   `base64.b64decode` (whitespace and other non-alphabet characters skipped);
/// - anything else → a local path.
///
/// ```swift
/// let image = try await ImageSource(reference: "file:///tmp/cat.jpg").loadImage()
/// ```
public enum ImageSource: Sendable, Equatable {
    /// A local file path.
    case file(path: String)
    /// The base64 payload of a `data:image/…;base64,` URL (the part after `base64,`).
    case base64(payload: String)
    /// An `http` or `https` URL.
    case remote(URL)
    /// Encoded image bytes already in memory.
    case encoded(Data)

    /// Parses an image reference string the way qwen-vl-utils does (see the type's documentation).
    public init(reference: String) throws {
        if reference.hasPrefix("http://") || reference.hasPrefix("https://") {
            guard let url = URL(string: reference), url.host != nil else {
                throw MediaError.invalidReference("malformed URL '\(reference.prefix(200))'")
            }
            self = .remote(url)
        } else if reference.hasPrefix("file://") {
            self = .file(path: String(reference.dropFirst(7)))
        } else if reference.hasPrefix("data:") {
            guard reference.hasPrefix("data:image"), let marker = reference.range(of: "base64,") else {
                throw MediaError.invalidReference(
                    "a data URL must look like 'data:image/<type>;base64,<payload>', got '\(reference.prefix(40))…'")
            }
            self = .base64(payload: String(reference[marker.upperBound...]))
        } else {
            self = .file(path: reference)
        }
    }

    /// Limits for loading: the download timeout and the most bytes accepted from the network.
    public struct Limits: Sendable, Equatable {
        /// Seconds a download may stall (no bytes received) and, separately, may take in all; rounded up to
        /// whole seconds (at least 1) on Linux, whose URLSession ignores fractions.
        public var timeout: Double
        /// The most bytes an `http(s)` response may have; larger responses fail with `downloadTooLarge`.
        public var maxDownloadBytes: Int

        /// Defaults: 30 s timeout, 256 MiB per download.
        public init(timeout: Double = 30, maxDownloadBytes: Int = 256 << 20) {
            self.timeout = timeout
            self.maxDownloadBytes = maxDownloadBytes
        }
    }

    /// Returns the encoded bytes (reads the file, decodes the base64, or downloads).
    public func loadData(limits: Limits = Limits()) async throws -> Data {
        switch self {
        case .file(let path): return try Self.readFile(path)
        case .base64(let payload): return Data(try PythonBase64.decode(payload))
        case .remote(let url): return try await HTTPDownload.fetch(url, limits: limits)
        case .encoded(let data): return data
        }
    }

    /// Loads and decodes the image to RGB (see ``ImageDecoder`` for the conversion rules).
    public func loadImage(decoder: ImageDecoder = ImageDecoder(), limits: Limits = Limits()) async throws -> RGBImage {
        try decoder.decode(try await loadData(limits: limits))
    }

    /// Reads a whole regular file, with errors that name the path and the reason.
    static func readFile(_ path: String) throws -> Data {
        guard !path.isEmpty else { throw MediaError.unreadablePath(path: path, reason: "the path is empty") }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw MediaError.unreadablePath(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw MediaError.unreadablePath(path: path, reason: String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            let kind = (info.st_mode & S_IFMT) == S_IFDIR ? "it is a directory" : "it is not a regular file"
            throw MediaError.unreadablePath(path: path, reason: kind)
        }
        var data = Data(count: Int(info.st_size))
        var filled = 0
        try data.withUnsafeMutableBytes { buffer in
            while filled < buffer.count {
                let n = read(fd, buffer.baseAddress! + filled, buffer.count - filled)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw MediaError.unreadablePath(path: path, reason: String(cString: strerror(errno)))
                }
                if n == 0 { break }
                filled += n
            }
        }
        if filled < data.count { data.removeSubrange(filled...) }
        return data
    }
}
