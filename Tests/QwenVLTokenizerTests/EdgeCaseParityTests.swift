import Foundation
import XCTest
import QwenVLTokenizer

/// Extra HF references (`Tests/Fixtures/tokenizer-extra/`, made by its `generate.py`): hand-picked and long
/// inputs, decoding of invalid UTF-8, and exhaustive per-scalar checks of the regex classes and NFC.
final class EdgeCaseParityTests: XCTestCase {
    func testEncodeEdgeCasesMatchHF() throws {
        let tokenizer = try Fixtures.tokenizer()
        let cases = try Fixtures.jsonLines(Fixtures.extra.appendingPathComponent("encode_cases.jsonl"))
        XCTAssertGreaterThan(cases.count, 50)
        for (index, entry) in cases.enumerated() {
            let text = try XCTUnwrap(entry["text"]?.stringValue)
            let expected = try Fixtures.ids(entry["ids"])
            XCTAssertEqual(tokenizer.encode(text), expected, "case \(index + 1) \(describe(text))")
        }
    }

    func testDecodeOfArbitraryIDsMatchesHF() throws {
        let tokenizer = try Fixtures.tokenizer()
        let cases = try Fixtures.jsonLines(Fixtures.extra.appendingPathComponent("decode_cases.jsonl"))
        XCTAssertGreaterThan(cases.count, 400)
        for (index, entry) in cases.enumerated() {
            let ids = try Fixtures.ids(entry["ids"])
            let plain = try XCTUnwrap(entry["plain"]?.stringValue)
            let skip = try XCTUnwrap(entry["skip_special"]?.stringValue)
            assertSameText(tokenizer.decode(ids), plain, "case \(index + 1) ids \(ids)")
            assertSameText(tokenizer.decode(ids, skipSpecialTokens: true), skip, "case \(index + 1) (skip) ids \(ids)")
            // Streaming gives the same text, whatever the byte boundaries.
            for skipSpecial in [false, true] {
                var stream = StreamingDecoder(tokenizer: tokenizer, skipSpecialTokens: skipSpecial)
                var text = ids.map { stream.push($0) }.joined()
                text += stream.finish()
                assertSameText(text, skipSpecial ? skip : plain, "streaming case \(index + 1) ids \(ids)")
            }
        }
    }

    func testStreamingHoldsIncompleteCharacters() throws {
        let tokenizer = try Fixtures.tokenizer()
        // "😀" is F0 9F 98 80; feed its bytes as four byte-level tokens.
        let byteIDs = try [0xF0, 0x9F, 0x98, 0x80].map { (b: UInt8) -> Int32 in
            let token = String(Character(Unicode.Scalar(byteLevelScalar(b))!))
            return try XCTUnwrap(tokenizer.id(of: token))
        }
        var stream = StreamingDecoder(tokenizer: tokenizer)
        XCTAssertEqual(stream.push(byteIDs[0]), "")
        XCTAssertEqual(stream.push(byteIDs[1]), "")
        XCTAssertEqual(stream.push(byteIDs[2]), "")
        XCTAssertTrue(stream.hasPendingBytes)
        XCTAssertEqual(stream.push(byteIDs[3]), "😀")
        XCTAssertEqual(stream.finish(), "")
        // A truncated character is flushed as one U+FFFD by finish().
        _ = stream.push(byteIDs[0])
        _ = stream.push(byteIDs[1])
        XCTAssertEqual(stream.finish(), "\u{FFFD}")
    }

    /// GPT-2 bytes_to_unicode, written out independently for the test.
    private func byteLevelScalar(_ b: UInt8) -> UInt32 {
        let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
        if printable { return UInt32(b) }
        var n: UInt32 = 0
        for x in 0..<Int(b) where !((0x21...0x7E).contains(x) || (0xA1...0xAC).contains(x) || (0xAE...0xFF).contains(x)) {
            n += 1
        }
        return 0x100 + n
    }

    func testScalarClassesMatchHFForEveryScalar() throws {
        let root = try Fixtures.json(Fixtures.extra.appendingPathComponent("scalar_classes.json"))
        var expected = [UInt8](repeating: ScalarClass.other.rawValue, count: 0x110000)
        for (name, cls) in [("letter", ScalarClass.letter), ("number", .number), ("whitespace", .space)] {
            for range in try XCTUnwrap(root[name]?.arrayValue) {
                let bounds = try XCTUnwrap(range.arrayValue)
                let lo = try XCTUnwrap(bounds.first?.intValue), hi = try XCTUnwrap(bounds.last?.intValue)
                for v in lo...hi { expected[v] = cls.rawValue }
            }
        }
        var mismatches: [String] = []
        for v in UInt32(0x80)..<0x110000 {
            guard let scalar = Unicode.Scalar(v) else { continue }
            var actual = ScalarClass.of(scalar)
            if actual == .newline { actual = .space }
            if actual.rawValue != expected[Int(v)] {
                mismatches.append(String(v, radix: 16))
            }
        }
        XCTAssertEqual(mismatches.count, 0, "scalars classified unlike HF: \(mismatches.prefix(40))")
        // ASCII, checked by hand against the regex.
        XCTAssertEqual(ScalarClass.of("a"), .letter)
        XCTAssertEqual(ScalarClass.of("7"), .number)
        XCTAssertEqual(ScalarClass.of(" "), .space)
        XCTAssertEqual(ScalarClass.of("\n"), .newline)
        XCTAssertEqual(ScalarClass.of("\r"), .newline)
        XCTAssertEqual(ScalarClass.of("_"), .other)
        XCTAssertEqual(ScalarClass.of("\u{1C}"), .other)
    }

    func testNFCMatchesHFForEveryScalarContext() throws {
        let cases = try Fixtures.jsonLines(Fixtures.extra.appendingPathComponent("nfc_cases.jsonl"))
        XCTAssertGreaterThan(cases.count, 20000)
        var failures = 0
        for entry in cases {
            let pair = try XCTUnwrap(entry.arrayValue)
            let input = try XCTUnwrap(pair[0].stringValue), expected = try XCTUnwrap(pair[1].stringValue)
            let actual = UnicodeNormalization.nfc(input)
            if Array(actual.utf8) != Array(expected.utf8) {
                failures += 1
                if failures <= 10 {
                    XCTFail("NFC \(input.unicodeScalars.map { String($0.value, radix: 16) }): expected "
                            + "\(expected.unicodeScalars.map { String($0.value, radix: 16) }), got "
                            + "\(actual.unicodeScalars.map { String($0.value, radix: 16) })")
                }
            }
        }
        XCTAssertEqual(failures, 0)
    }
}
