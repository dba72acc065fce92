import Foundation
import XCTest
import QwenVL
import QwenVLTokenizer

/// `qwenvl dataset`: SFT examples identical to the HF processor's (scripts/fixtures/dataset_references.py),
/// packing, shards, rejected rows and the command line.
final class DatasetTests: XCTestCase {
    static let folder = Fixtures.root.appendingPathComponent("dataset")

    static func reference() throws -> [[String: Any]] {
        let document = try Fixtures.json(folder.appendingPathComponent("reference.json")) as! [String: Any]
        return document["rows"] as! [[String: Any]]
    }

    /// Line `number` (1-based) of a fixture JSONL file.
    static func line(_ file: String, _ number: Int) throws -> String {
        let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
        return String(text.split(separator: "\n", omittingEmptySubsequences: false)[number - 1])
    }

    static func dataset(_ options: SFTDatasetOptions = SFTDatasetOptions()) throws -> SFTDataset {
        SFTDataset(model: try Fixtures.model("tiny-f32"), options: options)
    }

    static func grids(_ value: Any?) -> [VisionGrid] {
        (value as? [[Int]] ?? []).map { VisionGrid(t: $0[0], h: $0[1], w: $0[2]) }
    }

    /// Checks pixel rows against the reference summary: shape, every row's sum and sum of squares, sample rows.
    func assertPixels(_ pixels: [Float], _ summary: Any?, _ label: String) {
        guard let summary = summary as? [String: Any] else {
            XCTAssertTrue(pixels.isEmpty, "\(label): pixels where the reference has none")
            return
        }
        let shape = summary["shape"] as! [Int]
        XCTAssertEqual(shape[1], 1176, label)
        XCTAssertEqual(pixels.count, shape[0] * shape[1], "\(label): pixel row count")
        guard pixels.count == shape[0] * shape[1] else { return }
        let sums = summary["row_sums"] as! [Double], squares = summary["row_square_sums"] as! [Double]
        var worstSum = 0.0, worstSquare = 0.0
        for row in 0..<shape[0] {
            let values = pixels[(row * 1176)..<((row + 1) * 1176)].map(Double.init)
            worstSum = max(worstSum, abs(values.reduce(0, +) - sums[row]))
            worstSquare = max(worstSquare, abs(values.reduce(0) { $0 + $1 * $1 } - squares[row]))
        }
        XCTAssertLessThan(worstSum, 1e-3, "\(label): row sums")
        XCTAssertLessThan(worstSquare, 1e-3, "\(label): row square sums")
        for (key, value) in summary["rows"] as! [String: [Double]] {
            let row = Int(key)!
            let mine = pixels[(row * 1176)..<((row + 1) * 1176)]
            let worst = zip(mine, value).reduce(Float(0)) { max($0, abs($1.0 - Float($1.1))) }
            XCTAssertLessThanOrEqual(worst, 1e-6, "\(label): pixel row \(row)")
        }
    }

    /// Every valid fixture row (messages, ShareGPT, the accepted rows of the bad file) against the reference.
    func testEveryRowMatchesTheHFProcessor() async throws {
        let dataset = try Self.dataset()
        let rows = try Self.reference()
        XCTAssertEqual(rows.count, 14)
        var files: Set<String> = []
        for row in rows {
            let file = row["file"] as! String, number = row["line"] as! Int
            let label = "\(file):\(number)"
            files.insert(file)
            let example = try await dataset.example(line: try Self.line(file, number), baseDirectory: Self.folder)
            XCTAssertEqual(example.inputIDs, Fixtures.ints(row["input_ids"]), "\(label): input_ids")
            XCTAssertEqual(example.labels, Fixtures.ints(row["labels"]), "\(label): labels")
            let positions = row["position_ids"] as! [[Int]]
            XCTAssertEqual(example.positions, PositionIDs(t: positions[0], h: positions[1], w: positions[2]), "\(label): positions")
            XCTAssertEqual(example.sequenceStarts, [0])
            XCTAssertEqual(example.imageGrids, Self.grids(row["image_grid_thw"]), "\(label): image grids")
            XCTAssertEqual(example.videoGrids, Self.grids(row["video_grid_thw"]), "\(label): video grids")
            assertPixels(example.imagePixels, row["pixel_values"], "\(label) image")
            assertPixels(example.videoPixels, row["pixel_values_videos"], "\(label) video")
            XCTAssertGreaterThan(example.supervisedCount, 0, label)
        }
        XCTAssertEqual(files, ["messages.jsonl", "sharegpt.jsonl", "bad_rows.jsonl"])
    }

