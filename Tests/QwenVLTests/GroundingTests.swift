import Foundation
import XCTest
import QwenVL
import QwenVLMedia
import QwenVLTokenizer

/// Grounding markup (spec §9: `<|object_ref_start|>label<|object_ref_end|><|box_start|>(x1,y1),(x2,y2)<|box_end|>`,
/// coordinates normalized to [0,1000) of the whole image), box drawing, and the annotated PNG.
final class GroundingTests: XCTestCase {
    static let ref = "<|object_ref_start|>", refEnd = "<|object_ref_end|>"
    static let box = "<|box_start|>", boxEnd = "<|box_end|>", quad = "<|quad_start|>", quadEnd = "<|quad_end|>"

    static func labelled(_ label: String, _ body: String) -> String { ref + label + refEnd + box + body + boxEnd }

    // MARK: - Parser

    func testWellFormedBox() {
        let boxes = Grounding.parse(Self.labelled("the cat", "(120,340),(560,910)"))
        XCTAssertEqual(boxes, [GroundingBox(label: "the cat", kind: .box, points: [[120, 340], [560, 910]])])
    }

    func testSeveralBoxesAfterOneLabelAndSeveralLabels() {
        let text = "Here: " + Self.ref + " cars " + Self.refEnd + Self.box + "(1,2),(3,4)" + Self.boxEnd
            + Self.box + "(10,20),(30,40)" + Self.boxEnd + ", " + Self.box + "(5,6),(7,8)" + Self.boxEnd
            + " and " + Self.labelled("a dog", "(500,500),(999,999)") + "."
        XCTAssertEqual(Grounding.parse(text), [
            GroundingBox(label: "cars", kind: .box, points: [[1, 2], [3, 4]]),
            GroundingBox(label: "cars", kind: .box, points: [[10, 20], [30, 40]]),
            GroundingBox(label: "cars", kind: .box, points: [[5, 6], [7, 8]]),
            GroundingBox(label: "a dog", kind: .box, points: [[500, 500], [999, 999]]),
        ])
    }

    func testBoxesWithoutLabelAndLabelEndedByWords() {
        let text = Self.box + "(0,0),(1000,1000)" + Self.boxEnd + " then " + Self.labelled("x", "(1,1),(2,2)")
            + " more words " + Self.box + "(3,3),(4,4)" + Self.boxEnd + Self.ref + "  " + Self.refEnd
            + Self.box + "(5,5),(6,6)" + Self.boxEnd
        XCTAssertEqual(Grounding.parse(text).map(\.label), [nil, "x", nil, nil])
    }

    func testQuadKeepsPointOrder() {
        let text = Self.ref + "sign" + Self.refEnd + Self.quad + "(10,20),(300,25),(310,90),(5,80)" + Self.quadEnd
        XCTAssertEqual(Grounding.parse(text), [GroundingBox(label: "sign", kind: .quad, points: [[10, 20], [300, 25], [310, 90], [5, 80]])])
        XCTAssertTrue(Grounding.parse(Self.quad + "(1,2),(3,4)" + Self.quadEnd).isEmpty, "a quad needs 4 points")
    }

    func testWhitespaceNewlinesClampingAndOrdering() {
        let text = Self.ref + "\n  tree\t" + Self.refEnd + "\n" + Self.box + " ( 700 ,\n 900 ) ,\n( 100, 50 ) " + Self.boxEnd
            + Self.box + "(-5,+20)(1500,99999999999999999999999)" + Self.boxEnd
        XCTAssertEqual(Grounding.parse(text), [
            GroundingBox(label: "tree", kind: .box, points: [[100, 50], [700, 900]]),
            GroundingBox(label: "tree", kind: .box, points: [[0, 20], [1000, 1000]]),
        ])
    }

