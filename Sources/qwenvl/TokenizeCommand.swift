import ArgumentParser
import Foundation
import QwenVL
import QwenVLTokenizer

/// `qwenvl tokenize`: print token ids of text (special tokens parsed, no BOS).
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print the token ids of text.",
        discussion: "With --jsonl, each input line is a JSON string and each output line the JSON array of its ids.")

    @Option(help: "Checkpoint folder (its tokenizer.json is used).") var model: String
    @Option(help: "Text to tokenize.") var text: String?
    @Option(help: "File of JSON strings, one per line.") var jsonl: String?

    func validate() throws {
        if (text == nil) == (jsonl == nil) { throw ValidationError("give exactly one of --text or --jsonl") }
    }

    func run() throws {
        let tokenizer: QwenTokenizer
        do { tokenizer = try QwenTokenizer.load(directory: URL(fileURLWithPath: model)) } catch {
            throw fail("tokenizer: \(error)")
        }
        if let text {
            print("[" + tokenizer.encode(text).map(String.init).joined(separator: ",") + "]")
            return
        }
        guard let jsonl, let data = FileManager.default.contents(atPath: jsonl) else {
            throw fail("cannot read \(jsonl ?? "")")
        }
        var output = ""
        // Split on the newline byte: a line may begin with a scalar (e.g. U+FEFF) that Swift would join to "\n".
        for (number, line) in data.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty || line == Data([0x0D]) { continue }
            // JSONValue keeps every scalar (Foundation's JSONSerialization drops U+FEFF inside strings).
            guard let value = (try? JSONValue.parse(Array(line), source: jsonl))?.stringValue else {
                throw fail("\(jsonl):\(number + 1): not a JSON string")
            }
            output += "[" + tokenizer.encode(value).map(String.init).joined(separator: ",") + "]\n"
        }
        FileHandle.standardOutput.write(Data(output.utf8))
    }
}
