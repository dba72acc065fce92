import Foundation

/// One box or quadrilateral the model drew with Qwen2-VL's grounding tokens (spec §9).
///
/// Coordinates are integers normalized to the **whole original image**, 0…1000 on each axis (the model
/// emits [0, 1000); values outside [0, 1000] are clamped when parsed). Because Qwen2-VL's resize is a full-frame
/// stretch, ``pixelPoints(imageWidth:imageHeight:)`` maps them to original-image pixels with `x/1000·W`.
public struct GroundingBox: Sendable, Equatable, Codable {
    /// The phrase between `<|object_ref_start|>` and `<|object_ref_end|>` before the box, trimmed of
    /// whitespace; nil when the box has no (non-empty) label.
    public var label: String?
    /// Rectangle (`<|box_start|>`) or quadrilateral (`<|quad_start|>`).
    public var kind: Kind
    /// Points normalized to 0…1000, `[[x, y], …]`: a box holds `[[x1, y1], [x2, y2]]` with x1 ≤ x2 and
    /// y1 ≤ y2 (top-left, bottom-right); a quad holds its 4 corners in the order emitted.
    public var points: [[Int]]
    /// What `points` are measured in: Qwen2-VL's 0…1000 (default) or Qwen2.5-VL's resized-image pixels.
    public var space: CoordinateSpace = .normalized1000

    /// Coordinate systems of the two families.
    public enum CoordinateSpace: Sendable, Equatable, Codable {
        /// 0…1000 on each axis of the whole image (Qwen2-VL).
        case normalized1000
        /// Absolute pixels of the image as resized for the model (Qwen2.5-VL).
        case resizedPixels(width: Int, height: Int)
    }

    /// The two shapes the grounding tokens describe.
    public enum Kind: String, Sendable, Codable {
        /// `<|box_start|>(x1,y1),(x2,y2)<|box_end|>`: an axis-aligned rectangle.
        case box
        /// `<|quad_start|>(x1,y1),(x2,y2),(x3,y3),(x4,y4)<|quad_end|>`: a quadrilateral.
        case quad
        /// Qwen2.5-VL `point_2d`: one point.
        case point
    }

    public init(label: String?, kind: Kind, points: [[Int]], space: CoordinateSpace = .normalized1000) {
        self.label = label
        self.kind = kind
        self.points = points
        self.space = space
    }

    /// The points in pixels of an image of the given (original) size: `[x/1000·W, y/1000·H]` for each point, or
    /// `[x·W/w, y·H/h]` for points in pixels of the w×h resized image (not rounded; the far edge maps to W or H).
    public func pixelPoints(imageWidth: Int, imageHeight: Int) -> [[Double]] {
        let (sx, sy): (Double, Double)
        switch space {
        case .normalized1000: (sx, sy) = (1000, 1000)
        case .resizedPixels(let w, let h): (sx, sy) = (Double(max(w, 1)), Double(max(h, 1)))
        }
        return points.map { point in
            [Double(point.first ?? 0) / sx * Double(imageWidth), Double(point.count > 1 ? point[1] : 0) / sy * Double(imageHeight)]
        }
    }
}

/// Reads Qwen2-VL's grounding markup out of generated text (spec §9).
///
/// The model writes `<|object_ref_start|>the cat<|object_ref_end|><|box_start|>(120,340),(560,910)<|box_end|>`.
/// Decode with `skipSpecialTokens: false` so the markers survive. Parsing rules:
/// - A label is the trimmed text between `<|object_ref_start|>` and `<|object_ref_end|>` (nil when empty).
///   It applies to every box or quad that follows until the next label or until text containing a letter
///   or digit; text made only of whitespace and punctuation (such as `, ` between boxes) keeps it.
///   A box with no label before it gets `label == nil`.
/// - A box body is points `(x,y)` separated by optional commas, with whitespace and newlines allowed
///   anywhere between the pieces. Boxes need exactly 2 points, quads exactly 4.
/// - Coordinates are optionally signed decimal integers, clamped to [0, 1000] (huge values saturate);
///   box corners are reordered so x1 ≤ x2 and y1 ≤ y2. Quad points are kept in order.
/// - Malformed pieces are skipped without affecting later ones: a missing `(` or `)`, non-integers
///   (`10.5`, `abc`), the wrong number of points, an unterminated box or label (a new marker starts
///   before the end marker), stray end markers. Truncated output (generation stopped mid-box) therefore
///   yields the complete boxes only.
/// - Parsing never fails and never traps, whatever the input.
public enum Grounding {
    /// Parses model output that still contains the special-token strings (decode with skipSpecialTokens: false).
    public static func parse(_ text: String) -> [GroundingBox] {
        var boxes: [GroundingBox] = []
        walk(text) { event in
            if case .shape(let box?, _) = event { boxes.append(box) }
        }
        return boxes
    }

