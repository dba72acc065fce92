import Foundation
import XCTest
import QwenVL
import QwenVLTokenizer
@testable import QwenVLServer

/// The server's `boxes` field for a Qwen2.5-VL answer: `box` in resized-image pixels, `box_pixels` in original ones.
final class Qwen25BoxesTests: XCTestCase {
    func testBoxesFieldMapsAbsoluteBoxesToOriginalPixels() throws {
        let tokenizer = try QwenTokenizer.load(directory: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fixtures/tokenizer"))
        let answer = #"```json\n[{"bbox_2d": [28, 21, 84, 63], "label": "disc"}]\n```"#
        let ids = tokenizer.encode(answer)
        let field = try XCTUnwrap(GroundingField.boxes(tokenIDs: ids, tokenizer: tokenizer, family: .qwen25VL,
                                                        firstImageSize: (200, 150), resizedImageSize: (112, 84)))
        let box = try XCTUnwrap(field.arrayValue?.first)
        XCTAssertEqual(box["label"]?.stringValue, "disc")
        XCTAssertEqual(box["kind"]?.stringValue, "box")
        func numbers(_ value: JSONValue?) -> [Double] {
            (value?.arrayValue ?? []).compactMap { if case .number(let text) = $0 { return Double(text) } else { return nil } }
        }
        XCTAssertEqual(numbers(box["box"]), [28, 21, 84, 63])
        XCTAssertEqual(numbers(box["box_pixels"]), [50, 37.5, 150, 112.5])
        // The same text from Qwen2-VL holds no markup boxes.
        XCTAssertNil(GroundingField.boxes(tokenIDs: ids, tokenizer: tokenizer, firstImageSize: (200, 150)))
    }
}
