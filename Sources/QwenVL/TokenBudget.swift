import Foundation

/// Keeps a constrained output completable within the token limit: near `max_tokens` the output is steered to its
/// shortest valid completion, so a constrained answer ends valid instead of being cut mid-value.
///
/// A model can keep a JSON string open for ever (random weights repeat one token; real ones ramble). Once the tokens
/// left, minus one for the end token, come within ``margin`` of the tokens the shortest completion still needs (its
/// bytes cut greedily into the longest tokens), each step allows only the longest token that the completion begins
/// with, then the end token. The shortest completion is a breadth-first search over the automaton's bytes
/// (``JSONGrammarState/shortestCompletion(limit:)``), run only near the limit and every ``recheckInterval`` steps.
struct TokenBudget: Sendable {
    /// Slack (tokens) kept between the tokens left and the shortest completion before steering starts: one token can
    /// lengthen the completion (opening a string, an object with required keys) while the check is not run.
    static let margin = 32
    /// Steps between checks while far from the limit.
    static let recheckInterval = 16
    /// States the breadth-first search may visit before the greedy search takes over (bounds its cost to a few
    /// milliseconds: inside free-form JSON values every byte opens another kind of value).
    static let searchLimit = 4_000

    /// Tokens of the shortest completion when last computed (nil: not yet).
    var knownLength: Int?
    var stepsSinceCheck = 0

    /// What the next step must be, given the automaton and the tokens still allowed (this one included).
    enum Steering: Equatable {
        /// No restriction beyond the grammar.
        case free
        /// Only this token (the longest one the shortest completion begins with).
        case token(Int32)
        /// The output is complete: only an end token.
        case end
    }

    /// Decides the step; `remaining` counts the tokens that may still be generated, this one included.
    mutating func steer(_ state: JSONGrammarState, remaining: Int, vocabulary: TokenVocabulary) -> Steering {
        let room = remaining - 1                         // the end token needs the last one
        stepsSinceCheck += 1
        // Checked every step once the room is within twice the known completion plus slack: one token can lengthen
        // the completion by a few tokens (`[{"` opens three values), so a stale figure must not be trusted for long.
        let near = knownLength.map { room <= 2 * $0 + 2 * Self.margin } ?? true
        guard near || stepsSinceCheck >= Self.recheckInterval else { return .free }
        stepsSinceCheck = 0
        guard let completion = state.shortestCompletion(limit: max(room, 0) + Self.margin) else {
            knownLength = room                           // nothing fits (or the search gave up): check each step
            return .free
        }
        guard let tokens = vocabulary.greedyTokenCount(completion) else { return .free }
        knownLength = tokens
        guard tokens + Self.margin >= room else { return .free }
        guard let (id, _) = vocabulary.longestToken(prefixing: completion[...]) else { return .end }
        return .token(id)
    }

    /// The bytes any rule can need: structure, digits, a letter for string content, and every literal's bytes.
    static func alphabet(of nodes: [GrammarNode]) -> [UInt8] {
        var set = Set(Array(#""{}[],:-0123456789.a"#.utf8))
        for node in nodes {
            switch node {
            case .literal(let bytes): set.formUnion(bytes)
            case .object(let properties): for p in properties { set.formUnion(p.key) }
            case .repetition(_, let separator, _, _): set.formUnion(separator)
            default: break
            }
        }
        return set.sorted()
    }
}

extension JSONGrammarState {
    /// The shortest bytes that make the output complete (empty when it already is), or a short one when the
    /// breadth-first search visits more than ``TokenBudget/searchLimit`` states; nil when none is found within `limit`.
    func shortestCompletion(limit: Int) -> [UInt8]? {
        if isComplete { return [] }
        if let found = breadthFirstCompletion(limit: limit) { return found }
        return greedyCompletion(limit: limit)
    }

    /// Closing bytes first: the order the greedy search tries bytes in.
    static let closingOrder = Array(#""}]0:,a{["#.utf8)

    /// A completion found by always taking the first byte (closing ones first) that leads to a live, unseen state; not
    /// always the shortest, but found in `limit` × alphabet steps where the breadth-first search gives up.
    func greedyCompletion(limit: Int) -> [UInt8]? {
        let order = Self.closingOrder + grammar.completionAlphabet.filter { !Self.closingOrder.contains($0) }
        var state = self, path: [UInt8] = []
        var seen: Set<[GrammarStack]> = [stacks]
        while path.count < limit {
            var moved = false
            for byte in order {
                var s = state
                s.advance(byte)
                guard !s.isDead, seen.insert(s.stacks).inserted else { continue }
                path.append(byte)
                if s.isComplete { return path }
                state = s
                moved = true
                break
            }
            if !moved { return nil }
        }
        return nil
    }

    /// The shortest completion by breadth-first search, nil past `limit` bytes or ``TokenBudget/searchLimit`` states.
    func breadthFirstCompletion(limit: Int) -> [UInt8]? {
        var frontier: [(JSONGrammarState, [UInt8])] = [(self, [])]
        var seen: Set<[GrammarStack]> = [stacks]
        for _ in 0..<limit {
            var next: [(JSONGrammarState, [UInt8])] = []
            for (state, path) in frontier {
                for byte in grammar.completionAlphabet {
                    var s = state
                    s.advance(byte)
                    guard !s.isDead, seen.insert(s.stacks).inserted else { continue }
                    if s.isComplete { return path + [byte] }
                    next.append((s, path + [byte]))
                }
                if seen.count > TokenBudget.searchLimit { return nil }
            }
            if next.isEmpty { return nil }
            frontier = next
        }
        return nil
    }
}
