import Foundation
import XCTest
import QwenVL
import QwenVLCore

/// The sampler's distributions equal transformers' logits processors (spec §8).
final class SamplerTests: XCTestCase {
    func testDistributionsMatchTransformers() throws {
        let url = Fixtures.reference.appendingPathComponent("sampler_cases.json")
        try XCTSkipUnless(FileManager.default.fileExists(atPath: url.path), "sampler references not generated yet")
        let root = try Fixtures.json(url)
        let cases = (root as? [String: Any])?["cases"] as? [[String: Any]] ?? (root as? [[String: Any]] ?? [])
        XCTAssertGreaterThanOrEqual(cases.count, 12)
        for (index, c) in cases.enumerated() {
            let logits = try Self.logits(c, index: index)
            let history = Fixtures.ints(c["history"])
            let params = c["parameters"] as? [String: Any] ?? c
            var p = GenerationParameters()
            p.doSample = true
            p.temperature = Float(params["temperature"] as? Double ?? 1)
            p.topK = params["top_k"] as? Int ?? 0
            p.topP = Float(params["top_p"] as? Double ?? 1)
            p.minP = Float(params["min_p"] as? Double ?? 0)
            p.repetitionPenalty = Float(params["repetition_penalty"] as? Double ?? 1)
            let expected = c["expected"] as? [String: Any] ?? c
            let ids = Fixtures.ints(expected["ids"])
            let probs = (expected["probs"] as! [Any]).map { Float(($0 as! NSNumber).doubleValue) }
            let got = Sampler.distribution(logits, history: history, parameters: p).sorted { $0.id < $1.id }
            XCTAssertEqual(got.map(\.id), ids, "case \(index) surviving ids")
            if got.count == probs.count {
                for (g, e) in zip(got, probs) { XCTAssertEqual(g.prob, e, accuracy: 1e-5, "case \(index)") }
            }
            if let greedy = c["greedy"] as? Int ?? c["greedy_id"] as? Int {
                p.doSample = false
                var rng = SamplerRNG(seed: 0)
                XCTAssertEqual(Sampler.next(logits, history: history, parameters: p, rng: &rng), Int32(greedy), "case \(index) greedy")
            }
        }
    }

    static func logits(_ c: [String: Any], index: Int) throws -> [Float] {
        if let list = c["logits"] as? [Any] { return list.map { Float(($0 as! NSNumber).doubleValue) } }
        let (all, shape) = try NumpyFile.read(Fixtures.reference.appendingPathComponent("sampler_logits.npy"))
        let width = shape.last!
        return Array(all[(index * width)..<((index + 1) * width)])
    }

    func testSeededSamplingIsReproducibleAndFollowsTheDistribution() {
        let logits: [Float] = [0, 1, 2, 3]
        var p = GenerationParameters()
        p.doSample = true
        p.temperature = 1
        var a = SamplerRNG(seed: 7), b = SamplerRNG(seed: 7)
        let draws = (0..<4000).map { _ in Sampler.next(logits, history: [], parameters: p, rng: &a) }
        XCTAssertEqual(draws.prefix(50), (0..<50).map { _ in Sampler.next(logits, history: [], parameters: p, rng: &b) }[...])
        // softmax([0,1,2,3]) = [0.032, 0.087, 0.237, 0.644]
        let share = Float(draws.filter { $0 == 3 }.count) / 4000
        XCTAssertEqual(share, 0.644, accuracy: 0.03)
    }
}
