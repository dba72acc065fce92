import Foundation
import QwenVLTokenizer

/// The ShareGPT conversation layout used by LLaMA-Factory and the Qwen fine-tuning scripts.
///
/// `{"conversations": [{"from": "human"|"gpt"|"system", "value": "…<image>…"}], "image": "a.jpg" | "images": [...],
/// "video": "v.mp4" | "videos": [...], "system": "…"}`: each `<image>` / `<video>` marker in the text stands for
/// the next image / video in order; with no marker at all, the media go first in the first human turn (images,
/// then videos). Roles map `human` → user, `gpt` → assistant (`user`, `assistant` are accepted as they are).
enum ShareGPTConversation {
    static let imageMarker = "<image>"
    static let videoMarker = "<video>"

    /// Messages of one ShareGPT row; relative media paths resolve against `baseDirectory`.
    static func messages(_ row: JSONValue, baseDirectory: URL?) throws -> [ChatMessage] {
        guard let turns = row["conversations"]?.arrayValue else {
            throw QwenVLError("\"conversations\" must be a list of {\"from\", \"value\"} turns")
        }
        let images = try mediaList(row, single: "image", plural: "images").map { ChatMessage.resolvePath($0, baseDirectory ?? URL(fileURLWithPath: ".")) }
        let videos = try mediaList(row, single: "video", plural: "videos").map { ChatMessage.resolvePath($0, baseDirectory ?? URL(fileURLWithPath: ".")) }
        var parsed: [(role: String, text: String)] = []
        if let system = row["system"], !system.isNull {
            guard let text = system.stringValue else { throw QwenVLError("\"system\" must be a string") }
            parsed.append(("system", text))
        }
        for (index, turn) in turns.enumerated() {
            guard turn.objectValue != nil else { throw QwenVLError("conversations[\(index)]: expected an object") }
            guard let from = turn["from"]?.stringValue ?? turn["role"]?.stringValue else {
                throw QwenVLError("conversations[\(index)]: missing \"from\"")
            }
            let role: String
            switch from {
            case "human", "user": role = "user"
            case "gpt", "assistant": role = "assistant"
            case "system": role = "system"
            default: throw QwenVLError("conversations[\(index)]: unknown \"from\" '\(from)' (expected human, gpt or system)")
            }
            guard let value = turn["value"] ?? turn["content"], let text = value.stringValue else {
                throw QwenVLError("conversations[\(index)]: \"value\" must be a string")
            }
            parsed.append((role, text))
        }
        let imageMarkers = parsed.reduce(0) { $0 + occurrences(of: imageMarker, in: $1.text) }
        let videoMarkers = parsed.reduce(0) { $0 + occurrences(of: videoMarker, in: $1.text) }
        try checkCount(markers: imageMarkers, items: images.count, kind: "image")
        try checkCount(markers: videoMarkers, items: videos.count, kind: "video")
        var leading: [ContentPart] = []
        if imageMarkers == 0 { leading += images.map { .image(ImageInput(source: $0)) } }
        if videoMarkers == 0 { leading += videos.map { .video(VideoInput(source: .file($0))) } }
        if !leading.isEmpty, !parsed.contains(where: { $0.role == "user" }) {
            throw QwenVLError("media given but there is no human turn to put it in")
        }
        var nextImage = 0, nextVideo = 0
        var messages: [ChatMessage] = []
        for (role, text) in parsed {
            var parts: [ContentPart] = []
            if role == "user", !leading.isEmpty {
                parts = leading
                leading = []
            }
            var segment = ""
            var rest = Substring(text)
            while !rest.isEmpty {
                if rest.hasPrefix(imageMarker) {
                    if !segment.isEmpty { parts.append(.text(segment)); segment = "" }
                    parts.append(.image(ImageInput(source: images[nextImage])))
                    nextImage += 1
                    rest = rest.dropFirst(imageMarker.count)
                } else if rest.hasPrefix(videoMarker) {
                    if !segment.isEmpty { parts.append(.text(segment)); segment = "" }
                    parts.append(.video(VideoInput(source: .file(videos[nextVideo]))))
                    nextVideo += 1
                    rest = rest.dropFirst(videoMarker.count)
                } else {
                    segment.append(rest.removeFirst())
                }
            }
            if !segment.isEmpty { parts.append(.text(segment)) }
            let hasMedia = parts.contains { if case .text = $0 { false } else { true } }
            messages.append(hasMedia ? ChatMessage(role: role, content: .parts(parts)) : ChatMessage(role: role, text: text))
        }
        return messages
    }

    /// Paths under `single` (a string) or `plural` (a list of strings).
    private static func mediaList(_ row: JSONValue, single: String, plural: String) throws -> [String] {
        var result: [String] = []
        for key in [single, plural] {
            guard let value = row[key], !value.isNull else { continue }
            if let path = value.stringValue {
                result.append(path)
            } else if let list = value.arrayValue {
                for item in list {
                    guard let path = item.stringValue else { throw QwenVLError("\"\(key)\" must hold paths (strings)") }
                    result.append(path)
                }
            } else {
                throw QwenVLError("\"\(key)\" must be a path or a list of paths")
            }
        }
        return result
    }

    private static func checkCount(markers: Int, items: Int, kind: String) throws {
        if markers > items {
            throw QwenVLError("\(markers) <\(kind)> markers but \(items) \(kind)\(items == 1 ? "" : "s") given")
        }
        if markers > 0, markers < items {
            throw QwenVLError("\(items) \(kind)s given but only \(markers) <\(kind)> marker\(markers == 1 ? "" : "s") in the text")
        }
    }

    private static func occurrences(of marker: String, in text: String) -> Int {
        var count = 0
        var rest = Substring(text)
        while let range = rest.range(of: marker) {
            count += 1
            rest = rest[range.upperBound...]
        }
        return count
    }
}
