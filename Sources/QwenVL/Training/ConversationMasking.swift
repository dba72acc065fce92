import Foundation

/// Supervision labels of a ChatML conversation: only what the assistant says is learned.
///
/// Every token is -100 except, in each assistant turn, the content tokens and the turn's closing `<|im_end|>`;
/// the `<|im_start|>assistant\n` header and the `\n` after `<|im_end|>` stay unsupervised (the Qwen / LLaMA-Factory
/// SFT convention, with HF's unshifted labels: `labels[i] == input_ids[i]` where supervised).
public enum ConversationMasking {
    /// Labels for `tokens`, a rendered conversation whose turns (in order, including a default system turn the
    /// template added) have `roles`.
    ///
    /// - Parameters:
    ///   - tokens: the whole conversation's ids: [n].
    ///   - roles: the role of each `<|im_start|>` in order.
    ///   - imStart / imEnd: the ids of `<|im_start|>` and `<|im_end|>`.
    ///   - assistantHeader: the ids of `assistant\n` (what follows `<|im_start|>` in an assistant header).
    ///   - assistantRole: the ids of `assistant` alone (used when the content's leading whitespace merges with the
    ///     header's newline into one token: supervision then starts at that token).
    /// - Returns: labels [n].
    public static func labels(tokens: [Int32], roles: [String], imStart: Int32, imEnd: Int32,
                              assistantHeader: [Int32], assistantRole: [Int32]) throws -> [Int32] {
        let starts = tokens.indices.filter { tokens[$0] == imStart }
        guard starts.count == roles.count else {
            throw QwenVLError("the rendered conversation has \(starts.count) <|im_start|> tokens for \(roles.count) turns (does the text contain chat-template special tokens?)")
        }
        var labels = [Int32](repeating: SFTExample.ignoredLabel, count: tokens.count)  // [n]
        for (turn, start) in starts.enumerated() where roles[turn] == "assistant" {
            var contentStart = start + 1
            if tokens[contentStart...].starts(with: assistantHeader) {
                contentStart += assistantHeader.count
            } else if tokens[contentStart...].starts(with: assistantRole) {
                contentStart += assistantRole.count
            } else {
                throw QwenVLError("assistant turn \(turn) does not start with the assistant header")
            }
            guard let end = tokens[contentStart...].firstIndex(of: imEnd) else {
                throw QwenVLError("assistant turn \(turn) has no closing <|im_end|>")
            }
            for i in contentStart...end { labels[i] = tokens[i] }
        }
        return labels
    }
}
