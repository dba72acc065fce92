import Foundation

/// Where one rule stands in its match: the rule and up to three counters whose meaning depends on its kind.
///
/// | rule | `phase` | `a` | `b` | `c` |
/// |---|---|---|---|---|
/// | literal | – | bytes matched | | |
/// | string | 0 before `"`, 1 content, 2 after `\` | characters | UTF-8 state (``Utf8Step``) | |
/// | number | 0 start, 1 after `-`, 2 after leading 0, 3 integer digits, 4 after `.`, 5 fraction digits | integer digits | fraction digits | |
/// | object | see ``JSONGrammar/stepObject`` | next property index | property being keyed | key bytes matched |
/// | free object | see ``JSONGrammar/stepFreeObject`` | members | | |
/// | array | 0 before `[`, 1 after `[`, 2 in item, 3 after item, 4 after `,`, 5 after `, ` | items | | |
/// | repetition | 1 in item, 2 after item, 3 in separator | items | | separator bytes matched |
/// | sequence | 1 in child | child index | | |
struct GrammarFrame: Hashable, Sendable {
    var node: Int32
    var phase: Int32 = 0
    var a: Int32 = 0
    var b: Int32 = 0
    var c: Int32 = 0
}

/// One deterministic parse: the frames of the open rules, innermost last. Empty: the root value is complete.
typealias GrammarStack = [GrammarFrame]

/// The automaton's state between bytes: every parse still alive (`anyOf` and optional parts fork parses).
struct JSONGrammarState: Sendable {
    let grammar: JSONGrammar
    /// The live parses, without duplicates.
    private(set) var stacks: [GrammarStack]

    init(grammar: JSONGrammar) {
        self.grammar = grammar
        var start: [GrammarStack] = []
        grammar.enter(grammar.root, onto: [], &start)
        stacks = start
    }

    /// Consumes one byte; parses that reject it die.
    mutating func advance(_ byte: UInt8) {
        var next: [GrammarStack] = []
        for stack in stacks { grammar.step(stack, byte, &next) }
        stacks = next.count > 1 ? JSONGrammar.unique(next) : next
    }

    /// No parse is alive: the bytes so far cannot begin a valid output.
    var isDead: Bool { stacks.isEmpty }

    /// The bytes so far form a complete valid output.
    var isComplete: Bool { stacks.contains { grammar.canFinish($0) } }
}

/// UTF-8 validation inside strings: the state after a lead byte says how many continuation bytes remain and
/// which range the next one must fall in (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF).
enum Utf8Step {
    /// State 0: no pending bytes. Returns the state after `byte` or nil when invalid.
    @inline(__always) static func next(_ state: Int32, _ byte: UInt8) -> Int32? {
        switch state {
        case 1: return (0x80...0xBF).contains(byte) ? 0 : nil
        case 2: return (0x80...0xBF).contains(byte) ? 1 : nil
        case 3: return (0xA0...0xBF).contains(byte) ? 1 : nil
        case 4: return (0x80...0x9F).contains(byte) ? 1 : nil
        case 5: return (0x80...0xBF).contains(byte) ? 2 : nil
        case 6: return (0x90...0xBF).contains(byte) ? 2 : nil
        case 7: return (0x80...0x8F).contains(byte) ? 2 : nil
        default: return nil
        }
    }

    /// The state after a lead byte (≥ 0x80), or nil when it cannot start a character.
    @inline(__always) static func lead(_ byte: UInt8) -> Int32? {
        switch byte {
        case 0xC2...0xDF: return 1
        case 0xE0: return 3
        case 0xE1...0xEC, 0xEE...0xEF: return 2
        case 0xED: return 4
        case 0xF0: return 6
        case 0xF1...0xF3: return 5
        case 0xF4: return 7
        default: return nil
        }
    }
}

/// What a string's content does with one byte.
enum StringStep: Equatable {
    /// The closing quote: the string ends.
    case close
    /// Content: the new (characters, UTF-8 state, phase).
    case content(Int32, Int32, Int32)
    case reject
}

extension JSONGrammar {
    /// Bounds per number rule (from ``ResponseConstraint/Limits``).
    static let maxIntegerDigits = Int32(ResponseConstraint.Limits.maxIntegerDigits)
    static let maxFractionDigits = Int32(ResponseConstraint.Limits.maxFractionDigits)

    static func unique(_ stacks: [GrammarStack]) -> [GrammarStack] {
        var seen = Set<GrammarStack>()
        return stacks.filter { seen.insert($0).inserted }
    }

