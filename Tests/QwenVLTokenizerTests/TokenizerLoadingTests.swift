import Foundation
import XCTest
import QwenVLTokenizer

/// Loading, vocabulary queries and error reporting.
final class TokenizerLoadingTests: XCTestCase {
    func testVocabularyAndSpecialTokens() throws {
        let tokenizer = try Fixtures.tokenizer()
        XCTAssertEqual(tokenizer.vocabularySize, 151657)
        XCTAssertEqual(tokenizer.specialTokens.count, 14)
        // Spec §1.3 ids.
        let expected: [(String, Int32)] = [
            ("<|endoftext|>", 151643), ("<|im_start|>", 151644), ("<|im_end|>", 151645),
            ("<|object_ref_start|>", 151646), ("<|object_ref_end|>", 151647), ("<|box_start|>", 151648),
            ("<|box_end|>", 151649), ("<|quad_start|>", 151650), ("<|quad_end|>", 151651),
            ("<|vision_start|>", 151652), ("<|vision_end|>", 151653), ("<|vision_pad|>", 151654),
            ("<|image_pad|>", 151655), ("<|video_pad|>", 151656),
        ]
        for (content, id) in expected {
            XCTAssertEqual(tokenizer.specialTokens[content], id)
            XCTAssertEqual(tokenizer.id(of: content), id)
            XCTAssertEqual(tokenizer.token(of: id), content)
            XCTAssertTrue(tokenizer.isSpecial(id))
        }
        XCTAssertEqual(tokenizer.eosTokenID, 151645)
        XCTAssertEqual(tokenizer.padTokenID, 151643)
        XCTAssertFalse(tokenizer.isSpecial(0))
        XCTAssertEqual(tokenizer.id(of: "Ġhello"), 23811)
        XCTAssertEqual(tokenizer.token(of: 23811), "Ġhello")
        XCTAssertEqual(tokenizer.bytes(of: 23811), Array(" hello".utf8))
        XCTAssertNil(tokenizer.token(of: 151657))
        XCTAssertNil(tokenizer.token(of: -1))
        XCTAssertNil(tokenizer.bytes(of: 200_000))
        // Unknown ids decode to nothing, as in HF.
        XCTAssertEqual(tokenizer.decode([23811, 999_999, -5, 23811]), " hello hello")
    }

    func testMissingFileThrowsFileNotFound() {
        let missing = URL(fileURLWithPath: "/nonexistent/dir/tokenizer.json")
        XCTAssertThrowsError(try QwenTokenizer(tokenizerJSON: missing)) { error in
            XCTAssertEqual(error as? TokenizerError, .fileNotFound(path: missing.path))
            XCTAssertTrue("\(error)".contains("/nonexistent/dir/tokenizer.json"))
        }
        XCTAssertThrowsError(try QwenTokenizer.load(directory: URL(fileURLWithPath: "/nonexistent/dir")))
    }

    func testInvalidJSONNamesFileAndPosition() throws {
        let url = try temporaryFile("tokenizer.json", "{\"model\": {\"type\": \"BPE\",\n  \"vocab\": {\"a\": 0,}}}")
        XCTAssertThrowsError(try QwenTokenizer(tokenizerJSON: url)) { error in
            guard case .invalidJSON(let source, let reason)? = error as? TokenizerError else {
                return XCTFail("wrong error \(error)")
            }
            XCTAssertEqual(source, url.path)
            XCTAssertTrue(reason.contains("line 2"), reason)
        }
    }

    func testUnsupportedModelTypeIsReported() throws {
        let url = try temporaryFile("tokenizer.json", """
            {"normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "model": {"type": "WordPiece", "vocab": {}}}
            """)
        XCTAssertThrowsError(try QwenTokenizer(tokenizerJSON: url)) { error in
            guard case .unsupported(_, let feature)? = error as? TokenizerError else {
                return XCTFail("wrong error \(error)")
            }
            XCTAssertTrue(feature.contains("pre_tokenizer"), feature)
        }
    }

    func testMergeWithUnknownTokenIsReported() throws {
        let pre = #"{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"#
            + "\"\(jsonEscaped(qwenPattern))\"},\"behavior\":\"Isolated\",\"invert\":false},"
            + #"{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,"use_regex":false}]}"#
        let url = try temporaryFile("tokenizer.json", """
            {"normalizer": {"type": "NFC"}, "pre_tokenizer": \(pre), "decoder": {"type": "ByteLevel"},
             "model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": [["a", "b"]]}}
            """)
        XCTAssertThrowsError(try QwenTokenizer(tokenizerJSON: url)) { error in
            guard case .invalidVocabulary(_, let reason)? = error as? TokenizerError else {
                return XCTFail("wrong error \(error)")
            }
            XCTAssertTrue(reason.contains("merge #0"), reason)
        }
        // The same file with the merged token present loads and encodes "ab" as one token.
        let good = try temporaryFile("tokenizer.json", """
            {"normalizer": {"type": "NFC"}, "pre_tokenizer": \(pre), "decoder": {"type": "ByteLevel"},
             "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}}
            """)
        let tokenizer = try QwenTokenizer(tokenizerJSON: good)
        XCTAssertEqual(tokenizer.encode("abba"), [2, 1, 0])
        XCTAssertEqual(tokenizer.vocabularySize, 3)
    }

    private let qwenPattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    private func jsonEscaped(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }

    private func temporaryFile(_ name: String, _ contents: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qwenvl-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent(name)
        try Data(contents.utf8).write(to: url)
        return url
    }
}