    /// The text with grounding markup turned into readable form.
    ///
    /// Labels become their plain text; each well-formed box becomes `[box (x1,y1),(x2,y2)]` and each quad
    /// `[quad (x1,y1),(x2,y2),(x3,y3),(x4,y4)]` with the parsed (clamped, ordered) normalized coordinates,
    /// set off by a space from neighbouring words; malformed or truncated boxes are dropped. Every other
    /// Qwen2-VL special-token string (`<|im_end|>`, `<|endoftext|>`, vision tokens) is removed.
    ///
    /// `"<|object_ref_start|>the cat<|object_ref_end|><|box_start|>(10,20),(200,300)<|box_end|> sleeps"` →
    /// `"the cat [box (10,20),(200,300)] sleeps"`.
    public static func plainText(_ text: String) -> String {
        var out = ""
        var pendingSpace = false  // a shape was just written: the next word needs a space before it
        func appendText(_ piece: Substring) {
            guard !piece.isEmpty else { return }
            if pendingSpace, let first = piece.first, !first.isWhitespace, !first.isPunctuation { out += " " }
            pendingSpace = false
            out += piece
        }
        walk(text) { event in
            switch event {
            case .text(let piece), .label(let piece):
                appendText(piece)
            case .shape(let box?, _):
                if let last = out.last, !last.isWhitespace, last != "(", last != "[" { out += " " }
                out += "[\(box.kind.rawValue) " + box.points.map { "(\($0[0]),\($0[1]))" }.joined(separator: ",") + "]"
                pendingSpace = true
            case .shape(nil, _):
                break
            }
        }
        return out
    }

    // MARK: - Scanner

    /// The grounding markers, and the other special-token strings (dropped from plain text).
    enum Marker: String, CaseIterable {
        case refStart = "<|object_ref_start|>", refEnd = "<|object_ref_end|>"
        case boxStart = "<|box_start|>", boxEnd = "<|box_end|>"
        case quadStart = "<|quad_start|>", quadEnd = "<|quad_end|>"
        case endOfText = "<|endoftext|>", imStart = "<|im_start|>", imEnd = "<|im_end|>"
        case visionStart = "<|vision_start|>", visionEnd = "<|vision_end|>", visionPad = "<|vision_pad|>"
        case imagePad = "<|image_pad|>", videoPad = "<|video_pad|>"
    }

    /// A piece of the input: plain text or one marker.
    enum Piece {
        case text(Substring)
        case marker(Marker)
    }

    /// What ``walk(_:_:)`` reports, in input order.
    enum Event {
        /// Text outside any markup.
        case text(Substring)
        /// The raw (untrimmed) text of a well-formed label.
        case label(Substring)
        /// A box or quad body: the parsed shape, or nil when malformed; and its raw body text.
        case shape(GroundingBox?, Substring)
    }

    /// Splits `text` into plain-text runs and markers.
    static func pieces(_ text: String) -> [Piece] {
        var result: [Piece] = []
        var rest = text[...]
        var textStart = rest.startIndex
        while let open = rest.range(of: "<|") {
            let tail = rest[open.lowerBound...]
            if let marker = Marker.allCases.first(where: { tail.hasPrefix($0.rawValue) }) {
                if textStart < open.lowerBound { result.append(.text(text[textStart..<open.lowerBound])) }
                result.append(.marker(marker))
                let end = text.index(open.lowerBound, offsetBy: marker.rawValue.count)
                rest = text[end...]
                textStart = end
            } else {
                rest = text[open.upperBound...]
            }
        }
        if textStart < text.endIndex { result.append(.text(text[textStart...])) }
        return result
    }

