import QwenVL
import QwenVLTokenizer

/// The `boxes` field added to an answer's message when the model drew grounding boxes (spec §9).
///
/// `[{"label": String|null, "kind": "box"|"quad", "box": [x1, y1, x2, y2] (normalized 0..<1000; a quad lists its
/// four points), "box_pixels": [...] (the same points in pixels of the request's first image, when it has one)}]`.
enum GroundingField {
    /// The field for generated `tokenIDs`, or nil when the answer holds no boxes.
    /// Qwen2.5-VL (`family`) writes JSON `bbox_2d` boxes in pixels of the resized first image (`resizedImageSize`);
    /// their `box` holds those pixels and `box_pixels` the original-image pixels.
    static func boxes(tokenIDs: [Int32], tokenizer: QwenTokenizer, family: ModelFamily = .qwen2VL,
                      firstImageSize: (width: Int, height: Int)?, resizedImageSize: (width: Int, height: Int)? = nil) -> JSONValue? {
        let text = tokenizer.decode(tokenIDs, skipSpecialTokens: false)
        if family == .qwen2VL { guard text.contains("<|box_start|>") || text.contains("<|quad_start|>") else { return nil } }
        let boxes = Grounding.parse(text, family: family, resizedImageSize: resizedImageSize)
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
