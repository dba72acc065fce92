import Foundation
import XCTest
import QwenVL
import QwenVLCore

/// The sampler's distributions equal transformers' logits processors (spec §8).
final class SamplerTests: XCTestCase {
    func testDistributionsMatchTransformers() throws {
        let root = try Fixtures.json(Fixtures.reference.appendingPathComponent("sampler_cases.json")) as! [String: Any]
        let cases = root["cases"] as! [[String: Any]]
        XCTAssertGreaterThanOrEqual(cases.count, 12)
        let (all, shape) = try NumpyFile.read(Fixtures.reference.appendingPathComponent("sampler_logits.npy"))
        let width = shape.last!
        for c in cases {
            let name = c["name"] as! String
            let row = c["logits_row"] as! Int
            let logits = Array(all[(row * width)..<((row + 1) * width)])
            let history = Fixtures.ints(c["history"])
            let params = c["params"] as! [String: Any]
            var p = GenerationParameters()
            p.doSample = true
            p.temperature = Float(params["temperature"] as? Double ?? 1)
            p.topK = params["top_k"] as? Int ?? 0
            p.topP = Float(params["top_p"] as? Double ?? 1)
            p.minP = Float(params["min_p"] as? Double ?? 0)
            p.repetitionPenalty = Float(params["repetition_penalty"] as? Double ?? 1)
            let ids = Fixtures.ints(c["ids"])
            let probs = (c["probs"] as! [Any]).map { Float(($0 as! NSNumber).doubleValue) }
            let got = Sampler.distribution(logits, history: history, parameters: p).sorted { $0.id < $1.id }
            XCTAssertEqual(got.map(\.id), ids, "\(name): surviving ids")
            if got.count == probs.count {
                let worst = zip(got, probs).map { abs($0.prob - $1) }.max() ?? 0
                XCTAssertLessThanOrEqual(worst, 1e-6, "\(name): probabilities")
            }
            if c["greedy_is_tie"] as? Bool != true {
                p.doSample = false
                var rng = SamplerRNG(seed: 0)
                XCTAssertEqual(Sampler.next(logits, history: history, parameters: p, rng: &rng), Int32(c["greedy_token_id"] as! Int), "\(name): greedy")
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
