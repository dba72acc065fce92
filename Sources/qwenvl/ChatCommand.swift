import ArgumentParser
import Foundation
import QwenVL

/// `qwenvl chat`: a multi-turn terminal conversation that keeps the KV cache between turns.
struct ChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Chat in the terminal; attach images with /image PATH.",
        discussion: """
        Type a message and press Enter. Commands:
          /image PATH    attach an image to your next message (repeatable)
          /video PATH    attach a video to your next message
          /system TEXT   set the system prompt (restarts the conversation)
          /reset         forget the conversation
          /save FILE     write the conversation as a messages JSON for `qwenvl generate --messages`
          /tools FILE    offer the OpenAI tools in FILE to the model (`/tools off` to stop); calls show as → name(args)
          /result TEXT   answer the last tool call with TEXT (a `tool` message) and let the model go on
          /quit          leave (or end of input)
        Only the new turn is prefilled: the KV cache of earlier turns is reused.
        """)

    @Option(help: "Checkpoint folder.") var model: String
    @Option(help: "System prompt.") var system: String?
    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var pixels: PixelOptions
    @OptionGroup var weightOptions: WeightOptions
    @OptionGroup var videoOptions: VideoOptions

    func run() async throws {
        let qwen: QwenVLModel
        do { qwen = try weightOptions.load(model) } catch let error as QwenVLError {
            throw fail(error.description)
        }
        let parameters = sampling.parameters(defaults: qwen.generationDefaults)
        var conversation = Conversation(system: system)
        var state = qwen.makeState()
        var attachments: [ContentPart] = []
        var toolPlan = try ToolCallingPlan(tools: [], toolChoice: nil)
        let interactive = isatty(STDIN_FILENO) != 0
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        if interactive { printError("qwenvl chat — /help for commands, /quit to leave") }
        while true {
            if interactive { FileHandle.standardError.write(Data("\nyou> ".utf8)) }
            guard let line = readLine(strippingNewline: true) else { break }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            if trimmed.hasPrefix("/") {
                let (command, argument) = Self.split(trimmed)
                switch command {
                case "/quit", "/exit": return
                case "/help": printError(Self.configuration.discussion)
                case "/image":
                    guard !argument.isEmpty else { printError("usage: /image PATH"); continue }
                    attachments.append(.image(pixels.imageInput(ChatMessage.resolvePath(argument, cwd))))
                    printError("attached image \(argument)")
                case "/video":
                    guard !argument.isEmpty else { printError("usage: /video PATH"); continue }
                    attachments.append(.video(videoOptions.videoInput(ChatMessage.resolvePath(argument, cwd))))
                    printError("attached video \(argument)")
                case "/system":
                    conversation = Conversation(system: argument.isEmpty ? nil : argument)
                    attachments = []
                    printError("system prompt set; conversation restarted")
                case "/reset":
                    conversation = Conversation(system: conversation.system)
                    state = qwen.makeState()
                    attachments = []
                    printError("conversation reset")
                case "/save":
                    guard !argument.isEmpty else { printError("usage: /save FILE"); continue }
                    do {
                        try conversation.save(to: URL(fileURLWithPath: argument, relativeTo: cwd))
                        printError("saved \(conversation.messages.count) messages to \(argument)")
                    } catch {
                        printError("error: cannot save \(argument): \(error.localizedDescription)")
                    }
                case "/tools":
                    guard !argument.isEmpty else { printError("usage: /tools FILE | /tools off"); continue }
                    do {
                        let tools = argument == "off" ? [] : try Tool.parseList(ToolOptions.readJSON(argument, flag: "/tools"), path: argument)
                        toolPlan = try ToolCallingPlan(tools: tools, toolChoice: nil)
                        printError(tools.isEmpty ? "tools off" : "tools: " + tools.map(\.name).joined(separator: ", "))
                    } catch {
                        printError("error: \(error)")
                    }
                    continue
                case "/result":
                    guard conversation.messages.last?.toolCalls.isEmpty == false || conversation.messages.last?.role == "tool" else {
                        printError("no tool call to answer"); continue
                    }
                    var result = ChatMessage(role: "tool", text: argument)
                    result.toolCallID = conversation.messages.last(where: { !$0.toolCalls.isEmpty })?.toolCalls.last?.id
                    conversation.append(result)
                default:
                    printError("unknown command \(command) (try /help)")
                    continue
                }
                if command != "/result" { continue }
            }
            let previous = conversation
            if !trimmed.hasPrefix("/result") {
                let parts = attachments + [.text(line)]
                attachments = []
                conversation.append(ChatMessage(role: "user", content: parts.count == 1 ? .string(line) : .parts(parts)))
            }
            do {
                var options = pixels.prepareOptions(addVisionID: false)
                options.tools = toolPlan.toolDefinitions
                let input = try await qwen.prepare(messages: conversation.messages, options: options)
                var started = false
                let bar = ProgressBar()
        let result = try qwen.generate(input, parameters: parameters, state: &state,
                                       progress: { bar.update($0.stage == .vision ? "encoding images" : "prefill", $0.completed, $0.total) }) { chunk in
                    if interactive && !started { FileHandle.standardOutput.write(Data("assistant> ".utf8)) }
                    started = true
                    FileHandle.standardOutput.write(Data(chunk.text.utf8))
                    return true
                }
                FileHandle.standardOutput.write(Data("\n".utf8))
                let (content, toolCalls) = toolPlan.interpret(result.text)
                for call in toolCalls { print(ToolOptions.describe(call)) }
                var answer = ChatMessage(role: "assistant", text: toolCalls.isEmpty ? result.text : content ?? "")
                answer.toolCalls = toolCalls
                conversation.append(answer)
                let t = result.timings
                printError(String(format: "[prefill %d new tokens of %d (%.1f tok/s) | %d tokens, %.1f tok/s]",
                                  t.prefillTokens, input.tokenIDs.count, t.prefillTokensPerSecond, result.tokenIDs.count, t.decodeTokensPerSecond))
            } catch let error as QwenVLError {
                conversation = previous
                printError("error: \(error.description)")
            }
        }
    }

    static func split(_ line: String) -> (String, String) {
        guard let space = line.firstIndex(of: " ") else { return (line, "") }
        return (String(line[..<space]), line[line.index(after: space)...].trimmingCharacters(in: .whitespaces))
    }
}

