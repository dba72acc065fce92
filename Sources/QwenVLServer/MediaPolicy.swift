import Foundation
import QwenVL

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Decides which media references a request may use, and rewrites allowed local paths to their real paths.
///
/// - `data:` URLs are always allowed (their payload is checked when decoded);
/// - `http://` / `https://` only when remote media is allowed;
/// - anything else is a local path (`file://` prefixes stripped as qwen-vl-utils does) and is allowed only
///   inside the allowed folder: relative paths resolve against it, `..` is normalized away first, symlinks are
///   resolved, and the real path must still lie inside the folder's real path.
public struct MediaPolicy: Sendable {
    /// The real path of the allowed folder, or nil when local media is off.
    public let localRoot: String?
    public let allowRemote: Bool

    public init(allowLocalMedia: URL?, allowRemote: Bool) {
        localRoot = allowLocalMedia.map { Self.realPath($0.path) ?? $0.standardizedFileURL.path }
        self.allowRemote = allowRemote
    }

    /// Checks every image and video reference of `messages`; returns them with local paths made real.
    public func apply(to messages: [ChatMessage]) throws -> [ChatMessage] {
        try messages.enumerated().map { m, message in
            guard case .parts(let parts) = message.content else { return message }
            var out = message
            out.content = .parts(try parts.enumerated().map { p, part in
                let param = "messages[\(m)].content[\(p)]"
                switch part {
                case .text: return part
                case .image(var image):
                    image.source = try check(image.source, param: param)
                    return .image(image)
                case .video(var video):
                    switch video.source {
                    case .file(let s): video.source = .file(try check(s, param: param))
                    case .frames(let list): video.source = .frames(try list.map { try check($0, param: param) })
                    }
                    return .video(video)
                }
            })
            return out
        }
    }

    /// The reference to load instead of `source`, or an error saying why it is refused.
    func check(_ source: String, param: String) throws -> String {
        if source.hasPrefix("data:") { return source }
        if source.hasPrefix("http://") || source.hasPrefix("https://") {
            guard allowRemote else {
                throw APIError.mediaForbidden("Remote media URLs are disabled on this server (start it with --allow-remote-media)",
                                              param: param)
            }
            return source
        }
        guard let root = localRoot else {
            throw APIError.mediaForbidden(
                "Local media paths are disabled on this server (start it with --allow-local-media DIR); send images as data: URLs",
                param: param)
        }
        var path = source.hasPrefix("file://") ? String(source.dropFirst(7)) : source
        if !path.hasPrefix("/") { path = root + "/" + path }
        let lexical = URL(fileURLWithPath: path).standardizedFileURL.path
        guard Self.isInside(lexical, root) else {
            throw APIError.mediaForbidden("Media path '\(source)' is outside the allowed media folder", param: param)
        }
        guard let real = Self.realPath(lexical) else {
            throw APIError.invalidRequest("Media file '\(source)' does not exist in the allowed media folder", param: param,
                                          code: "media_not_found")
        }
        guard Self.isInside(real, root) else {
            throw APIError.mediaForbidden("Media path '\(source)' resolves outside the allowed media folder", param: param)
        }
        return real
    }

    static func isInside(_ path: String, _ root: String) -> Bool {
        root == "/" || path == root || path.hasPrefix(root + "/")
    }

    /// `realpath(3)`: absolute, symlinks resolved; nil when the path does not exist.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
