import Foundation
import Logging

/// A progress bar for a long step (features, load, export) on stderr, drawn only when stderr is a
/// terminal, the log format is text and the level shows info lines: cron logs, log shippers and
/// `--quiet` never see it. Jobs call `update(done:total:)` as often as they like; the line is
/// redrawn at most ten times a second, and log lines written meanwhile appear above it.
///
///     etl-load [██████████░░░░░░░░░░]  52%  52,000/100,000 documents  8,512/s  ETA 0:06
public final class ProgressBar: @unchecked Sendable {  // its state is behind `lock` (NSLock; Mutex needs macOS 15)
    public let label: String
    public let unit: String
    /// Whether anything is drawn at all.
    public let isEnabled: Bool

    private let lock = NSLock()
    private let start = Date()
    private var total: Int?
    private var done = 0
    private var lastDraw = Date.distantPast
    private var finished = false
    private let minimumInterval: TimeInterval = 0.1

    public init(label: String, unit: String, total: Int?, enabled: Bool) {
        self.label = label
        self.unit = unit
        self.total = total
        self.isEnabled = enabled
    }

    /// A bar that draws when `ProgressBar.isAllowed(for: logger)`.
    public convenience init(label: String, unit: String, total: Int? = nil, logger: Logger) {
        self.init(label: label, unit: unit, total: total, enabled: ProgressBar.isAllowed(for: logger))
    }

    deinit { finish() }

    /// stderr is a terminal that can redraw a line.
    public static var standardErrorIsTerminal: Bool {
        isatty(2) == 1 && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }

    /// A bar belongs on a terminal, with text logs at info level or more detailed.
    public static func isAllowed(for logger: Logger) -> Bool {
        standardErrorIsTerminal && StderrLogHandler.currentFormat == .text && logger.logLevel <= .info
    }

    /// Records how far the step is; redraws when enabled and the last draw is 0.1 s old (or the
    /// step just completed).
    public func update(done: Int, total: Int? = nil) {
        guard isEnabled else { return }
        let line: String? = lock.withLock {
            if let total { self.total = total }
            self.done = done
            let now = Date()
            let complete = self.total.map { done >= $0 } ?? false
            guard !finished, complete || now.timeIntervalSince(lastDraw) >= minimumInterval else { return nil }
            lastDraw = now
            return Self.render(label: label, unit: unit, done: done, total: self.total,
                               elapsed: now.timeIntervalSince(start), width: TerminalLine.columns())
        }
        if let line { TerminalLine.show(line) }
    }

    /// Removes the bar (also done when the value goes away).
    public func finish() {
        guard isEnabled else { return }
        let wasShown = lock.withLock {
            defer { finished = true }
            return !finished
        }
        if wasShown { TerminalLine.show(nil) }
    }

    /// The bar's text for these counts: a pure function of its arguments.
    public static func render(label: String, unit: String, done: Int, total: Int?, elapsed: TimeInterval,
                              width: Int) -> String {
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let rateText = rate >= 10 ? "\(grouped(Int(rate.rounded())))/s" : String(format: "%.1f/s", rate)
        guard let total, total > 0 else {
            return clip("\(label) \(grouped(done)) \(unit)  \(rateText)  \(duration(elapsed)) elapsed", width)
        }
        let fraction = min(1, max(0, Double(done) / Double(total)))
        let percent = String(format: "%3.0f%%", (fraction * 100).rounded(.down))
        let eta: String
        if done >= total {
            eta = "done in \(duration(elapsed))"
        } else if rate > 0 {
            eta = "ETA " + duration(Double(total - done) / rate)
        } else {
            eta = "ETA --:--"
        }
        let rest = " \(percent)  \(grouped(done))/\(grouped(total)) \(unit)  \(rateText)  \(eta)"
        let barWidth = min(30, width - label.count - rest.count - 4)
        guard barWidth >= 10 else { return clip(label + rest, width) }
        let filled = Int((fraction * Double(barWidth)).rounded(.down))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: barWidth - filled)
        return "\(label) [\(bar)]\(rest)"
    }

    /// 1234567 → "1,234,567".
    static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var result = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { result.append(",") }
            result.append(digit)
        }
        return (value < 0 ? "-" : "") + result
    }

    /// Seconds as m:ss or h:mm:ss.
    static func duration(_ seconds: TimeInterval) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "--:--" }
        let whole = Int(seconds.rounded())
        let (hours, minutes, secs) = (whole / 3600, whole / 60 % 60, whole % 60)
        return hours > 0 ? String(format: "%d:%02d:%02d", hours, minutes, secs) : String(format: "%d:%02d", minutes, secs)
    }

    static func clip(_ text: String, _ width: Int) -> String {
        text.count < width ? text : String(text.prefix(max(0, width - 1)))
    }

    /// Counts the lines of files (for a total before the first batch): only worth it when drawn.
    public static func countLines(inFiles paths: [String]) -> Int? {
        var lines = 0
        for path in paths {
            guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
            defer { try? handle.close() }
            var last: UInt8 = 10
            while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty {
                chunk.withUnsafeBytes { buffer in
                    for byte in buffer where byte == 10 { lines += 1 }
                }
                last = chunk.last ?? last
            }
            if last != 10 { lines += 1 }
        }
        return lines
    }
}

/// The one bar line at the bottom of the terminal, shared by `ProgressBar` and the log handler, so a
/// log line clears the bar, prints, and puts the bar back under it.
enum TerminalLine {
    private final class State: @unchecked Sendable {  // `bar` is behind `lock` (NSLock; Mutex needs macOS 15)
        let lock = NSLock()
        var bar: String?
    }

    private static let state = State()

    /// Shows (or with nil, clears) the bar.
    static func show(_ bar: String?) {
        state.lock.withLock {
            let wasShown = state.bar != nil
            state.bar = bar
            if let bar {
                write("\r\u{1B}[K" + bar)
            } else if wasShown {
                write("\r\u{1B}[K")
            }
        }
    }

    /// Writes whole lines to stderr, above the bar when one is shown.
    static func writeLines(_ text: String) {
        state.lock.withLock {
            if let bar = state.bar {
                write("\r\u{1B}[K" + text + bar)
            } else {
                write(text)
            }
        }
    }

    private static func write(_ text: String) {
        StandardError.write(text)
    }

    /// The terminal's width, 80 when unknown.
    static func columns() -> Int {
        var size = winsize()
        if ioctl(2, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return Int(ProcessInfo.processInfo.environment["COLUMNS"] ?? "") ?? 80
    }
}