    func testMalformedPiecesAreSkipped() {
        let bad = [
            "(10,20),(200,300", "(10,20),200,300)", "(10.5,20),(200,300)", "(a,b),(c,d)", "(10,20)",
            "(1,2),(3,4),(5,6)", "(10 20),(200,300)", "", "   ", "(10,20),(200,300),", "[10,20,200,300]",
            "(10,20);(200,300)", "(1e3,2),(3,4)",
        ]
        let good = Self.labelled("ok", "(1,2),(3,4)")
        for body in bad {
            let text = Self.labelled("bad", body) + " " + good
            XCTAssertEqual(Grounding.parse(text), [GroundingBox(label: "ok", kind: .box, points: [[1, 2], [3, 4]])], body)
        }
        // Unterminated box or label followed by more markup; stray end markers.
        let text = Self.box + "(1,2),(3,4)" + Self.box + "(5,6),(7,8)" + Self.boxEnd + Self.boxEnd + Self.refEnd
            + Self.ref + "never closed" + Self.box + "(9,9),(10,10)" + Self.boxEnd + Self.quad + "(1,1),(2,2),(3,3),(4,4)" + Self.boxEnd
        XCTAssertEqual(Grounding.parse(text), [
            GroundingBox(label: nil, kind: .box, points: [[5, 6], [7, 8]]),
            GroundingBox(label: nil, kind: .box, points: [[9, 9], [10, 10]]),
        ])
    }

    func testTruncatedOutputYieldsTheCompleteBoxesOnly() {
        let full = "Found " + Self.labelled("a cat", "(12,34),(560,780)") + Self.box + "(600,100),(900,400)" + Self.boxEnd
            + " and " + Self.labelled("ü dog", "(1,2),(3,4)") + Self.quad + "(1,1),(9,1),(9,9),(1,9)" + Self.quadEnd + " done"
        let complete = Grounding.parse(full)
        XCTAssertEqual(complete.count, 4)
        let characters = Array(full)
        for n in 0...characters.count {
            let boxes = Grounding.parse(String(characters[0..<n]))
            XCTAssertEqual(boxes, Array(complete.prefix(boxes.count)), "prefix of \(n) characters")
        }
        XCTAssertEqual(Grounding.parse(String(full.prefix(full.count - 30))).count, 3)
    }