    /// The masking rule itself on one row: header and the newline after <|im_end|> unsupervised.
    func testLabelsCoverAssistantContentAndItsImEndOnly() async throws {
        let model = try Fixtures.model("tiny-f32")
        let example = try await Self.dataset().example(line: try Self.line("messages.jsonl", 1), baseDirectory: Self.folder)
        let imEnd = model.tokenizer.id(of: "<|im_end|>")!, imStart = model.tokenizer.id(of: "<|im_start|>")!
        let supervised = example.labels.indices.filter { example.labels[$0] != SFTExample.ignoredLabel }
        // Two assistant turns: each supervised run ends with <|im_end|> and is preceded by "assistant\n".
        var runs: [[Int]] = []
        for index in supervised {
            if let last = runs.last?.last, last + 1 == index { runs[runs.count - 1].append(index) } else { runs.append([index]) }
        }
        XCTAssertEqual(runs.count, 2)
        for run in runs {
            XCTAssertEqual(example.inputIDs[run.last!], imEnd)
            XCTAssertEqual(Array(example.inputIDs[(run[0] - 3)..<run[0]]), [imStart] + model.tokenizer.encode("assistant\n"))
            XCTAssertEqual(model.tokenizer.decode(run.dropLast().map { example.inputIDs[$0] }), runs.count == 2 && run == runs[0] ? "Lisbon." : "About 545,000 people live in the city proper.")
        }
    }

    func testPackingKeepsEveryExampleIntact() async throws {
        let dataset = try Self.dataset()
        let (examples, rejected, rows) = try await dataset.read(Self.folder.appendingPathComponent("messages.jsonl"))
        XCTAssertEqual(rows, 7)
        XCTAssertTrue(rejected.isEmpty, "\(rejected)")
        let capacity = 128
        let packed = try SequencePacker.pack(examples, capacity: capacity)
        XCTAssertLessThan(packed.count, examples.count)
        var next = 0
        for sequence in packed {
            XCTAssertLessThanOrEqual(sequence.count, capacity)
            let bounds = sequence.sequenceStarts.map(Int.init) + [sequence.count]
            var imageOffset = 0, videoOffset = 0, imageRows = 0, videoRows = 0
            for k in 0..<(bounds.count - 1) {
                let original = examples[next]
                next += 1
                let range = bounds[k]..<bounds[k + 1]
                XCTAssertEqual(Array(sequence.inputIDs[range]), original.inputIDs)
                XCTAssertEqual(Array(sequence.labels[range]), original.labels)
                XCTAssertEqual(PositionIDs(t: Array(sequence.positions.t[range]), h: Array(sequence.positions.h[range]),
                                           w: Array(sequence.positions.w[range])), original.positions)
                XCTAssertEqual(Array(sequence.imageGrids[imageOffset..<(imageOffset + original.imageGrids.count)]), original.imageGrids)
                XCTAssertEqual(Array(sequence.videoGrids[videoOffset..<(videoOffset + original.videoGrids.count)]), original.videoGrids)
                XCTAssertEqual(Array(sequence.imagePixels[imageRows..<(imageRows + original.imagePixels.count)]), original.imagePixels)
                XCTAssertEqual(Array(sequence.videoPixels[videoRows..<(videoRows + original.videoPixels.count)]), original.videoPixels)
                imageOffset += original.imageGrids.count
                videoOffset += original.videoGrids.count
                imageRows += original.imagePixels.count
                videoRows += original.videoPixels.count
            }
            XCTAssertEqual(imageOffset, sequence.imageGrids.count)
            XCTAssertEqual(videoRows, sequence.videoPixels.count)
        }
        XCTAssertEqual(next, examples.count)
        // Greedy: no sequence could have taken the next example.
        var index = 0
        for sequence in packed.dropLast() {
            index += sequence.sequenceStarts.count
            XCTAssertGreaterThan(sequence.count + examples[index].count, capacity)
        }
        // Too long for the capacity: a clear error, and --truncate semantics instead.
        XCTAssertThrowsError(try SequencePacker.pack(examples, capacity: 40)) { error in
            XCTAssertTrue("\(error)".contains("longer than --pack-to 40"), "\(error)")
        }
    }