    /// Runs the parsing state machine over `text`, reporting text, labels and shapes in order.
    static func walk(_ input: String, _ report: (Event) -> Void) {
        let list = pieces(input)
        var label: String?
        var i = 0
        func text(at index: Int) -> Substring? {
            guard index < list.count, case .text(let t) = list[index] else { return nil }
            return t
        }
        func marker(at index: Int) -> Marker? {
            guard index < list.count, case .marker(let m) = list[index] else { return nil }
            return m
        }
        while i < list.count {
            switch list[i] {
            case .text(let t):
                if t.contains(where: { $0.isLetter || $0.isNumber }) { label = nil }
                report(.text(t))
                i += 1
            case .marker(.refStart):
                if let body = text(at: i + 1), marker(at: i + 2) == .refEnd {
                    let trimmed = body.trimmingCharacters(in: .whitespacesAndNewlines)
                    label = trimmed.isEmpty ? nil : trimmed
                    report(.label(body))
                    i += 3
                } else if marker(at: i + 1) == .refEnd {
                    label = nil
                    i += 2
                } else {
                    // Unterminated label: no label; its text stays plain text; carry on with what follows.
                    label = nil
                    if let body = text(at: i + 1) { report(.text(body)) }
                    i += text(at: i + 1) == nil ? 1 : 2
                }
            case .marker(let start) where start == .boxStart || start == .quadStart:
                let kind: GroundingBox.Kind = start == .boxStart ? .box : .quad
                let end: Marker = start == .boxStart ? .boxEnd : .quadEnd
                if let body = text(at: i + 1), marker(at: i + 2) == end {
                    let shape = parseShape(body, kind: kind).map { GroundingBox(label: label, kind: kind, points: $0) }
                    report(.shape(shape, body))
                    i += 3
                } else if marker(at: i + 1) == end {
                    report(.shape(nil, ""))
                    i += 2
                } else {
                    // Unterminated (truncated output, or another marker before the end marker).
                    let body = text(at: i + 1)
                    report(.shape(nil, body ?? ""))
                    i += body == nil ? 1 : 2
                }
            case .marker:
                // Stray end markers and non-grounding special tokens carry no text and change nothing.
                i += 1
            }
        }
    }

    /// Parses a box or quad body such as `(10,20),(200,300)`: the points clamped to [0, 1000] (box corners
    /// ordered), or nil when the body is malformed or has the wrong number of points.
    static func parseShape(_ body: Substring, kind: GroundingBox.Kind) -> [[Int]]? {
        var scanner = CoordinateScanner(Array(body.utf8))
        var points: [[Int]] = []
        scanner.skipSpace()
        while !scanner.atEnd {
            if !points.isEmpty, scanner.consume(UInt8(ascii: ",")) { scanner.skipSpace() }
            guard scanner.consume(UInt8(ascii: "(")) else { return nil }
            scanner.skipSpace()
            guard let x = scanner.integer() else { return nil }
            scanner.skipSpace()
            guard scanner.consume(UInt8(ascii: ",")) else { return nil }
            scanner.skipSpace()
            guard let y = scanner.integer() else { return nil }
            scanner.skipSpace()
            guard scanner.consume(UInt8(ascii: ")")) else { return nil }
            points.append([x, y])
            scanner.skipSpace()
            if points.count > 4 { return nil }
        }
        switch kind {
        case .box:
            guard points.count == 2 else { return nil }
            return [[min(points[0][0], points[1][0]), min(points[0][1], points[1][1])],
                    [max(points[0][0], points[1][0]), max(points[0][1], points[1][1])]]
        case .quad:
            return points.count == 4 ? points : nil
        case .point:
            return points.count == 1 ? points : nil
        }
    }

    /// A byte cursor for box bodies (ASCII grammar; other bytes simply fail to match).
    struct CoordinateScanner {
        let bytes: [UInt8]
        var index = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { index >= bytes.count }

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }

        mutating func consume(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        /// An optionally signed decimal integer clamped to [0, 1000]; nil when no digits follow, or when
        /// the number continues with `.` or letters (a non-integer).
        mutating func integer() -> Int? {
            var negative = false
            if consume(UInt8(ascii: "-")) { negative = true } else { _ = consume(UInt8(ascii: "+")) }
            var value = 0
            var digits = 0
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                value = min(value * 10 + Int(bytes[index] - 0x30), 1_000_000)  // saturates, never overflows
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            if index < bytes.count {
                let next = bytes[index]
                if next == UInt8(ascii: ".") || (next | 0x20 >= 0x61 && next | 0x20 <= 0x7A) { return nil }
            }
            return negative ? 0 : min(value, 1000)
        }
    }
}
