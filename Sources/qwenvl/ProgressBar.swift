import Foundation

/// A one-line progress bar on stderr, drawn only when stderr is a terminal.
final class ProgressBar: @unchecked Sendable {
    private let enabled = isatty(STDERR_FILENO) != 0
    private var lastDraw = Date.distantPast
    private var active = false

    /// Redraws `label [=====>    ] done/total` at most 10 times a second (and always at completion).
    func update(_ label: String, _ done: Int, _ total: Int) {
        guard enabled, total > 0 else { return }
        let now = Date()
        guard done >= total || now.timeIntervalSince(lastDraw) > 0.1 else { return }
        lastDraw = now
        let width = 30
        let filled = min(width, width * done / total)
        let bar = String(repeating: "=", count: filled) + (filled < width ? ">" : "") + String(repeating: " ", count: max(0, width - filled - 1))
        FileHandle.standardError.write(Data("\r\u{1B}[2K\(label) [\(bar)] \(done)/\(total)".utf8))
        active = true
        if done >= total { finish() }
    }

    /// Ends the bar's line.
    func finish() {
        guard enabled, active else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
        active = false
    }
}
