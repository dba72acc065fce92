import QwenVL
import QwenVLTokenizer

/// The `boxes` field added to an answer's message when the model drew grounding boxes (spec §9).
///
/// `[{"label": String|null, "kind": "box"|"quad", "box": [x1, y1, x2, y2] (normalized 0..<1000; a quad lists its
/// four points), "box_pixels": [...] (the same points in pixels of the request's first image, when it has one)}]`.
enum GroundingField {
    /// The field for generated `tokenIDs`, or nil when the answer holds no boxes.
    static func boxes(tokenIDs: [Int32], tokenizer: QwenTokenizer, firstImageSize: (width: Int, height: Int)?) -> JSONValue? {
        let text = tokenizer.decode(tokenIDs, skipSpecialTokens: false)
        guard text.contains("<|box_start|>") || text.contains("<|quad_start|>") else { return nil }
        let boxes = Grounding.parse(text)
        guard !boxes.isEmpty else { return nil }
        return .array(boxes.map { box in
            var members: [JSONValue.JSONMember] = [
                .init(key: "label", value: .str(box.label)),
                .init(key: "kind", value: .string(box.kind.rawValue)),
                .init(key: "box", value: .ints(box.points.flatMap { $0 })),
            ]
            if let size = firstImageSize {
                let pixels = box.pixelPoints(imageWidth: size.width, imageHeight: size.height).flatMap { $0 }
                members.append(.init(key: "box_pixels", value: .array(pixels.map { .double(($0 * 100).rounded() / 100) })))
            }
            return .object(members)
        })
    }
}
