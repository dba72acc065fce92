import Foundation
import XCTest
import QwenVL
import QwenVLCore
import QwenVLTokenizer

/// Sequences decoded together in one batched step give the tokens HF transformers gives each of them alone.
///
/// (Every storage format's batched kernel is checked bit for bit against the one-vector kernel in
/// BatchedMatrixVectorTests; here the whole decoder runs, with the checkpoint's own bf16 weights.)
final class ContinuousBatchingTests: XCTestCase {
    /// Four text and four image conversations with their HF greedy references (16 new tokens each).
    func cases(_ model: QwenVLModel, checkpoint: String) async throws -> [(input: ModelInput, reference: [Int32])] {
        var out: [(ModelInput, [Int32])] = []
        let text = try Fixtures.caseMessages("text_cases.json")
        let textRefs = (try Fixtures.json(Fixtures.reference.appendingPathComponent("\(checkpoint)/text.json")) as! [String: Any])["cases"] as! [[String: Any]]
        for i in 0..<4 { out.append((try await model.prepare(messages: text[i]), Fixtures.ints(textRefs[i]["greedy_token_ids"]))) }
        let images = Fixtures.root.appendingPathComponent("images")
        let image = try Fixtures.caseMessages("image_cases.json", baseDirectory: images)
        let caseObjects = try JSONValue.parse(Array(Data(contentsOf: Fixtures.reference.appendingPathComponent("image_cases.json")))).arrayValue!
        let imageRefs = (try Fixtures.json(Fixtures.reference.appendingPathComponent("\(checkpoint)/image.json")) as! [String: Any])["cases"] as! [[String: Any]]
        for i in 0..<4 {
            let addVisionID = caseObjects[i]["add_vision_id"]?.boolValue ?? false
            out.append((try await model.prepare(messages: image[i], options: PrepareOptions(addVisionID: addVisionID)),
                        Fixtures.ints(imageRefs[i]["greedy_token_ids"])))
        }
        return out
    }

    /// Debug builds run the model slowly: 8 new tokens per sequence keep the tests short.
    func greedy(_ model: QwenVLModel) -> GenerationParameters {
        var p = GenerationParameters()
        p.maxTokens = 8
        p.eosTokenIDs = model.generationDefaults.eosTokenIDs
        return p
    }

    /// Runs every input to the end in one batch; input k joins after `joinStep[k]` decode steps.
    func runBatched(_ model: QwenVLModel, _ inputs: [ModelInput], parameters: [GenerationParameters], joinStep: [Int],
                    cancelAfter: [Int: Int] = [:]) throws -> [GenerationResult] {
        var runs: [SequenceRun] = []
        var order: [Int] = []            // input index of each run
        var step = 0
        var maxBatch = 0
        while order.count < inputs.count || runs.contains(where: { !$0.isFinished }) {
            for k in inputs.indices where joinStep[k] == step && !order.contains(k) {
                var run = try model.startRun(inputs[k], parameters: parameters[k], state: model.makeState())
                model.prefill(&run)
                runs.append(run)
                order.append(k)
            }
            for i in runs.indices where runs[i].canSample {
                _ = runs[i].sampleNext()
                if let limit = cancelAfter[order[i]], runs[i].generated.count == limit { runs[i].cancel() }
            }
            maxBatch = max(maxBatch, runs.filter(\.needsDecodeStep).count)
            model.decodeStep(&runs)
            step += 1
        }
        XCTAssertGreaterThanOrEqual(maxBatch, 5, "the batch never held most sequences at once")
        var results = [GenerationResult?](repeating: nil, count: inputs.count)
        for (i, k) in order.enumerated() { results[k] = runs[i].result }
        return results.map { $0! }
    }

    func testEightConcurrentSequencesMatchSoloAndTransformers() async throws {
        for name in ["tiny-bf16"] {
            let model = try Fixtures.model(name)
            let cases = try await cases(model, checkpoint: name)
            let p = greedy(model)
            var solo: [GenerationResult] = []
            for c in cases {
                var state = model.makeState()
                solo.append(try model.generate(c.input, parameters: p, state: &state))
                XCTAssertEqual(solo.last!.tokenIDs, Array(c.reference.prefix(solo.last!.tokenIDs.count)), "\(name) solo vs HF")
            }
            let batched = try runBatched(model, cases.map(\.input), parameters: Array(repeating: p, count: cases.count),
                                         joinStep: [0, 0, 0, 1, 2, 2, 5, 7])
            for k in cases.indices {
                XCTAssertEqual(batched[k].tokenIDs, solo[k].tokenIDs, "\(name) case \(k): batched vs solo")
                XCTAssertEqual(batched[k].text, solo[k].text, "\(name) case \(k)")
                XCTAssertEqual(batched[k].finishReason, solo[k].finishReason, "\(name) case \(k)")
                XCTAssertEqual(batched[k].promptLogits, solo[k].promptLogits, "\(name) case \(k)")
            }
        }
    }

