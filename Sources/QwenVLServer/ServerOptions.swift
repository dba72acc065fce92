import Foundation

/// Where the server listens, what media it may read, and how large a request may be.
///
/// ```swift
/// var options = ServerOptions(host: "127.0.0.1", port: 8080)
/// options.allowLocalMedia = URL(fileURLWithPath: "/srv/images")
/// ```
public struct ServerOptions: Sendable, Equatable {
    /// The model's CLI default image cap: 1280 tokens of 28×28 pixels.
    public static let defaultMaxPixelsPerImage = 1280 * 28 * 28

    public var host: String
    /// 0 picks a free port (the bound one is reported through `onListening`).
    public var port: Int
    /// The model id clients must send (`GET /v1/models` lists it); nil = the checkpoint folder's name.
    public var modelName: String?
    /// Local paths and `file://` URLs are accepted only for files inside this folder (symlinks resolved).
    public var allowLocalMedia: URL?
    /// Whether `http(s)://` media URLs may be downloaded.
    public var allowRemoteMedia: Bool
    /// Largest request body accepted (bytes), checked before the body is read.
    public var maxBodyBytes: Int
    /// Most images (image parts) in one request.
    public var maxImagesPerRequest: Int
    /// Every image is resized to at most this many pixels (a request may ask for less, never more).
    public var maxPixelsPerImage: Int
    /// Most prompt tokens (after image placeholders are expanded) in one request.
    public var maxPromptTokens: Int
    /// Most requests waiting for a free sequence slot; more are refused with 503.
    public var maxQueueLength: Int
    /// Sequences generated together (continuous batching).
    public var maxSequences: Int = 8
    /// Keys and values the running sequences may reach together at their longest (prompt + max tokens), MiB;
    /// requests beyond it wait.
    public var kvBudgetMiB: Int = 4096
    /// Keys and values of finished sequences kept for requests that share their prefix, MiB (0: off).
    public var prefixCacheMiB: Int = 1024
    /// Vision-encoder outputs kept for images and videos seen again, MiB (0: off).
    public var visionCacheMiB: Int = 256
    /// Seconds a draining server (SIGTERM) waits for running requests before it stops anyway.
    public var drainTimeoutSeconds: Double = 300
    /// Whether `GET /` serves the chat web page (and its assets under `/webui/`); `qwenvl serve --no-ui` turns it off.
    public var serveWebUI = true

    public init(host: String = "127.0.0.1", port: Int = 8080, modelName: String? = nil, allowLocalMedia: URL? = nil,
                allowRemoteMedia: Bool = false, maxBodyBytes: Int = 32 << 20, maxImagesPerRequest: Int = 8,
                maxPixelsPerImage: Int = ServerOptions.defaultMaxPixelsPerImage, maxPromptTokens: Int = 16384,
                maxQueueLength: Int = 64) {
        self.host = host
        self.port = port
        self.modelName = modelName
        self.allowLocalMedia = allowLocalMedia
        self.allowRemoteMedia = allowRemoteMedia
        self.maxBodyBytes = maxBodyBytes
        self.maxImagesPerRequest = maxImagesPerRequest
        self.maxPixelsPerImage = maxPixelsPerImage
        self.maxPromptTokens = maxPromptTokens
        self.maxQueueLength = maxQueueLength
    }

    /// Throws a message naming the first option out of range.
    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws { if !ok { throw ServerOptionsError(message) } }
        try check((0...65535).contains(port), "port must be in 0...65535 (got \(port))")
        try check(maxBodyBytes >= 1024, "max body bytes must be at least 1024 (got \(maxBodyBytes))")
        try check(maxImagesPerRequest >= 0, "max images per request must be ≥ 0 (got \(maxImagesPerRequest))")
        try check(maxPixelsPerImage >= 784, "max pixels per image must be ≥ 784, one 28×28 cell (got \(maxPixelsPerImage))")
        try check(maxPromptTokens >= 1, "max prompt tokens must be ≥ 1 (got \(maxPromptTokens))")
        try check(maxQueueLength >= 0, "max queue length must be ≥ 0 (got \(maxQueueLength))")
        try check((1...256).contains(maxSequences), "max sequences must be in 1...256 (got \(maxSequences))")
        try check(kvBudgetMiB >= 1, "the KV budget must be at least 1 MiB (got \(kvBudgetMiB))")
        try check(prefixCacheMiB >= 0, "the prefix cache size must be ≥ 0 MiB (got \(prefixCacheMiB))")
        try check(visionCacheMiB >= 0, "the vision cache size must be ≥ 0 MiB (got \(visionCacheMiB))")
        try check(drainTimeoutSeconds >= 0, "the drain timeout must be ≥ 0 s (got \(drainTimeoutSeconds))")
        if let dir = allowLocalMedia {
            var isDirectory: ObjCBool = false
            try check(FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDirectory) && isDirectory.boolValue,
                      "allowed media folder not found: \(dir.path)")
        }
    }
}

/// An invalid ``ServerOptions`` value.
public struct ServerOptionsError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