    /// Pushes the frames that start matching `node` on `stack` (no byte consumed; `anyOf` forks).
    func enter(_ node: Int32, onto stack: GrammarStack, _ out: inout [GrammarStack]) {
        switch nodes[Int(node)] {
        case .anyOf(let choices):
            for choice in choices { enter(choice, onto: stack, &out) }
        case .sequence(let children):
            guard let first = children.first else { return complete(stack, &out) }
            var s = stack
            s.append(GrammarFrame(node: node, phase: 1))
            enter(first, onto: s, &out)
        case .repetition(let item, _, let min, _):
            var s = stack
            s.append(GrammarFrame(node: node, phase: 1))
            if min == 0 {          // zero items: the repetition may end at once
                var ended = stack
                ended.append(GrammarFrame(node: node, phase: 2))
                out.append(ended)
            }
            enter(item, onto: s, &out)
        case .literal(let bytes):
            if bytes.isEmpty { return complete(stack, &out) }
            var s = stack
            s.append(GrammarFrame(node: node))
            out.append(s)
        default:
            var s = stack
            s.append(GrammarFrame(node: node))
            out.append(s)
        }
    }

    /// The top frame's rule has just matched completely and was popped: its parent (now on top) moves on.
    func complete(_ stack: GrammarStack, _ out: inout [GrammarStack]) {
        guard var frame = stack.last else { return out.append(stack) }     // root value complete
        var s = stack
        s.removeLast()
        switch nodes[Int(frame.node)] {
        case .sequence(let children):
            frame.a += 1
            if Int(frame.a) == children.count { return complete(s, &out) }
            s.append(frame)
            enter(children[Int(frame.a)], onto: s, &out)
        case .repetition(_, _, _, let max):
            frame.a += 1
            if frame.a == max { return complete(s, &out) }
            frame.phase = 2
            s.append(frame)
            out.append(s)
        case .object:
            frame.phase = 9
            s.append(frame)
            out.append(s)
        case .freeObject:
            if frame.phase == 4 { frame.phase = 5 } else { frame.phase = 9; frame.a += 1 }
            s.append(frame)
            out.append(s)
        case .array:
            frame.a += 1
            frame.phase = 3
            s.append(frame)
            out.append(s)
        default:
            return                                                         // leaves have no children
        }
    }

    /// Whether the output may end here (lazy rules — numbers, repetitions — end on end of input).
    func canFinish(_ stack: GrammarStack) -> Bool {
        guard let frame = stack.last else { return true }
        if endsLazily(frame) {
            var ended: [GrammarStack] = []
            complete(Array(stack.dropLast()), &ended)
            return ended.contains { canFinish($0) }
        }
        return false
    }

    /// Whether a frame may end without a closing byte of its own (a number with digits, a repetition with
    /// enough items).
    func endsLazily(_ frame: GrammarFrame) -> Bool {
        switch nodes[Int(frame.node)] {
        case .number: return frame.phase == 2 || frame.phase == 3 || frame.phase == 5
        case .repetition(_, _, let min, _): return frame.phase == 2 && frame.a >= min
        default: return false
        }
    }

    /// One string content byte (phases 1 and 2) for a string rule `minLength…maxLength`, `count` characters so far.
    @inline(__always) static func stringStep(phase: Int32, count: Int32, utf8: Int32, byte: UInt8,
                                             minLength: Int32, maxLength: Int32) -> StringStep {
        if phase == 2 {
            switch byte {
            case 0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74: return .content(count, 0, 1)   // " \ / b f n r t
            default: return .reject
            }
        }
        if utf8 != 0 {
            guard let next = Utf8Step.next(utf8, byte) else { return .reject }
            return .content(count, next, 1)
        }
        if byte == 0x22 { return count >= minLength ? .close : .reject }
        if count >= maxLength || byte < 0x20 { return .reject }
        if byte == 0x5C { return .content(count + 1, 0, 2) }
        if byte < 0x80 { return .content(count + 1, 0, 1) }
        guard let state = Utf8Step.lead(byte) else { return .reject }
        return .content(count + 1, state, 1)
    }