/// The messages of a chat session.
struct Conversation {
    let system: String?
    private(set) var messages: [ChatMessage] = []

    init(system: String?) {
        self.system = system
        if let system { messages.append(ChatMessage(role: "system", text: system)) }
    }

    mutating func append(_ message: ChatMessage) { messages.append(message) }

    /// Writes the messages JSON (`[{role, content}]`, media as absolute paths, `tool_calls` / `tool_call_id` kept).
    func save(to url: URL) throws {
        let list: [[String: Any]] = messages.map { message in
            var object = Self.contentObject(message)
            if !message.toolCalls.isEmpty { object["tool_calls"] = ToolOptions.jsonCalls(message.toolCalls) }
            if let id = message.toolCallID { object["tool_call_id"] = id }
            return object
        }
        let data = try JSONSerialization.data(withJSONObject: list, options: [.prettyPrinted, .withoutEscapingSlashes, .sortedKeys])
        try data.write(to: url, options: .atomic)
    }

    /// `{role, content}` of one message (media as absolute paths).
    static func contentObject(_ message: ChatMessage) -> [String: Any] {
        switch message.content {
        case .string(let text):
            return ["role": message.role, "content": text]
        case .parts(let parts):
            return ["role": message.role, "content": parts.map { part -> [String: Any] in
                switch part {
                case .text(let t): return ["type": "text", "text": t]
                case .image(let image):
                    var o: [String: Any] = ["type": "image", "image": image.source]
                    if let v = image.minPixels { o["min_pixels"] = v }
                    if let v = image.maxPixels { o["max_pixels"] = v }
                    return o
                case .video(let video):
                    switch video.source {
                    case .file(let path): return ["type": "video", "video": path]
                    case .frames(let frames): return ["type": "video", "video": frames]
                    }
                }
            }]
        }
    }
}
