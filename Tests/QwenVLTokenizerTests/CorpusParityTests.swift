import Foundation
import XCTest
import QwenVLTokenizer

/// The HF reference corpus (`Tests/Fixtures/reference/tokenizer_corpus*.jsonl`): ids, decode, streaming.
final class CorpusParityTests: XCTestCase {
    struct Corpus {
        var texts: [String]
        var ids: [[Int32]]
        var plain: [String]
        var skipSpecial: [String]
    }

    static func loadCorpus() throws -> Corpus {
        let texts = try Fixtures.jsonLines(Fixtures.reference.appendingPathComponent("tokenizer_corpus.jsonl"))
        let ids = try Fixtures.jsonLines(Fixtures.reference.appendingPathComponent("tokenizer_corpus.ids.jsonl"))
        let decoded = try Fixtures.jsonLines(Fixtures.reference.appendingPathComponent("tokenizer_corpus.decoded.jsonl"))
        XCTAssertEqual(texts.count, ids.count)
        XCTAssertEqual(texts.count, decoded.count)
        return Corpus(
            texts: try texts.map { try XCTUnwrap($0.stringValue) },
            ids: try ids.map { try Fixtures.ids($0) },
            plain: try decoded.map { try XCTUnwrap($0["plain"]?.stringValue) },
            skipSpecial: try decoded.map { try XCTUnwrap($0["skip_special"]?.stringValue) })
    }

    func testCorpusIsLargeEnough() throws {
        let corpus = try Self.loadCorpus()
        XCTAssertGreaterThanOrEqual(corpus.texts.count, 1000)
    }

    func testEncodeMatchesHFOnEveryLine() throws {
        let tokenizer = try Fixtures.tokenizer()
        let corpus = try Self.loadCorpus()
        var mismatches = 0
        for (line, text) in corpus.texts.enumerated() {
            let ids = tokenizer.encode(text)
            if ids != corpus.ids[line] {
                mismatches += 1
                if mismatches <= 10 {
                    XCTFail("line \(line + 1) \(describe(text)):\n  HF:   \(corpus.ids[line])\n  ours: \(ids)")
                }
            }
        }
        XCTAssertEqual(mismatches, 0, "\(mismatches) of \(corpus.texts.count) corpus lines differ from HF")
    }

    /// The tokenizer is shared across threads (its word cache is lock-protected): results must not change.
    func testConcurrentEncodingMatchesHF() throws {
        let tokenizer = try Fixtures.tokenizer()
        let corpus = try Self.loadCorpus()
        let workers = 4
        let failures = LockedCounter()
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            // Each worker walks the corpus from a different offset so cache inserts and hits interleave.
            for step in 0..<corpus.texts.count {
                let line = (step + worker * corpus.texts.count / workers) % corpus.texts.count
                if tokenizer.encode(corpus.texts[line]) != corpus.ids[line] { failures.increment() }
            }
        }
        XCTAssertEqual(failures.value, 0)
    }

    func testDecodeMatchesHFOnEveryLine() throws {
        let tokenizer = try Fixtures.tokenizer()
        let corpus = try Self.loadCorpus()
        for (line, ids) in corpus.ids.enumerated() {
            assertSameText(tokenizer.decode(ids), corpus.plain[line], "decode, line \(line + 1)")
            assertSameText(tokenizer.decode(ids, skipSpecialTokens: true), corpus.skipSpecial[line],
                           "decode(skipSpecialTokens), line \(line + 1)")
        }
    }

    func testStreamingDecodeEqualsDecodeOnEveryLine() throws {
        let tokenizer = try Fixtures.tokenizer()
        let corpus = try Self.loadCorpus()
        for (line, ids) in corpus.ids.enumerated() {
            for skip in [false, true] {
                var stream = StreamingDecoder(tokenizer: tokenizer, skipSpecialTokens: skip)
                var text = ""
                for id in ids {
                    let chunk = stream.push(id)
                    // Never half a character: every chunk is valid UTF-8 without replacement characters
                    // (the corpus text itself is valid).
                    XCTAssertFalse(chunk.unicodeScalars.contains("\u{FFFD}")
                                   && !corpus.plain[line].unicodeScalars.contains("\u{FFFD}"),
                                   "line \(line + 1): chunk with U+FFFD")
                    text += chunk
                }
                text += stream.finish()
                assertSameText(text, skip ? corpus.skipSpecial[line] : corpus.plain[line],
                               "streaming (skip: \(skip)), line \(line + 1)")
            }
        }
    }
}

/// A thread-safe counter for concurrent tests.
final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
