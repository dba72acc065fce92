import Foundation
import XCTest
import QwenVL
import QwenVLMedia

/// Qwen2.5-VL boxes (`bbox_2d` JSON in absolute pixels of the resized image) are mapped back to original-image
/// pixels; Qwen2-VL's [0, 1000) markup keeps its rule.
final class Qwen25GroundingTests: XCTestCase {
    /// photo.jpg is 200×150; with max_pixels 12544 qwen-vl-utils resizes it to 112×84 (grid 6×8 in the tiny25
    /// reference `jpeg_image`).
    func testBoxesMapFromResizedToOriginalPixels() async throws {
        let model = try Fixtures.model("tiny25-f32")
        var image = ImageInput(source: Fixtures.root.appendingPathComponent("images/photo.jpg").path)
        image.maxPixels = 12544
        let input = try await model.prepare(messages: [ChatMessage(role: "user", content: .parts([.image(image), .text("Find the disc.")]))])
        let size = try XCTUnwrap(input.firstImageResizedSize(patchSize: model.configuration.vision.patchSize))
        XCTAssertEqual(size.width, 112)
        XCTAssertEqual(size.height, 84)
        let answer = """
        ```json
        [
          {"bbox_2d": [28, 21, 84, 63], "label": "disc"},
          {"bbox_2d": [100, 80, 90, 70], "label": " {brace} "},
          {"point_2d": [56, 42], "label": "centre"}
        ]
        ```
        """
        let boxes = Grounding.parse(answer, family: .qwen25VL, resizedImageSize: size)
        XCTAssertEqual(boxes.count, 3)
        XCTAssertEqual(boxes[0].label, "disc")
        XCTAssertEqual(boxes[0].points, [[28, 21], [84, 63]])
        // x · 200/112, y · 150/84.
        let pixels = boxes[0].pixelPoints(imageWidth: 200, imageHeight: 150)
        XCTAssertEqual(pixels[0][0], 50, accuracy: 1e-9)
        XCTAssertEqual(pixels[0][1], 37.5, accuracy: 1e-9)
        XCTAssertEqual(pixels[1][0], 150, accuracy: 1e-9)
        XCTAssertEqual(pixels[1][1], 112.5, accuracy: 1e-9)
        // Corners ordered; a label with braces inside its string does not break the object.
        XCTAssertEqual(boxes[1].label, "{brace}")
        XCTAssertEqual(boxes[1].points, [[90, 70], [100, 80]])
        XCTAssertEqual(boxes[2].kind, .point)
        XCTAssertEqual(boxes[2].pixelPoints(imageWidth: 200, imageHeight: 150)[0], [100, 75])
    }

    func testCoordinatesClampToTheResizedImageAndBadObjectsAreSkipped() {
        let text = #"{"bbox_2d": [-5, 10, 500, 90]} {"bbox_2d": [1, 2, 3]} {"label": "none"} {"bbox_2d": ["a", 1, 2, 3]} {"bbox_2d": [1, 2, 3, 4"#
        let boxes = AbsoluteBoxes.parse(text, resizedWidth: 112, resizedHeight: 84)
        XCTAssertEqual(boxes.count, 1)
        XCTAssertEqual(boxes[0].points, [[0, 10], [112, 84]])
        XCTAssertNil(boxes[0].label)
        XCTAssertEqual(boxes[0].space, .resizedPixels(width: 112, height: 84))
        // No resized size: nothing to map to.
        XCTAssertTrue(Grounding.parse(text, family: .qwen25VL, resizedImageSize: nil).isEmpty)
    }

    func testQwen2VLKeepsItsNormalizedRule() {
        let text = "<|object_ref_start|>cat<|object_ref_end|><|box_start|>(100,200),(500,800)<|box_end|>"
        let boxes = Grounding.parse(text, family: .qwen2VL, resizedImageSize: (112, 84))
        XCTAssertEqual(boxes, Grounding.parse(text))
        XCTAssertEqual(boxes[0].space, .normalized1000)
        XCTAssertEqual(boxes[0].pixelPoints(imageWidth: 200, imageHeight: 150), [[20, 30], [100, 120]])
        // Qwen2.5-VL reads the same markup as resized-image pixels (clamped to 112×84), not as [0, 1000).
        let absolute = Grounding.parse(text, family: .qwen25VL, resizedImageSize: (112, 84))
        XCTAssertEqual(absolute.count, 1)
        XCTAssertEqual(absolute[0].label, "cat")
        XCTAssertEqual(absolute[0].points, [[100, 84], [112, 84]])
        XCTAssertEqual(absolute[0].space, .resizedPixels(width: 112, height: 84))
    }

    func testQwen25MarkupBoxesMapToOriginalPixels() {
        let text = "<|object_ref_start|> disc <|object_ref_end|><|box_start|>(84,63),(28,21)<|box_end|> and <|box_start|>(0,0),(56,42)<|box_end|>"
        let boxes = Grounding.parse(text, family: .qwen25VL, resizedImageSize: (112, 84))
        XCTAssertEqual(boxes.map(\.points), [[[28, 21], [84, 63]], [[0, 0], [56, 42]]])
        XCTAssertEqual(boxes[0].label, "disc")
        XCTAssertNil(boxes[1].label)   // " and " ends the label
        XCTAssertEqual(boxes[1].pixelPoints(imageWidth: 200, imageHeight: 150), [[0, 0], [100, 75]])
    }

    /// `--annotate` draws a Qwen2.5-VL box at original-image pixels: box [28,21]-[84,63] of 112×84 on a 200×150
    /// image spans x 50…150 and y 38…113 (37.5 and 112.5 rounded half away from zero).
    func testAnnotationUsesOriginalPixels() throws {
        let image = try RGBImage(width: 200, height: 150, pixels: [UInt8](repeating: 255, count: 200 * 150 * 3))
        let box = GroundingBox(label: nil, kind: .box, points: [[28, 21], [84, 63]], space: .resizedPixels(width: 112, height: 84))
        let edges = Annotation.pixelEdges(of: box, width: 200, height: 150)!
        XCTAssertEqual(edges.left, 50)
        XCTAssertEqual(edges.top, 38)
        XCTAssertEqual(edges.right, 150)
        XCTAssertEqual(edges.bottom, 113)
        let drawn = Annotation.draw(boxes: [box], on: image, style: Annotation.Style())
        XCTAssertNotEqual(Array(drawn.pixels[(80 * 200 + 50) * 3..<(80 * 200 + 50) * 3 + 3]), [255, 255, 255])
        XCTAssertEqual(Array(drawn.pixels[(80 * 200 + 100) * 3..<(80 * 200 + 100) * 3 + 3]), [255, 255, 255])
    }
}
