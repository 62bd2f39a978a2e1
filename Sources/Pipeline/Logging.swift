import DocumentStore
import Foundation
import Logging
import Synchronization

public enum LogFormat: String, Sendable, CaseIterable {
    case text, json
}

/// Log lines go to stderr, as text for people or one JSON object per line for log shippers.
/// The job that runs sets the format, level and run fields; the handler reads them per line.
public struct StderrLogHandler: LogHandler {
    struct Settings: Sendable {
        var format: LogFormat = .text
        var runID = ""
        var job = ""
    }

    static let settings = Mutex(Settings())
    private static let bootstrapped: Void = LoggingSystem.bootstrap { label in StderrLogHandler(label: label) }

    /// Installs the handler (once per process) and sets what every line carries; returns the
    /// settings it replaced, so a nested job (a nightly step) can hand them back.
    @discardableResult
    static func configure(_ new: Settings) -> Settings {
        _ = bootstrapped
        return settings.withLock { current in
            defer { current = new }
            return current
        }
    }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let settings = Self.settings.withLock { $0 }
        var merged = metadata
        event.metadata?.forEach { merged[$0.key] = $0.value }
        let time = Date().formatted(.iso8601)
        // A message may quote a connection string (an error from libmongoc): never its password.
        let message = MongoConnection.redactSecrets(in: "\(event.message)")
        let line: String
        switch settings.format {
        case .text:
            let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            line = "\(time) \(event.level) \(settings.job): \(message)" + (fields.isEmpty ? "" : " " + fields)
        case .json:
            var object: [String: String] = ["time": time, "level": "\(event.level)", "job": settings.job,
                                            "run_id": settings.runID, "message": message]
            merged.forEach { object[$0.key] = "\($0.value)" }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            line = String(decoding: data, as: UTF8.self)
        }
        TerminalLine.writeLines(line + "\n")
    }

    /// A line some library printed on stderr, as a JSON log line of the running job.
    static func foreignLine(_ text: String) -> String {
        let settings = Self.settings.withLock { $0 }
        let object: [String: String] = ["time": Date().formatted(.iso8601), "level": "warning", "job": settings.job,
                                        "run_id": settings.runID, "source": "stderr",
                                        "message": MongoConnection.redactSecrets(in: text)]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// The log format of the running job (a progress bar is drawn only for text).
    static var currentFormat: LogFormat { settings.withLock { $0.format } }
}
