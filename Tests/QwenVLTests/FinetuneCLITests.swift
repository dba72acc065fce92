import Foundation
import XCTest
@testable import QwenVL
import QwenVLCore

/// `qwenvl finetune` on tiny-f32 with the LoRA fixture shard: PEFT output, per-epoch eval loss, exact resume, errors.
final class FinetuneCLITests: XCTestCase {
    func run(_ arguments: [String]) throws -> CLITests.Run {
        try CLITests.run(arguments)
    }

    func testFinetuneSavesResumesAndRejectsBadInput() throws {
        let fm = FileManager.default
        let root = fm.temporaryDirectory.appendingPathComponent("finetune-\(UUID().uuidString)")
        defer { try? fm.removeItem(at: root) }
        let data = root.appendingPathComponent("data")
        try fm.createDirectory(at: data, withIntermediateDirectories: true)
        try fm.copyItem(at: LoRAGradientTests.directory.appendingPathComponent("examples.safetensors"),
                        to: data.appendingPathComponent("shard-00000.safetensors"))
        let model = Fixtures.checkpoint("tiny-f32").path
        func finetune(_ output: String, _ extra: [String]) throws -> CLITests.Run {
            try run(["finetune", "--model", model, "--data", data.path, "--output", root.appendingPathComponent(output).path,
                     "--rank", "4", "--alpha", "8", "--dropout", "0.1", "--grad-accum", "2", "--lr", "1e-3", "--warmup-steps", "1",
                     "--seed", "5"] + extra)
        }
        // 2 epochs of 2 steps straight through, with eval after each epoch.
        let straight = try finetune("straight", ["--epochs", "2", "--eval-data", data.path])
        XCTAssertEqual(straight.status, 0, straight.stderr)
        XCTAssertEqual(straight.stdout.components(separatedBy: "eval loss").count - 1, 2, straight.stdout)
        let adapter = try LoRAAdapter.load(from: root.appendingPathComponent("straight"))
        XCTAssertEqual(adapter.rank, 4)
        XCTAssertEqual(adapter.pairs.count, 14)
        // The same run stopped after 2 steps and resumed gives the identical adapter.
        // A run stopped after 2 of the 4 steps (same schedule: --max-steps 2 would shorten the cosine, so the
        // interruption is a run of 4 steps whose state after step 2 is kept) and resumed.
        let interrupted = root.appendingPathComponent("interrupted")
        let stopped = try finetune("interrupted", ["--epochs", "2", "--stop-after", "2"])
        XCTAssertEqual(stopped.status, 0, stopped.stderr)
        let resumed = try finetune("interrupted", ["--epochs", "2", "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("resuming at step 2 of 4"), resumed.stdout)
        XCTAssertEqual(try LoRAAdapter.load(from: interrupted).pairs, adapter.pairs)

        // Bad input.
        let missing = try run(["finetune", "--model", model, "--data", root.appendingPathComponent("none").path, "--output", root.path])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("training data folder not found"), missing.stderr)
        let rank = try finetune("bad", ["--rank", "0"])
        XCTAssertNotEqual(rank.status, 0)
        XCTAssertTrue(rank.stderr.contains("--rank"), rank.stderr)
        let target = try finetune("bad", ["--targets", "q_proj,fc1"])
        XCTAssertNotEqual(target.status, 0)
        XCTAssertTrue(target.stderr.contains("unknown LoRA target 'fc1'"), target.stderr)
    }
}
