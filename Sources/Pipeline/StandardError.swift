import DocumentStore
import Foundation
import Synchronization

/// The job's own stderr, and with `--log-format json` a guard over it: C libraries (libmpg123's
/// "Note: …" lines through libsndfile, libmongoc's warnings) print straight to file descriptor 2,
/// so fd 2 becomes a pipe whose reader thread passes JSON objects through and wraps every other
/// line in one (`"source": "stderr"`). The job's own lines go to the saved original descriptor.
public enum StandardError {
    struct Capture: Sendable {
        /// The original stderr, where every line finally goes.
        var output: Int32
        /// Drain requests written into the pipe and not yet seen by the reader.
        var drainWaiters: [Int: DispatchSemaphore] = [:]
        var nextDrain = 0
    }

    private static let capture = Mutex<Capture?>(nil)

    /// Where the job's own lines go: the original stderr.
    static var descriptor: Int32 { capture.withLock { $0?.output } ?? 2 }

    /// Writes `text` (whole lines) to the job's stderr.
    public static func write(_ text: String) {
        let fd = descriptor
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count {
                let written = Foundation.write(fd, base + offset, buffer.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }
                offset += written
            }
        }
    }

    /// Starts wrapping what others print on fd 2 as JSON lines (once per process). A failure to
    /// set up the pipe leaves stderr as it is.
    static func wrapForeignLines() {
        capture.withLock { capture in
            guard capture == nil else { return }
            var ends: [Int32] = [0, 0]
            guard pipe(&ends) == 0 else { return }
            let original = dup(2)
            guard original >= 0, dup2(ends[1], 2) >= 0 else {
                close(ends[0]); close(ends[1])
                if original >= 0 { close(original) }
                return
            }
            close(ends[1])
            _ = fcntl(original, F_SETFD, FD_CLOEXEC)
            _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
            capture = Capture(output: original)
            let input = ends[0]
            Thread.detachNewThread { readForeignLines(from: input) }
        }
    }

    /// Waits until everything printed on fd 2 so far has been forwarded, so the summary line
    /// stays the last one. A no-op without capture.
    static func drain() {
        let request = capture.withLock { capture -> (Int, DispatchSemaphore)? in
            guard var current = capture else { return nil }
            current.nextDrain += 1
            let semaphore = DispatchSemaphore(value: 0)
            current.drainWaiters[current.nextDrain] = semaphore
            capture = current
            return (current.nextDrain, semaphore)
        }
        guard let (id, semaphore) = request else { return }
        // A newline first completes any unterminated foreign line.
        let marker = "\n" + drainMarker + String(id) + "\n"
        _ = marker.withCString { Foundation.write(2, $0, strlen($0)) }
        _ = semaphore.wait(timeout: .now() + 2)
    }

    private static let drainMarker = "\u{1}musicetl-drain-"

    private static func readForeignLines(from input: Int32) {
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }
            pending.append(contentsOf: buffer[0..<count])
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                forward(line)
            }
        }
    }

    private static func forward(_ line: String) {
        if line.hasPrefix(drainMarker) {
            let id = Int(line.dropFirst(drainMarker.count)) ?? -1
            capture.withLock { $0?.drainWaiters.removeValue(forKey: id) }?.signal()
            return
        }
        let trimmed = MongoConnection.redactSecrets(in: line.trimmingCharacters(in: .whitespacesAndNewlines))
        guard !trimmed.isEmpty else { return }
        write(isJSONObject(trimmed) ? trimmed + "\n" : StderrLogHandler.foreignLine(trimmed) + "\n")
    }

    static func isJSONObject(_ line: String) -> Bool {
        guard line.hasPrefix("{") else { return false }
        return (try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any]
    }
}