    func testTruncationNeverSplitsAVisionBlock() async throws {
        let model = try Fixtures.model("tiny-f32")
        let full = try await Self.dataset().example(line: try Self.line("messages.jsonl", 5), baseDirectory: Self.folder)
        XCTAssertEqual(full.imageGrids.count, 2)
        let config = model.configuration
        let starts = full.inputIDs.indices.filter { full.inputIDs[$0] == config.visionStartTokenID }
        XCTAssertEqual(starts.count, 2)
        // A cut inside the second image drops it whole; the first stays with its pixel rows.
        let cut = SequencePacker.truncate(full, to: starts[1] + 3, visionStart: config.visionStartTokenID,
                                          imageToken: config.imageTokenID, videoToken: config.videoTokenID)
        XCTAssertEqual(cut.count, starts[1])
        XCTAssertEqual(cut.inputIDs, Array(full.inputIDs[..<starts[1]]))
        XCTAssertEqual(cut.positions.t, Array(full.positions.t[..<starts[1]]))
        XCTAssertEqual(cut.imageGrids, [full.imageGrids[0]])
        XCTAssertEqual(cut.imagePixels, Array(full.imagePixels[..<(full.imageGrids[0].patchCount * 1176)]))
        // Through the dataset: a row whose answer is cut away entirely is rejected, a shorter cut keeps labels.
        let strict = try Self.dataset(SFTDatasetOptions(packTo: 40))
        do {
            _ = try await strict.example(line: try Self.line("messages.jsonl", 5), baseDirectory: Self.folder)
            XCTFail("a 56-token example must not fit --pack-to 40")
        } catch {
            XCTAssertTrue("\(error)".contains("more than --pack-to 40"), "\(error)")
        }
        let truncating = try Self.dataset(SFTDatasetOptions(packTo: 40, truncate: true))
        do {
            _ = try await truncating.example(line: try Self.line("messages.jsonl", 5), baseDirectory: Self.folder)
            XCTFail("no supervised token within 40")
        } catch {
            XCTAssertTrue("\(error)".contains("no supervised token"), "\(error)")
        }
        let text = try await truncating.example(line: try Self.line("messages.jsonl", 1), baseDirectory: Self.folder)
        XCTAssertEqual(text.count, 40)
        let whole = try await Self.dataset().example(line: try Self.line("messages.jsonl", 1), baseDirectory: Self.folder)
        XCTAssertEqual(text.labels, Array(whole.labels[..<40]))
    }

