import Foundation

/// Qwen2.5-VL's grounding output: JSON objects such as `{"bbox_2d": [x1, y1, x2, y2], "label": "cat"}` (or
/// `"point_2d": [x, y]`), usually in a ```json fenced array, with coordinates in ABSOLUTE pixels of the image as
/// the model saw it (after smart_resize), not Qwen2-VL's [0, 1000).
///
/// Every balanced `{…}` in the text that parses as a JSON object with a numeric 4-element `bbox_2d` (or 2-element
/// `point_2d`) becomes a box; other text is ignored. Coordinates are rounded to integers and clamped to the resized
/// image; corners are ordered so x1 ≤ x2, y1 ≤ y2. ``GroundingBox/pixelPoints(imageWidth:imageHeight:)`` then maps
/// them to the original image with `x · W / resizedWidth`.
public enum AbsoluteBoxes {
    /// Boxes in `text` for an image the model saw at `resizedWidth`×`resizedHeight`.
    public static func parse(_ text: String, resizedWidth: Int, resizedHeight: Int) -> [GroundingBox] {
        let bytes = Array(text.utf8)
        var boxes: [GroundingBox] = []
        var i = 0
        while i < bytes.count {
            guard bytes[i] == UInt8(ascii: "{"), let end = matchingBrace(bytes, from: i) else { i += 1; continue }
            if let box = box(Array(bytes[i...end]), resizedWidth: resizedWidth, resizedHeight: resizedHeight) {
                boxes.append(box)
                i = end + 1
            } else {
                i += 1
            }
        }
        return boxes
    }

    /// Boxes written in the grounding markup, `<|object_ref_start|>label<|object_ref_end|><|box_start|>(x1,y1),(x2,y2)<|box_end|>`,
    /// which Qwen2.5-VL also fills with absolute resized-image pixels: the same clamping and corner order as the JSON
    /// form; the label is the `<|object_ref_…|>` phrase before the box, kept across boxes separated only by
    /// punctuation and spaces (nil when there is none).
    public static func parseMarkup(_ text: String, resizedWidth: Int, resizedHeight: Int) -> [GroundingBox] {
        var boxes: [GroundingBox] = []
        var rest = text[...]
        var label: String?
        let space = GroundingBox.CoordinateSpace.resizedPixels(width: resizedWidth, height: resizedHeight)
        while let start = rest.range(of: "<|box_start|>") {
            let before = rest[..<start.lowerBound]
            if let refStart = before.range(of: "<|object_ref_start|>", options: .backwards),
               let refEnd = before[refStart.upperBound...].range(of: "<|object_ref_end|>") {
                let phrase = before[refStart.upperBound..<refEnd.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines)
                label = phrase.isEmpty ? nil : phrase
            } else if before.contains(where: { $0.isLetter || $0.isNumber }) {
                label = nil   // like Qwen2-VL's rule: text with a letter or digit ends the previous label
            }
            guard let end = rest[start.upperBound...].range(of: "<|box_end|>") else { break }
            let body = rest[start.upperBound..<end.lowerBound]
            let numbers = body.split(whereSeparator: { !("0123456789.-".contains($0)) }).compactMap { Double($0) }
            if numbers.count == 4, numbers.allSatisfy(\.isFinite) {
                func clamp(_ v: Double, _ limit: Int) -> Int { Int(min(max(v.rounded(), 0), Double(max(limit, 0)))) }
                let x1 = clamp(min(numbers[0], numbers[2]), resizedWidth), x2 = clamp(max(numbers[0], numbers[2]), resizedWidth)
                let y1 = clamp(min(numbers[1], numbers[3]), resizedHeight), y2 = clamp(max(numbers[1], numbers[3]), resizedHeight)
                boxes.append(GroundingBox(label: label, kind: .box, points: [[x1, y1], [x2, y2]], space: space))
            }
            rest = rest[end.upperBound...]
        }
        return boxes
    }

    /// Index of the `}` closing the `{` at `start` (strings and escapes respected), nil when unbalanced.
    static func matchingBrace(_ bytes: [UInt8], from start: Int) -> Int? {
        var depth = 0, inString = false, escaped = false
        for k in start..<bytes.count {
            let c = bytes[k]
            if inString {
                if escaped { escaped = false } else if c == UInt8(ascii: "\\") { escaped = true } else if c == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch c {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"): depth += 1
            case UInt8(ascii: "}"):
                depth -= 1
                if depth == 0 { return k }
            default: break
            }
        }
        return nil
    }

    static func box(_ object: [UInt8], resizedWidth: Int, resizedHeight: Int) -> GroundingBox? {
        guard let dict = (try? JSONSerialization.jsonObject(with: Data(object))) as? [String: Any] else { return nil }
        let label = (dict["label"] as? String).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
        func numbers(_ key: String, _ count: Int) -> [Double]? {
            guard let list = dict[key] as? [Any], list.count == count else { return nil }
            let values = list.compactMap { ($0 as? NSNumber).map(\.doubleValue) }
            return values.count == count && values.allSatisfy(\.isFinite) ? values : nil
        }
        func clamp(_ v: Double, _ limit: Int) -> Int { Int(min(max(v.rounded(), 0), Double(max(limit, 0)))) }
        let space = GroundingBox.CoordinateSpace.resizedPixels(width: resizedWidth, height: resizedHeight)
        if let b = numbers("bbox_2d", 4) {
            let x1 = clamp(min(b[0], b[2]), resizedWidth), x2 = clamp(max(b[0], b[2]), resizedWidth)
            let y1 = clamp(min(b[1], b[3]), resizedHeight), y2 = clamp(max(b[1], b[3]), resizedHeight)
            return GroundingBox(label: label, kind: .box, points: [[x1, y1], [x2, y2]], space: space)
        }
        if let p = numbers("point_2d", 2) {
            return GroundingBox(label: label, kind: .point, points: [[clamp(p[0], resizedWidth), clamp(p[1], resizedHeight)]], space: space)
        }
        return nil
    }
}

extension Grounding {
    /// Boxes in `text` by the family's format: Qwen2-VL markup in [0, 1000) (``parse(_:)``), or Qwen2.5-VL JSON (or,
    /// when the answer has no JSON boxes, markup) in pixels of the resized first image (``AbsoluteBoxes``; without a
    /// resized size there is nothing to map to).
    public static func parse(_ text: String, family: ModelFamily, resizedImageSize: (width: Int, height: Int)?) -> [GroundingBox] {
        switch family {
        case .qwen2VL:
            return parse(text)
        case .qwen25VL:
            guard let size = resizedImageSize else { return [] }
            let json = AbsoluteBoxes.parse(text, resizedWidth: size.width, resizedHeight: size.height)
            return json.isEmpty ? AbsoluteBoxes.parseMarkup(text, resizedWidth: size.width, resizedHeight: size.height) : json
        }
    }
}

extension ModelInput {
    /// Size (width, height) of the first image as the model sees it (grid × patch), if the prompt has an image.
    public func firstImageResizedSize(patchSize: Int) -> (width: Int, height: Int)? {
        imageGrids.first.map { (width: $0.w * patchSize, height: $0.h * patchSize) }
    }
}