    func testRandomGarbageNeverCrashesAndKeepsInvariants() {
        let alphabet = [Self.ref, Self.refEnd, Self.box, Self.boxEnd, Self.quad, Self.quadEnd, "<|", "|>", "<|im_end|>",
                        "(", ")", ",", " ", "\n", "-", "+", ".", "0", "7", "999", "1000", "123456789012345678901234567890",
                        "a", "é", "🐈", "\u{301}", "<", "|", ">", "<|box_start", "object_ref_end|>", "(12,34)", "(560,780)",
                        Self.box + "(1,2),(3,4)" + Self.boxEnd, Self.labelled("x", "(9,8),(7,6)"),
                        Self.quad + "(1,2),(3,4),(5,6),(7,8)" + Self.quadEnd]
        var rng = SplitMix64(state: 42)
        var total = 0
        for _ in 0..<2000 {
            let count = Int(rng.next() % 40)
            let text = (0..<count).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }.joined()
            let boxes = Grounding.parse(text)
            _ = Grounding.plainText(text)
            total += boxes.count
            for b in boxes {
                XCTAssertEqual(b.points.count, b.kind == .box ? 2 : 4, text)
                XCTAssertTrue(b.points.allSatisfy { $0.count == 2 && $0.allSatisfy { (0...1000).contains($0) } }, text)
                if b.kind == .box { XCTAssertTrue(b.points[0][0] <= b.points[1][0] && b.points[0][1] <= b.points[1][1], text) }
                XCTAssertNotEqual(b.label, "", text)
            }
        }
        XCTAssertGreaterThan(total, 0, "the generator should produce some valid boxes")
        // Random bytes decoded as UTF-8 (replacement characters, controls).
        for _ in 0..<500 {
            let bytes = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            _ = Grounding.parse(String(decoding: bytes, as: UTF8.self))
        }
    }

    func testPlainText() {
        let text = Self.labelled("the cat", "(10,20),(200,300)") + "sleeps" + Self.box + "(5,5),(1,1)" + Self.boxEnd
            + Self.box + "(1,2" + "<|im_end|>"
        XCTAssertEqual(Grounding.plainText(text), "the cat [box (10,20),(200,300)] sleeps [box (1,1),(5,5)]")
        XCTAssertEqual(Grounding.plainText("no markup here"), "no markup here")
        XCTAssertEqual(Grounding.plainText(Self.quad + "(1,2),(3,4),(5,6),(7,8)" + Self.quadEnd + "."), "[quad (1,2),(3,4),(5,6),(7,8)].")
    }

    func testPixelPointsAndCodable() throws {
        let b = GroundingBox(label: "cat", kind: .box, points: [[100, 250], [1000, 500]])
        XCTAssertEqual(b.pixelPoints(imageWidth: 640, imageHeight: 480), [[64, 120], [640, 240]])
        let json = try JSONEncoder().encode(b)
        XCTAssertEqual(try JSONDecoder().decode(GroundingBox.self, from: json), b)
        let object = try JSONSerialization.jsonObject(with: json) as? [String: Any]
        XCTAssertEqual(object?["kind"] as? String, "box")
    }

    /// Token ids from HF `AutoTokenizer` (transformers 4.57.6, Tests/Fixtures/tiny-f32) for a grounded answer:
    /// decoding them with special tokens kept gives text the parser reads back.
    func testParsesHFTokenIDsDecodedWithSpecialTokens() throws {
        let ids: [Int32] = [151646, 1782, 2518, 1803, 151647, 151648, 7, 16, 15, 17, 11, 18, 23, 23, 23547, 20, 19, 16, 11, 22,
                            21, 21, 8, 151649, 323, 220, 151646, 64, 883, 151647, 151648, 7, 21, 15, 15, 11, 16, 17, 15,
                            23547, 22, 16, 17, 11, 24, 15, 20, 8, 151649, 151645]
        let tokenizer = try Fixtures.model("tiny-f32").tokenizer  // loaded once per test process
        let text = tokenizer.decode(ids, skipSpecialTokens: false)
        XCTAssertEqual(Grounding.parse(text), [
            GroundingBox(label: "the red car", kind: .box, points: [[102, 388], [541, 766]]),
            GroundingBox(label: "a man", kind: .box, points: [[600, 120], [712, 905]]),
        ])
        // HF's decode(skip_special_tokens=True) of the same ids, for contrast with the readable form.
        XCTAssertEqual(tokenizer.decode(ids, skipSpecialTokens: true), "the red car(102,388),(541,766) and a man(600,120),(712,905)")
        XCTAssertEqual(Grounding.plainText(text), "the red car [box (102,388),(541,766)] and a man [box (600,120),(712,905)]")
    }

    // MARK: - Annotation

    static let grey: [UInt8] = [128, 128, 128]  // the colour of `uniform`

    static func uniform(width: Int, height: Int) throws -> RGBImage {
        try RGBImage(width: width, height: height, pixels: [UInt8](repeating: 128, count: width * height * 3))
    }

    static func rgb(_ image: RGBImage, _ x: Int, _ y: Int) -> [UInt8] { let p = image[x, y]; return [p.r, p.g, p.b] }

    func testBoxEdgesLandWhereTheCoordinatesSayAfterPNGRoundTrip() throws {
        let image = try Self.uniform(width: 200, height: 100)
        let box = GroundingBox(label: nil, kind: .box, points: [[100, 200], [600, 800]])
        let drawn = Annotation.draw(boxes: [box], on: image, style: Annotation.Style(lineWidth: 2))
        // Read back through the PNG encoder and libpng.
        let annotated = try ImageDecoder().decode(PNGEncoder.encode(drawn))
        XCTAssertEqual(annotated, drawn)
        let red = [Annotation.palette[0].r, Annotation.palette[0].g, Annotation.palette[0].b]
        // x: 0.1·200 = 20, 0.6·200 = 120; y: 0.2·100 = 20, 0.8·100 = 80.
        for y in stride(from: 20, through: 80, by: 10) {
            XCTAssertEqual(Self.rgb(annotated, 20, y), red, "left edge y=\(y)")
            XCTAssertEqual(Self.rgb(annotated, 21, y), red, "left edge, 2nd pixel y=\(y)")
            XCTAssertEqual(Self.rgb(annotated, 120, y), red, "right edge y=\(y)")
            XCTAssertEqual(Self.rgb(annotated, 119, y), red, "right edge, 2nd pixel y=\(y)")
            XCTAssertEqual(Self.rgb(annotated, 19, y), Self.grey, "outside left y=\(y)")
            XCTAssertEqual(Self.rgb(annotated, 121, y), Self.grey, "outside right y=\(y)")
            XCTAssertEqual(Self.rgb(annotated, 22, y), y == 20 || y == 80 ? red : Self.grey, "inside left y=\(y)")
        }
        for x in stride(from: 20, through: 120, by: 20) {
            XCTAssertEqual(Self.rgb(annotated, x, 20), red, "top edge x=\(x)")
            XCTAssertEqual(Self.rgb(annotated, x, 80), red, "bottom edge x=\(x)")
            XCTAssertEqual(Self.rgb(annotated, x, 19), Self.grey, "above x=\(x)")
            XCTAssertEqual(Self.rgb(annotated, x, 81), Self.grey, "below x=\(x)")
        }
        XCTAssertEqual(Self.rgb(annotated, 70, 50), Self.grey, "centre")
        // Exactly the outline changed: perimeter rows/columns 2 px wide.
        let changed = (0..<100).reduce(0) { sum, y in sum + (0..<200).filter { Self.rgb(annotated, $0, y) != Self.grey }.count }
        XCTAssertEqual(changed, 101 * 61 - 97 * 57)
        XCTAssertEqual(image, try Self.uniform(width: 200, height: 100), "the input is not modified")
    }

    func testLabelsGetTagsAboveTheBoxAndDistinctColours() throws {
        let image = try Self.uniform(width: 400, height: 300)
        let boxes = [
            GroundingBox(label: "cat", kind: .box, points: [[250, 500], [500, 900]]),
            GroundingBox(label: "dog", kind: .box, points: [[600, 0], [900, 300]]),
            GroundingBox(label: "cat", kind: .box, points: [[50, 100], [150, 200]]),
        ]
        let colors = Annotation.colors(for: boxes)
        XCTAssertEqual(colors[0], colors[2])
        XCTAssertNotEqual(colors[0], colors[1])
        let drawn = Annotation.draw(boxes: boxes, on: image, style: Annotation.Style(lineWidth: 3, fontScale: 1))
        let cat = [colors[0].r, colors[0].g, colors[0].b], dog = [colors[1].r, colors[1].g, colors[1].b]
        // First box: left 100, top 150. Tag: 3 letters → 17 + 2 = 19 wide, 7 + 2 = 9 tall, rows 141…149.
        XCTAssertEqual(Self.rgb(drawn, 100, 141), cat, "tag corner")
        XCTAssertEqual(Self.rgb(drawn, 118, 149), cat, "tag far corner")
        XCTAssertEqual(Self.rgb(drawn, 119, 145), Self.grey, "right of the tag")
        XCTAssertEqual(Self.rgb(drawn, 100, 140), Self.grey, "above the tag")
        // White ink where 'c' has pixels: font pixel (1, 2) of 'c' → image (101 + 1, 142 + 2).
        XCTAssertTrue(BitmapFont.isSet("c", column: 1, row: 2))
        XCTAssertEqual(Self.rgb(drawn, 102, 144), [255, 255, 255])
        // The "dog" box touches the top: its tag goes inside, below the 3-px top outline (rows 3…11).
        XCTAssertEqual(Self.rgb(drawn, 240, 3), dog)
        XCTAssertEqual(Self.rgb(drawn, 240, 0), dog, "outline")
        XCTAssertTrue(BitmapFont.isSet("d", column: 4, row: 0))
        XCTAssertEqual(Self.rgb(drawn, 241 + 4, 4), [255, 255, 255], "ink of 'd'")
        // Unlabelled styles leave the tag area alone.
        let plain = Annotation.draw(boxes: boxes, on: image, style: Annotation.Style(lineWidth: 3, drawLabels: false))
        XCTAssertEqual(Self.rgb(plain, 100, 141), Self.grey)
    }

    func testQuadsDegenerateAndOddBoxesDrawWithoutTrapping() throws {
        let image = try Self.uniform(width: 50, height: 40)
        let quad = GroundingBox(label: "ÿ long label that does not fit", kind: .quad, points: [[100, 100], [900, 100], [900, 900], [100, 900]])
        let drawn = Annotation.draw(boxes: [quad], on: image, style: Annotation.Style(lineWidth: 1, drawLabels: false))
        let red = [Annotation.palette[0].r, Annotation.palette[0].g, Annotation.palette[0].b]
        XCTAssertEqual(Self.rgb(drawn, 5, 4), red, "corner (0.1·50, 0.1·40)")
        XCTAssertEqual(Self.rgb(drawn, 25, 4), red, "top edge")
        XCTAssertEqual(Self.rgb(drawn, 45, 20), red, "right edge")
        XCTAssertEqual(Self.rgb(drawn, 25, 20), Self.grey, "inside")
        // Odd shapes never trap: wrong point counts, huge values, a 1×1 image, labels wider than the image.
        let odd = [
            GroundingBox(label: "x", kind: .box, points: []),
            GroundingBox(label: "x", kind: .box, points: [[1]]),
            GroundingBox(label: "x", kind: .box, points: [[Int.max, Int.min], [Int.min, Int.max]]),
            GroundingBox(label: "x", kind: .quad, points: [[0, 0], [1000, 1000]]),
            GroundingBox(label: "😀😀😀😀😀😀😀😀", kind: .box, points: [[500, 500], [500, 500]]), quad,
        ]
        for size in [(1, 1), (3, 200), (300, 2)] {
            let canvas = try Self.uniform(width: size.0, height: size.1)
            for scale in [1, 3, 1_000_000] {
                let out = Annotation.draw(boxes: odd, on: canvas, style: Annotation.Style(lineWidth: 1_000_000, fontScale: scale))
                XCTAssertEqual(out.pixels.count, canvas.pixels.count)
            }
        }
    }

    // MARK: - CLI

    /// Runs the built `qwenvl` (next to the test bundle) and returns status, stdout, stderr.
    static func runCLI(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        var dir = Bundle.main.bundleURL
        var executable = dir.appendingPathComponent("qwenvl")
        for _ in 0..<3 where !FileManager.default.isExecutableFile(atPath: executable.path) {
            dir = dir.deletingLastPathComponent()
            executable = dir.appendingPathComponent("qwenvl")
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }

    func testGenerateAnnotateWritesThePNGAndJSONBoxes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qwenvl-annotate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.png")
        // No image: fails before the model is even loaded (the model path does not exist).
        let noImage = try Self.runCLI(["generate", "--model", dir.appendingPathComponent("missing").path, "--prompt", "x",
                                       "--annotate", out.path])
        XCTAssertNotEqual(noImage.status, 0)
        XCTAssertTrue(noImage.stderr.contains("--annotate needs an image"), noImage.stderr)
        // The random tiny checkpoint draws no boxes: the PNG is the original image, and --json lists no boxes.
        let photo = Fixtures.root.appendingPathComponent("images/photo.jpg")
        let r = try Self.runCLI(["generate", "--model", Fixtures.checkpoint("tiny-f32").path, "--prompt", "find the cat",
                                 "--image", photo.path, "--max-tokens", "2", "--temperature", "0", "--json", "--annotate", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try JSONSerialization.jsonObject(with: Data((r.stdout.split(separator: "\n").last ?? "").utf8)) as? [String: Any]
        XCTAssertEqual((object?["boxes"] as? [Any])?.count, 0)
        XCTAssertEqual(try ImageDecoder().decode(contentsOfFile: out.path), try ImageDecoder().decode(contentsOfFile: photo.path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("missing").path))
    }

    struct SplitMix64 {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}
