import Foundation
import XCTest
import QwenVLTokenizer

/// `ChatTemplate.qwen2VL` against every case rendered by the real template (`reference/chat_template.json`).
final class ChatTemplateTests: XCTestCase {
    func testEveryReferenceCaseRendersIdentically() throws {
        let cases = try XCTUnwrap(Fixtures.json(Fixtures.reference.appendingPathComponent("chat_template.json")).arrayValue)
        XCTAssertGreaterThanOrEqual(cases.count, 12)
        for entry in cases {
            let name = try XCTUnwrap(entry["name"]?.stringValue)
            let messages = try TemplateMessage.parseMessages(try XCTUnwrap(entry["messages"]))
            let rendered = ChatTemplate.qwen2VL.render(
                messages,
                addGenerationPrompt: try XCTUnwrap(entry["add_generation_prompt"]?.boolValue),
                addVisionID: try XCTUnwrap(entry["add_vision_id"]?.boolValue))
            assertSameText(rendered, try XCTUnwrap(entry["text"]?.stringValue), "case \(name)")
        }
    }

    func testSpecExampleAndTokenization() throws {
        // Spec §6.1 verified render.
        let messages = [TemplateMessage(role: "user", parts: [.image, .text("Describe this image.")])]
        let text = ChatTemplate.qwen2VL.render(messages, addGenerationPrompt: true)
        XCTAssertEqual(text, "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
                       + "<|vision_start|><|image_pad|><|vision_end|>Describe this image.<|im_end|>\n"
                       + "<|im_start|>assistant\n")
        let ids = try Fixtures.tokenizer().encode(text)
        XCTAssertEqual(ids.first, 151644)
        XCTAssertEqual(ids.filter { $0 == 151655 }.count, 1)
        XCTAssertEqual(Array(ids.suffix(3)), [151644, 77091, 198])  // "<|im_start|>", "assistant", "\n"
    }

    func testJinjaQuirksOfPartClassification() throws {
        let messages = try TemplateMessage.parseMessages(json: """
            [{"role": "user", "content": [
                {"type": "text", "text": "a", "image": "x.jpg"},
                {"type": "video", "image_url": {"url": "u"}},
                {"video": "v.mp4", "text": "ignored"},
                {"type": "audio"},
                {"text": 5},
                "an image_url string",
                "plain string"
            ]}]
            """)
        XCTAssertEqual(messages, [TemplateMessage(role: "user", parts: [.image, .image, .video, .text("5"), .image])])
    }

    func testInvalidMessagesThrowClearErrors() {
        XCTAssertThrowsError(try TemplateMessage.parseMessages(json: "{\"role\": \"user\"}")) { error in
            XCTAssertTrue("\(error)".contains("array"), "\(error)")
        }
        XCTAssertThrowsError(try TemplateMessage.parseMessages(json: "[{\"role\": \"user\"}]")) { error in
            XCTAssertTrue("\(error)".contains("content"), "\(error)")
        }
        XCTAssertThrowsError(try TemplateMessage.parseMessages(json: "[{\"role\": \"user\", \"content\": null}]"))
        XCTAssertThrowsError(try TemplateMessage.parseMessages(json: "[{\"role\": \"user\", \"content\": \"x\"")) { error in
            XCTAssertTrue("\(error)".contains("invalid JSON"), "\(error)")
        }
    }
}