    /// Consumes `byte` on the top frame of `stack`, appending every resulting parse to `out`.
    func step(_ stack: GrammarStack, _ byte: UInt8, _ out: inout [GrammarStack]) {
        guard var frame = stack.last else { return }                       // complete: nothing more
        var s = stack
        s.removeLast()
        switch nodes[Int(frame.node)] {
        case .literal(let bytes):
            guard bytes[Int(frame.a)] == byte else { return }
            frame.a += 1
            if Int(frame.a) == bytes.count { return complete(s, &out) }
            s.append(frame)
            out.append(s)
        case .string(let minLength, let maxLength):
            if frame.phase == 0 {
                guard byte == 0x22 else { return }
                frame.phase = 1
                s.append(frame)
                return out.append(s)
            }
            switch Self.stringStep(phase: frame.phase, count: frame.a, utf8: frame.b, byte: byte,
                                   minLength: minLength, maxLength: maxLength) {
            case .close: complete(s, &out)
            case .content(let count, let utf8, let phase):
                frame.a = count; frame.b = utf8; frame.phase = phase
                s.append(frame)
                out.append(s)
            case .reject: return
            }
        case .number(let integer):
            stepNumber(frame, s, integer: integer, byte, &out)
        case .sequence, .anyOf:
            return                                                         // never on top: a child always is
        case .object(let properties):
            stepObject(frame, s, properties, byte, &out)
        case .freeObject(let key, let value, let maxMembers):
            stepFreeObject(frame, s, key: key, value: value, maxMembers: maxMembers, byte, &out)
        case .array(let item, let minItems, let maxItems):
            switch frame.phase {
            case 0:
                guard byte == 0x5B else { return }                         // [
                frame.phase = 1
                s.append(frame); out.append(s)
            case 1:
                if byte == 0x5D && minItems == 0 { return complete(s, &out) }   // ]
                enterThenStep(item, parent: frame, phase: 2, s, byte, &out)
            case 3:
                if byte == 0x2C && frame.a < maxItems { frame.phase = 4; s.append(frame); return out.append(s) }
                if byte == 0x5D && frame.a >= minItems { return complete(s, &out) }
            case 4:
                if byte == 0x20 { frame.phase = 5; s.append(frame); return out.append(s) }
                enterThenStep(item, parent: frame, phase: 2, s, byte, &out)
            case 5:
                enterThenStep(item, parent: frame, phase: 2, s, byte, &out)
            default: return
            }
        case .repetition(let item, let separator, let min, _):
            switch frame.phase {
            case 2:
                if byte == separator[0] && frame.a > 0 {
                    if separator.count == 1 {
                        frame.phase = 1
                        s.append(frame)
                        enter(item, onto: s, &out)
                    } else {
                        var t = s
                        var f = frame
                        f.phase = 3; f.c = 1
                        t.append(f)
                        out.append(t)
                    }
                }
                if frame.a >= min { endThenStep(s, byte, &out) }
            case 3:
                guard separator[Int(frame.c)] == byte else { return }
                frame.c += 1
                if Int(frame.c) == separator.count {
                    frame.phase = 1
                    s.append(frame)
                    enter(item, onto: s, &out)
                } else {
                    s.append(frame); out.append(s)
                }
            default: return
            }
        }
    }

    /// Sets the parent's phase, enters `child` above it and feeds it `byte`.
    @inline(__always) func enterThenStep(_ child: Int32, parent: GrammarFrame, phase: Int32, _ s: GrammarStack,
                                         _ byte: UInt8, _ out: inout [GrammarStack]) {
        var p = parent
        p.phase = phase
        var t = s
        t.append(p)
        var entered: [GrammarStack] = []
        enter(child, onto: t, &entered)
        for e in entered { step(e, byte, &out) }
    }

    /// The popped frame ended lazily: its parent moves on and gets `byte`.
    @inline(__always) func endThenStep(_ s: GrammarStack, _ byte: UInt8, _ out: inout [GrammarStack]) {
        var ended: [GrammarStack] = []
        complete(s, &ended)
        for e in ended { step(e, byte, &out) }
    }

    private func stepNumber(_ frame: GrammarFrame, _ s: GrammarStack, integer: Bool, _ byte: UInt8,
                            _ out: inout [GrammarStack]) {
        var f = frame
        let digit = byte >= 0x30 && byte <= 0x39
        func keep(_ g: GrammarFrame) { var t = s; t.append(g); out.append(t) }
        switch frame.phase {
        case 0, 1:
            if byte == 0x2D && frame.phase == 0 { f.phase = 1; return keep(f) }          // -
            guard digit else { return }
            if byte == 0x30 { f.phase = 2 } else { f.phase = 3; f.a = 1 }
            keep(f)
        case 2, 3:
            if digit && frame.phase == 3 && frame.a < Self.maxIntegerDigits { f.a += 1; keep(f) }
            else if byte == 0x2E && !integer { f.phase = 4; keep(f) }                     // .
            endThenStep(s, byte, &out)
        case 4:
            guard digit else { return }
            f.phase = 5; f.b = 1
            keep(f)
        case 5:
            if digit && frame.b < Self.maxFractionDigits { f.b += 1; keep(f) }
            endThenStep(s, byte, &out)
        default: return
        }
    }

