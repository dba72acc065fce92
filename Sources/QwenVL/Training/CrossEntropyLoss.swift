import Foundation
import QwenVLCore

/// HF's causal-LM loss on the LM head: logits[:-1] against labels[1:], cross-entropy over positions whose label is
/// not -100, computed only at those positions and a chunk of rows at a time (a full [n, vocab] logits matrix for
/// 1,024 tokens of a 151,936-token vocabulary would be 600 MB).
enum CrossEntropyLoss {
    /// Supervised rows per chunk: [chunk, vocab] logits at a time (128 × 151,936 floats = 78 MB).
    static let chunkRows = 128

    /// (position, target) pairs: position i predicts labels[i + 1].
    static func targets(labels: [Int32], vocabSize: Int) throws -> [(position: Int, label: Int)] {
        var out: [(Int, Int)] = []
        for i in 0..<max(0, labels.count - 1) where labels[i + 1] != SFTExample.ignoredLabel {
            let label = Int(labels[i + 1])
            guard label >= 0, label < vocabSize else {
                throw QwenVLError("label \(label) at position \(i + 1) is outside the vocabulary (0..<\(vocabSize))")
            }
            out.append((i, label))
        }
        return out
    }

    /// Σ of the token losses over `targets` for final-normed `hidden: [n, H]`; when `dHidden: [n, H]` is given,
    /// adds `scale · ∂(Σ loss)/∂hidden` to it.
    static func loss(lm: LanguageModel, hidden: TrainingTensor, targets: [(position: Int, label: Int)], scale: Float,
                     dHidden: TrainingTensor?) -> Double {
        let h = lm.config.hiddenSize, vocab = lm.lmHead.rows
        var total = 0.0
        var start = 0
        while start < targets.count {
            let rows = min(chunkRows, targets.count - start)
            let x = TrainingTensor(rows * h)                                  // [rows, H]
            for r in 0..<rows { (x.pointer + r * h).update(from: hidden.pointer + targets[start + r].position * h, count: h) }
            let logits = TrainingTensor(rows * vocab)                         // [rows, vocab]
            lm.lmHead.apply(x.pointer, count: rows, into: logits.pointer)
            var losses = [Double](repeating: 0, count: rows)
            losses.withUnsafeMutableBufferPointer { lp in
                Parallel.forChunks(rows, minChunk: 1) { range in
                    for r in range {
                        let row = logits.pointer + r * vocab, label = targets[start + r].label
                        let picked = row[label]
                        // softmaxUnnormalized leaves exp(x − max) in the row and returns its sum.
                        var maximum = -Float.infinity
                        for j in 0..<vocab { maximum = max(maximum, row[j]) }
                        let sum = Activations.softmaxUnnormalized(row, count: vocab)
                        lp[r] = Double(logf(sum) + maximum - picked)
                        guard dHidden != nil else { continue }
                        // d loss / d logits = softmax − onehot, times the normalization.
                        let factor = scale / sum
                        for j in 0..<vocab { row[j] *= factor }
                        row[label] -= scale
                    }
                }
            }
            total += losses.reduce(0, +)
            if let dHidden {
                let dx = TrainingTensor(rows * h)                             // [rows, H]
                lm.lmHead.applyTransposed(logits.pointer, count: rows, accumulatingInto: dx.pointer)
                for r in 0..<rows {
                    TrainingTensor.add(dHidden.pointer + targets[start + r].position * h, dx.pointer + r * h, count: h)
                }
            }
            start += rows
        }
        return total
    }
}