    /// Prompts prefilled together in one pass (as the server does for requests arriving together) get the bits a
    /// lone prefill gives: prompt logits equal bit for bit, then the same greedy tokens from their caches.
    func testPromptsPrefilledTogetherMatchSoloPrefill() async throws {
        for name in ["tiny-bf16", "tiny-f32"] {
            let model = try Fixtures.model(name)
            let cases = try await cases(model, checkpoint: name)
            let p = greedy(model)
            var solo: [GenerationResult] = []
            for c in cases {
                var state = model.makeState()
                solo.append(try model.generate(c.input, parameters: p, state: &state))
            }
            var runs = try cases.map { try model.startRun($0.input, parameters: p, state: model.makeState()) }
            var largestGroup = 0, passes = 0
            while runs.contains(where: \.isPrefilling) {
                let group = QwenVLModel.prefillGroup(runs.map(model.nextPrefillChunk))
                largestGroup = max(largestGroup, group.count)
                model.prefill(&runs, members: group)
                passes += 1
            }
            XCTAssertGreaterThanOrEqual(largestGroup, 3, "\(name): no pass combined several prompts")
            XCTAssertLessThan(passes, cases.count, "\(name): every prompt was prefilled alone")
            while runs.contains(where: { !$0.isFinished }) {
                for i in runs.indices where runs[i].canSample { _ = runs[i].sampleNext() }
                model.decodeStep(&runs)
            }
            for k in cases.indices {
                XCTAssertEqual(runs[k].result.promptLogits, solo[k].promptLogits, "\(name) case \(k): prompt logits")
                XCTAssertEqual(runs[k].result.tokenIDs, solo[k].tokenIDs, "\(name) case \(k): greedy tokens")
                XCTAssertEqual(runs[k].result.tokenIDs, Array(cases[k].reference.prefix(runs[k].result.tokenIDs.count)), "\(name) case \(k) vs HF")
            }
        }
    }

    /// Which prefilling requests share a pass: the oldest, then later ones while their chunks fit in one chunk's
    /// rows.
    func testPrefillGroupsTakeTheOldestThenWhatFits() {
        XCTAssertEqual(QwenVLModel.prefillGroup([0, 100, 2, 300, 200, 1, 112]), [1, 2, 3, 5])
        XCTAssertEqual(QwenVLModel.prefillGroup([0, 2, 100, 0, 50]), [1, 2, 4])
        XCTAssertEqual(QwenVLModel.prefillGroup([512, 3, 3]), [0])
        XCTAssertEqual(QwenVLModel.prefillGroup([0, 0]), [])
        XCTAssertEqual(QwenVLModel.prefillGroup([3, 3, 3], rowLimit: 6), [0, 1])
    }

    func testSampledAndCancelledSequencesLeaveOthersUntouched() async throws {
        let model = try Fixtures.model("tiny-f32")
        let inputs = try await cases(model, checkpoint: "tiny-f32").map(\.input)
        var parameters = [GenerationParameters](repeating: greedy(model), count: inputs.count)
        for k in [1, 4, 6] {
            parameters[k].doSample = true
            parameters[k].temperature = 0.9
            parameters[k].topK = 40
            parameters[k].seed = UInt64(100 + k)
            parameters[k].repetitionPenalty = 1.2
        }
        let solo = try inputs.indices.map { k -> GenerationResult in
            var state = model.makeState()
            return try model.generate(inputs[k], parameters: parameters[k], state: &state)
        }
        // Sequence 2 is cancelled after 3 tokens, sequence 5 after 1: the rest continue unchanged.
        let batched = try runBatched(model, inputs, parameters: parameters, joinStep: [0, 0, 0, 0, 1, 1, 1, 2],
                                     cancelAfter: [2: 3, 5: 1])
        for k in inputs.indices {
            switch k {
            case 2, 5:
                let n = k == 2 ? 3 : 1
                XCTAssertEqual(batched[k].finishReason, .cancelled)
                XCTAssertEqual(batched[k].tokenIDs, Array(solo[k].tokenIDs.prefix(n)))
            default:
                XCTAssertEqual(batched[k].tokenIDs, solo[k].tokenIDs, "case \(k)")
            }
        }
    }
}