    /// Object rule phases: 0 before `{`, 1 after `{`, 2 after `,`, 3 after `, `, 4 in key `b` (`c` bytes
    /// matched), 5 after key, 6 after `:`, 7 after `: `, 8 in value, 9 after value. `a`: the first property
    /// that may come next (properties are written in schema order; a required one cannot be skipped).
    func stepObject(_ frame: GrammarFrame, _ s: GrammarStack, _ properties: [GrammarProperty], _ byte: UInt8,
                    _ out: inout [GrammarStack]) {
        var f = frame
        func keep(_ g: GrammarFrame) { var t = s; t.append(g); out.append(t) }
        /// Whether no required property remains at or after `a`.
        func mayClose() -> Bool { !properties[Int(frame.a)...].contains { $0.required } }
        func startKey() {
            var j = Int(frame.a)
            while j < properties.count {
                var g = frame
                g.phase = 4; g.b = Int32(j); g.c = 1
                keep(g)
                if properties[j].required { break }
                j += 1
            }
        }
        switch frame.phase {
        case 0:
            guard byte == 0x7B else { return }                                  // {
            f.phase = 1; keep(f)
        case 1:
            if byte == 0x7D { if mayClose() { complete(s, &out) }; return }     // }
            if byte == 0x22 { startKey() }
        case 2:
            if byte == 0x20 { f.phase = 3; return keep(f) }
            if byte == 0x22 { startKey() }
        case 3:
            if byte == 0x22 { startKey() }
        case 4:
            let key = properties[Int(frame.b)].key
            guard key[Int(frame.c)] == byte else { return }
            f.c += 1
            if Int(f.c) == key.count { f.phase = 5; f.a = f.b + 1 }
            keep(f)
        case 5:
            guard byte == 0x3A else { return }                                  // :
            f.phase = 6; keep(f)
        case 6:
            if byte == 0x20 { f.phase = 7; return keep(f) }
            enterThenStep(properties[Int(frame.a) - 1].value, parent: frame, phase: 8, s, byte, &out)
        case 7:
            enterThenStep(properties[Int(frame.a) - 1].value, parent: frame, phase: 8, s, byte, &out)
        case 9:
            if byte == 0x2C && Int(frame.a) < properties.count { f.phase = 2; return keep(f) }   // ,
            if byte == 0x7D && mayClose() { complete(s, &out) }
        default: return
        }
    }

    /// Free object phases: 0 before `{`, 1 after `{`, 2 after `,`, 3 after `, `, 4 in key, 5 after key,
    /// 6 after `:`, 7 after `: `, 8 in value, 9 after value; `a`: members so far.
    func stepFreeObject(_ frame: GrammarFrame, _ s: GrammarStack, key: Int32, value: Int32, maxMembers: Int32,
                        _ byte: UInt8, _ out: inout [GrammarStack]) {
        var f = frame
        func keep(_ g: GrammarFrame) { var t = s; t.append(g); out.append(t) }
        switch frame.phase {
        case 0:
            guard byte == 0x7B else { return }
            f.phase = 1; keep(f)
        case 1:
            if byte == 0x7D { return complete(s, &out) }
            if maxMembers > 0 { enterThenStep(key, parent: frame, phase: 4, s, byte, &out) }
        case 2:
            if byte == 0x20 { f.phase = 3; return keep(f) }
            enterThenStep(key, parent: frame, phase: 4, s, byte, &out)
        case 3:
            enterThenStep(key, parent: frame, phase: 4, s, byte, &out)
        case 5:
            guard byte == 0x3A else { return }
            f.phase = 6; keep(f)
        case 6:
            if byte == 0x20 { f.phase = 7; return keep(f) }
            enterThenStep(value, parent: frame, phase: 8, s, byte, &out)
        case 7:
            enterThenStep(value, parent: frame, phase: 8, s, byte, &out)
        case 9:
            if byte == 0x2C && frame.a < maxMembers { f.phase = 2; return keep(f) }
            if byte == 0x7D { complete(s, &out) }
        default: return
        }
    }
}