    func testShardRoundTripAndErrors() async throws {
        let dataset = try Self.dataset()
        let (examples, _, _) = try await dataset.read(Self.folder.appendingPathComponent("sharegpt.jsonl"))
        XCTAssertEqual(examples.count, 5)
        let packed = try SequencePacker.pack(examples, capacity: 400)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qwenvl-shard-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for (name, list) in [("plain", examples), ("packed", packed), ("empty", [])] {
            let url = dir.appendingPathComponent("\(name).safetensors")
            try SFTShard.write(list, to: url)
            XCTAssertEqual(try SFTShard.read(url), list, name)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(),
                       ["empty.safetensors", "packed.safetensors", "plain.safetensors"], "no temporary file left")
        // Header layout as the safetensors crate writes it: 8-aligned header, tensors back to back.
        let bytes = try Data(contentsOf: dir.appendingPathComponent("plain.safetensors"))
        let headerLength = bytes.prefix(8).enumerated().reduce(0) { $0 | (Int($1.element) << (8 * $1.offset)) }
        XCTAssertEqual(headerLength % 8, 0)
        let header = try JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<(8 + headerLength))) as! [String: Any]
        XCTAssertEqual(header["__metadata__"] as? [String: String], ["format": "qwenvl-sft-1", "examples": "5"])
        let ids = header["000003.input_ids"] as! [String: Any]
        XCTAssertEqual(ids["dtype"] as? String, "I32")
        XCTAssertEqual(ids["shape"] as? [Int], [examples[3].count])
        XCTAssertEqual((header["000003.pixel_values_videos"] as! [String: Any])["shape"] as? [Int],
                       [examples[3].videoGrids[0].patchCount, 1176])
        XCTAssertNil(header["000003.pixel_values"])
        let end = header.values.compactMap { ($0 as? [String: Any])?["data_offsets"] as? [Int] }.map { $0[1] }.max()!
        XCTAssertEqual(8 + headerLength + end, bytes.count)

        // Bad files: each a clear message.
        let cases: [(String, Data, String)] = [
            ("short", Data([1, 2, 3]), "truncated"),
            ("json", Data([4, 0, 0, 0, 0, 0, 0, 0]) + Data("{{{{".utf8), "not valid JSON"),
            ("cut", bytes.prefix(bytes.count - 100), "outside"),
        ]
        for (name, data, expected) in cases {
            let url = dir.appendingPathComponent("\(name).bad")
            try data.write(to: url)
            XCTAssertThrowsError(try SFTShard.read(url), name) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(name): \(error)")
            }
        }
        // A safetensors file that is not a shard (a checkpoint).
        XCTAssertThrowsError(try SFTShard.read(Fixtures.checkpoint("tiny-f32").appendingPathComponent("model.safetensors"))) { error in
            XCTAssertTrue("\(error)".contains("not an SFT shard"), "\(error)")
        }
        // For scripts/check_sft_shard.py (run by scripts/test.sh): the packed shard and what it must hold.
        let check = Fixtures.root.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".build/sft-shard-check")
        try FileManager.default.createDirectory(at: check, withIntermediateDirectories: true)
        try SFTShard.write(packed, to: check.appendingPathComponent("shard.safetensors"))
        let expected: [[String: Any]] = packed.map { example in [
            "input_ids": example.inputIDs.map(Int.init), "labels": example.labels.map(Int.init),
            "position_ids": [example.positions.t, example.positions.h, example.positions.w],
            "sequence_starts": example.sequenceStarts.map(Int.init),
            "image_grid_thw": example.imageGrids.map { [$0.t, $0.h, $0.w] },
            "video_grid_thw": example.videoGrids.map { [$0.t, $0.h, $0.w] },
            "pixel_values_sum": example.imagePixels.reduce(0.0) { $0 + Double($1) },
            "pixel_values_videos_sum": example.videoPixels.reduce(0.0) { $0 + Double($1) },
        ] }
        try JSONSerialization.data(withJSONObject: expected).write(to: check.appendingPathComponent("expected.json"))
    }

    func testBadRowsAreRejectedWithLineAndReason() async throws {
        let expected = try Fixtures.json(Self.folder.appendingPathComponent("bad_rows.expected.json")) as! [String: Any]
        let (examples, rejected, rows) = try await Self.dataset().read(Self.folder.appendingPathComponent("bad_rows.jsonl"))
        XCTAssertEqual(rows, expected["rows"] as? Int)
        let reasons = expected["rejected"] as! [[String: Any]]
        XCTAssertEqual(rejected.map(\.line), reasons.map { $0["line"] as! Int })
        for (rejection, reason) in zip(rejected, reasons) {
            XCTAssertTrue(rejection.reason.contains(reason["reason"] as! String), "line \(rejection.line): '\(rejection.reason)' lacks '\(reason["reason"]!)'")
            XCTAssertTrue(rejection.description.hasPrefix("line \(rejection.line): "))
        }
        XCTAssertEqual(examples.count, (expected["valid_lines"] as! [Int]).count)
    }

    /// A byte order mark and CRLF line ends (Windows editors) do not break rows; line numbers count every line.
    func testByteOrderMarkAndCRLF() async throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("qwenvl-crlf-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: url) }
        let row = try Self.line("messages.jsonl", 1)
        try (Data([0xEF, 0xBB, 0xBF]) + Data("\(row)\r\n\r\n{oops\r\n\(row)\r\n".utf8)).write(to: url)
        let (examples, rejected, rows) = try await Self.dataset().read(url)
        XCTAssertEqual(rows, 3)
        XCTAssertEqual(rejected.map(\.line), [3])
        XCTAssertEqual(examples.count, 2)
        let reference = try Self.reference().first { ($0["file"] as! String) == "messages.jsonl" && ($0["line"] as! Int) == 1 }!
        XCTAssertEqual(examples.first?.inputIDs, Fixtures.ints(reference["input_ids"]))
    }

    func testShareGPTMarkersMustMatchTheMedia() throws {
        let dataset = try Self.dataset()
        let cases: [(String, String)] = [
            (#"{"conversations": [{"from": "human", "value": "<image>"}, {"from": "gpt", "value": "x"}], "images": ["../images/icon.png", "../images/alpha.png"]}"#,
             "2 images given but only 1 <image> marker"),
            (#"{"conversations": [{"from": "human", "value": "<video> and <video>"}, {"from": "gpt", "value": "x"}], "video": "../video/h264.mp4"}"#,
             "2 <video> markers but 1 video given"),
            (#"{"conversations": [{"from": "gpt", "value": "x"}], "image": "../images/icon.png"}"#, "no human turn"),
            (#"{"conversations": "hello"}"#, "\"conversations\" must be a list"),
            (#"{"messages": [{"role": "tool", "content": "42"}, {"role": "assistant", "content": "ok"}]}"#, "unknown role 'tool'"),
        ]
        for (line, reason) in cases {
            XCTAssertThrowsError(try dataset.conversation(line: line, baseDirectory: Self.folder)) { error in
                XCTAssertTrue("\(error)".contains(reason), "\(line): \(error)")
            }
        }
        // Markers split the text; media without markers go first in the first human turn.
        let messages = try dataset.conversation(line: try Self.line("sharegpt.jsonl", 3), baseDirectory: Self.folder)
        XCTAssertEqual(messages.map(\.role), ["system", "user", "assistant", "user", "assistant"])
        guard case .parts(let parts) = messages[3].content, parts.count == 3, case .text("Second: ") = parts[0],
              case .image(let image) = parts[1], case .text(" Which is bigger?") = parts[2] else {
            return XCTFail("unexpected parts \(messages[3].content)")
        }
        XCTAssertTrue(image.source.hasSuffix("images/alpha.png"))
        let leading = try dataset.conversation(line: try Self.line("sharegpt.jsonl", 2), baseDirectory: Self.folder)
        guard case .parts(let first) = leading[0].content, case .image = first[0], case .text("Describe it.") = first[1] else {
            return XCTFail("image not first in the first human turn: \(leading)")
        }
    }

    /// Runs the built `qwenvl` (as CLITests does).
    static func run(_ arguments: [String]) throws -> CLITests.Run {
        try CLITests.run(arguments)
    }

    func testDatasetCommand() throws {
        let cli = Self.self
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qwenvl-dataset-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = Fixtures.checkpoint("tiny-f32").path
        let bad = Self.folder.appendingPathComponent("bad_rows.jsonl").path
        let out = dir.appendingPathComponent("bad").path
        let run = try cli.run(["dataset", "--model", model, "--input", bad, "--output", out, "--shard-size", "1"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let expected = try Fixtures.json(Self.folder.appendingPathComponent("bad_rows.expected.json")) as! [String: Any]
        let reasons = expected["rejected"] as! [[String: Any]]
        let lines = run.stderr.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, reasons.count, run.stderr)
        for (line, reason) in zip(lines, reasons) {
            XCTAssertTrue(line.hasPrefix("line \(reason["line"]!): ") && line.contains(reason["reason"] as! String), line)
        }
        let summary = try Fixtures.json(URL(fileURLWithPath: out).appendingPathComponent("dataset.json")) as! [String: Any]
        XCTAssertEqual(summary["rows"] as? Int, expected["rows"] as? Int)
        XCTAssertEqual(summary["rejected"] as? Int, reasons.count)
        XCTAssertEqual(summary["examples"] as? Int, 2)
        let refs = try Self.reference().filter { ($0["file"] as! String) == "bad_rows.jsonl" }
        XCTAssertEqual(summary["tokens"] as? Int, refs.reduce(0) { $0 + ($1["input_ids"] as! [Any]).count })
        XCTAssertEqual(summary["supervised_tokens"] as? Int,
                       refs.reduce(0) { $0 + Fixtures.ints($1["labels"]).filter { $0 != -100 }.count })
        for (k, ref) in refs.enumerated() {
            let shard = try SFTShard.read(URL(fileURLWithPath: out).appendingPathComponent(String(format: "shard-%05d.safetensors", k)))
            XCTAssertEqual(shard.count, 1)
            XCTAssertEqual(shard.first?.inputIDs, Fixtures.ints(ref["input_ids"]))
            XCTAssertEqual(shard.first?.labels, Fixtures.ints(ref["labels"]))
        }
        // --strict: stops at the first bad row, exits non-zero and leaves no shard.
        let strictOut = dir.appendingPathComponent("strict").path
        let strict = try cli.run(["dataset", "--model", model, "--input", bad, "--output", strictOut, "--strict"])
        XCTAssertNotEqual(strict.status, 0)
        XCTAssertTrue(strict.stderr.contains("line 1: invalid JSON"), strict.stderr)
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: strictOut)) ?? [], [])
        // --strict after shards were already written: they are removed again.
        let lateBad = dir.appendingPathComponent("late-bad.jsonl")
        let textRows = try (1...3).map { try Self.line("messages.jsonl", $0) }.joined(separator: "\n")
        try Data((textRows + "\n{\"messages\": 3}\n").utf8).write(to: lateBad)
        let lateOut = dir.appendingPathComponent("late").path
        let late = try cli.run(["dataset", "--model", model, "--input", lateBad.path, "--output", lateOut, "--shard-size", "2", "--strict"])
        XCTAssertNotEqual(late.status, 0)
        XCTAssertTrue(late.stderr.contains("line 4: \"messages\" must be a list"), late.stderr)
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: lateOut)) ?? [], [])
        // Packing over the messages file: fewer sequences, same token totals as the reference.
        let packedOut = dir.appendingPathComponent("packed").path
        let messages = Self.folder.appendingPathComponent("messages.jsonl").path
        let packed = try cli.run(["dataset", "--model", model, "--input", messages, "--output", packedOut, "--pack-to", "128"])
        XCTAssertEqual(packed.status, 0, packed.stderr)
        let packedSummary = try Fixtures.json(URL(fileURLWithPath: packedOut).appendingPathComponent("dataset.json")) as! [String: Any]
        let messageRefs = try Self.reference().filter { ($0["file"] as! String) == "messages.jsonl" }
        XCTAssertEqual(packedSummary["conversations"] as? Int, 7)
        XCTAssertEqual(packedSummary["tokens"] as? Int, messageRefs.reduce(0) { $0 + ($1["input_ids"] as! [Any]).count })
        let sequences = try SFTShard.read(URL(fileURLWithPath: packedOut).appendingPathComponent("shard-00000.safetensors"))
        XCTAssertEqual(sequences.count, packedSummary["examples"] as? Int)
        XCTAssertEqual(sequences.flatMap(\.inputIDs), messageRefs.flatMap { Fixtures.ints($0["input_ids"]) })
        XCTAssertLessThan(sequences.count, 7)
        // No valid row at all: non-zero exit.
        let onlyBad = dir.appendingPathComponent("only-bad.jsonl")
        try Data("{\"messages\": []}\nnope\n".utf8).write(to: onlyBad)
        let none = try cli.run(["dataset", "--model", model, "--input", onlyBad.path, "--output", dir.appendingPathComponent("none").path])
        XCTAssertNotEqual(none.status, 0)
        XCTAssertTrue(none.stderr.contains("line 1: ") && none.stderr.contains("line 2: ") && none.stderr.contains("no valid row"), none.stderr)
    }
}
