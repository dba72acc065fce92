import CFFmpeg
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks a video path before FFmpeg sees it, and turns FFmpeg's open failures into precise ``VideoError``s.
enum VideoFileCheck {
    /// Throws ``VideoError/unreadablePath`` unless `path` names a readable regular file (or a device/FIFO).
    static func checkReadable(_ path: String) throws {
        guard !path.isEmpty else { throw VideoError.unreadablePath(path: path, reason: "the path is empty") }
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw VideoError.unreadablePath(path: path, reason: String(cString: strerror(errno)))
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            throw VideoError.unreadablePath(path: path, reason: "it is a directory")
        }
        guard access(path, R_OK) == 0 else {
            throw VideoError.unreadablePath(path: path, reason: String(cString: strerror(errno)))
        }
        if (info.st_mode & S_IFMT) == S_IFREG && info.st_size == 0 {
            throw VideoError.notAVideo(path: path, reason: "the file is empty (0 bytes)")
        }
    }

    /// Explains why `avformat_open_input` failed with `code`.
    static func classifyOpenFailure(path: String, code: Int32) -> VideoError {
        let reason = ffmpegErrorString(code)
        guard let handle = FileHandle(forReadingAtPath: path) else {
            return .unreadablePath(path: path, reason: reason)
        }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 4096)) ?? Data()
        if let boxes = topLevelMP4Boxes(handle), boxes.first == "ftyp" || boxes.contains("mdat") {
            if !boxes.contains("moov") {
                return .truncated(path: path, reason: "the MP4/MOV 'moov' box (the index of all samples) is missing; "
                                  + "the file was cut off or is still being written (top-level boxes: "
                                  + boxes.prefix(8).joined(separator: ", ") + ")")
            }
        }
        if code == cffmpeg_error_eof() || code == cffmpeg_error_eio(),
           let format = [UInt8](head).withUnsafeBufferPointer({
               cffmpeg_probe_format_name($0.baseAddress, Int32($0.count))
           }) {
            // FFmpeg recognises the container, but its header runs past the end of the file.
            return .truncated(path: path, reason: "the \(String(cString: format)) header ends early (\(reason))")
        }
        return .notAVideo(path: path, reason: "\(reason); the file starts with \(describe(head))")
    }

    /// The four-character types of the top-level MP4 boxes, or nil when the file does not look like MP4/MOV.
    /// A box whose size runs past the end of the file is listed and ends the walk.
    private static func topLevelMP4Boxes(_ handle: FileHandle) -> [String]? {
        guard let end = try? handle.seekToEnd() else { return nil }
        var offset: UInt64 = 0
        var types: [String] = []
        while offset + 8 <= end, types.count < 64 {
            guard (try? handle.seek(toOffset: offset)) != nil,
                  let header = try? handle.read(upToCount: 16), header.count >= 8 else { break }
            let bytes = [UInt8](header)
            var size = UInt64(bytes[0]) << 24 | UInt64(bytes[1]) << 16 | UInt64(bytes[2]) << 8 | UInt64(bytes[3])
            let typeBytes = bytes[4..<8]
            guard typeBytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) else { return types.isEmpty ? nil : types }
            types.append(String(decoding: typeBytes, as: UTF8.self))
            if size == 1 {
                guard bytes.count >= 16 else { break }
                size = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            } else if size == 0 {
                size = end - offset  // the box runs to the end of the file
            }
            guard size >= 8 else { break }
            offset += size
        }
        let known: Set<String> = ["ftyp", "moov", "mdat", "free", "skip", "wide", "uuid", "moof", "pnot", "styp"]
        return types.contains(where: known.contains) ? types : nil
    }

    /// The first bytes as hex plus printable ASCII, for error messages.
    private static func describe(_ head: Data) -> String {
        let bytes = [UInt8](head.prefix(16))
        if bytes.isEmpty { return "nothing (0 bytes)" }
        let hex = bytes.map { String(format: "%02x", $0) }.joined(separator: " ")
        let text = String(bytes.map { $0 >= 0x20 && $0 < 0x7f ? Character(UnicodeScalar($0)) : "." })
        return "\(hex) (\"\(text)\")"
    }
}
