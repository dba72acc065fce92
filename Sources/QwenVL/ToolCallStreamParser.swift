import Foundation

/// What the streaming tool-call parser emits, in order (OpenAI `delta.content` / `delta.tool_calls` pieces).
public enum ToolCallStreamEvent: Sendable, Equatable {
    /// Plain text.
    case content(String)
    /// A call begins: `{"index", "id", "type": "function", "function": {"name", "arguments": ""}}`.
    case toolCallStart(index: Int, id: String, name: String)
    /// More of call `index`'s `function.arguments`.
    case toolCallArguments(index: Int, fragment: String)
}

/// Parses tool calls out of text deltas as they arrive, with the same result as ``ToolCallParser``.
///
/// Content is released as it comes, except a tail that could begin `<tool_call>` and trailing whitespace (dropped
/// if a call or the end follows). A block is held until `</tool_call>` closes it: then it becomes a start event
/// and its arguments, or — malformed — content. So a truncated or malformed call never leaves a half call in the
/// stream, and the concatenated content and arguments equal ``ToolCallParser/parse(_:makeID:)`` for any chunking.
///
///     var parser = ToolCallStreamParser()
///     for delta in deltas { for event in parser.feed(delta) { send(event) } }
///     for event in parser.finish() { send(event) }
public struct ToolCallStreamParser: Sendable {
    private var buffer: [UInt8] = []
    private var heldWhitespace: [UInt8] = []
    private var inBlock = false
    private var callCount = 0
    private let makeID: @Sendable () -> String

    public init(makeID: @escaping @Sendable () -> String = { ToolCall.makeID() }) {
        self.makeID = makeID
    }

    /// The number of calls emitted so far.
    public var toolCallCount: Int { callCount }

    /// Takes the next text delta; returns the events it completes.
    public mutating func feed(_ delta: String) -> [ToolCallStreamEvent] {
        buffer += delta.utf8
        var events: [ToolCallStreamEvent] = []
        while true {
            if inBlock {
                guard let end = ToolCallParser.find(ToolCallParser.close, in: buffer, from: 0) else { break }
                let body = buffer[..<end]
                if let call = ToolCallParser.parseBody(body) {
                    heldWhitespace = []
                    let index = callCount
                    callCount += 1
                    events.append(.toolCallStart(index: index, id: makeID(), name: call.name))
                    events.append(.toolCallArguments(index: index, fragment: call.arguments))
                } else {
                    var raw = ToolCallParser.open
                    raw += buffer[..<(end + ToolCallParser.close.count)]
                    emitText(raw, into: &events)
                }
                buffer.removeFirst(end + ToolCallParser.close.count)
                inBlock = false
            } else if let start = ToolCallParser.find(ToolCallParser.open, in: buffer, from: 0) {
                emitText(Array(buffer[..<start]), into: &events)
                buffer.removeFirst(start + ToolCallParser.open.count)
                inBlock = true
            } else {
                // Keep the longest tail that is a proper prefix of `<tool_call>`.
                let keep = Self.partialTagLength(buffer)
                emitText(Array(buffer[..<(buffer.count - keep)]), into: &events)
                buffer.removeFirst(buffer.count - keep)
                break
            }
        }
        return events
    }

    /// Ends the stream: an unclosed block and any held tail become content; trailing whitespace is dropped.
    public mutating func finish() -> [ToolCallStreamEvent] {
        var events: [ToolCallStreamEvent] = []
        var rest = inBlock ? ToolCallParser.open : []
        rest += buffer
        buffer = []
        inBlock = false
        emitText(rest, into: &events)
        heldWhitespace = []
        return events
    }

    /// Emits `text` after the held whitespace, holding back its own trailing whitespace.
    private mutating func emitText(_ text: [UInt8], into events: inout [ToolCallStreamEvent]) {
        guard !text.isEmpty else { return }
        var combined = heldWhitespace + text
        var cut = combined.count
        while cut > 0, ToolCallParser.isWhitespace(combined[cut - 1]) { cut -= 1 }
        heldWhitespace = Array(combined[cut...])
        combined.removeLast(combined.count - cut)
        if !combined.isEmpty { events.append(.content(String(decoding: combined, as: UTF8.self))) }
    }

    /// How many trailing bytes of `bytes` could start `<tool_call>`.
    static func partialTagLength(_ bytes: [UInt8]) -> Int {
        let tag = ToolCallParser.open
        for length in stride(from: min(tag.count - 1, bytes.count), through: 1, by: -1)
        where bytes[(bytes.count - length)...].elementsEqual(tag[..<length]) {
            return length
        }
        return 0
    }
}
