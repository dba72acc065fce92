import ArgumentParser
import Foundation
import QwenVLCore

/// The `qwenvl` command line: run Qwen2-VL checkpoints on the CPU.
@main
struct QwenVLCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qwenvl",
        abstract: "Run Qwen2-VL vision-language models locally on the CPU.",
        version: (["qwenvl 0.6"] + KernelReport.lines()).joined(separator: "\n"),
        subcommands: [GenerateCommand.self, ChatCommand.self, TokenizeCommand.self, InspectCommand.self, BenchCommand.self, ServeCommand.self,
                      DatasetCommand.self, MergeAdapterCommand.self, FinetuneCommand.self])

    /// Picks the BLAS kernels (may re-execute the process once), refuses a `QWENVL_ISA` this CPU cannot run, then
    /// parses and runs the subcommand.
    static func main() async {
        BLASKernelChoice.applyBeforeStart()
        if let error = KernelSet.environmentError {
            printError("error: \(error)")
            Foundation.exit(1)
        }
        do {
            var command = try parseAsRoot()
            if var command = command as? AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

/// Prints `error: …` on stderr and exits 1 (one line, no stack trace).
func fail(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    return ExitCode(1)
}

/// Writes to stderr.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
