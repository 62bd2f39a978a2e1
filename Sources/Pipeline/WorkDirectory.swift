import Foundation

/// The layout under `--work-dir`: every job reads and writes here, never the current directory.
public struct WorkDirectory: Sendable {
    public let root: URL

    public init(_ path: String) {
        root = URL(fileURLWithPath: path, isDirectory: true).standardizedFileURL
    }

    public var metadataStaging: URL { root.appendingPathComponent("staging/metadata", isDirectory: true) }
    public var featuresStaging: URL { root.appendingPathComponent("staging/features", isDirectory: true) }
    public var staging: URL { root.appendingPathComponent("staging", isDirectory: true) }

    public func quarantine(runID: String) -> URL {
        root.appendingPathComponent("quarantine/\(runID)", isDirectory: true)
    }

    public func export(named name: String) -> URL {
        root.appendingPathComponent("exports/\(name)", isDirectory: true)
    }
}

/// Run ids sort by time and stay unique across hosts: `20261121T223015Z-3f9a1c`.
public enum RunID {
    public static func make(now: Date = Date()) -> String {
        let stamp = now.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: false)
            .dateSeparator(.omitted).timeSeparator(.omitted).timeZoneSeparator(.omitted))
        let suffix = String(UInt32.random(in: 0...0xFF_FFFF), radix: 16)
        return stamp + "-" + String(repeating: "0", count: 6 - suffix.count) + suffix
    }
}
