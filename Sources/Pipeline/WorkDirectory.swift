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

    /// Why `name` cannot be an export's folder name, nil when it can: it must be one path
    /// component under `exports/` (an empty name, `..` or a `/` would make the export replace
    /// `exports/` itself or a folder outside it), and not start with `.` (the prefix of the
    /// temporaries `.tmp-NAME-PID` and `.old-NAME-PID`, and of hidden files).
    public static func exportNameProblem(_ name: String) -> String? {
        if name.isEmpty { return "is empty" }
        if name.contains("/") { return "contains '/': give one folder name, not a path" }
        if name.contains("\0") { return "contains a NUL character" }
        if name.hasPrefix(".") { return "starts with '.' (., .. and hidden names are not export names)" }
        return nil
    }

    /// Removes the temporaries that killed runs left behind (`x.jsonl.tmp-PID` files,
    /// `.tmp-NAME-PID` export folders) under staging, exports, quarantine and the ledger, when
    /// the process PID no longer runs on this host. Every job calls it once it holds the work-dir
    /// lock, so no live run of this work directory can own one of them. Returns what was removed.
    @discardableResult
    public func removeDeadTemporaries() -> [String] {
        var removed: [String] = []
        let manager = FileManager.default
        var pending = ["staging", "exports", "quarantine", "ledger"].map { root.appendingPathComponent($0).path }
        while let directory = pending.popLast() {
            guard let names = try? manager.contentsOfDirectory(atPath: directory) else { continue }
            for name in names {
                let path = directory + "/" + name
                if let pid = Self.temporaryOwner(name), !Self.isRunning(pid) {
                    if (try? manager.removeItem(atPath: path)) != nil { removed.append(path) }
                    continue
                }
                var isDirectory: ObjCBool = false
                if manager.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue,
                   (try? manager.destinationOfSymbolicLink(atPath: path)) == nil {
                    pending.append(path)
                }
            }
        }
        return removed
    }

    /// The pid in a temporary's name (`….tmp-1234`, `.tmp-training-1234`), nil for other names.
    static func temporaryOwner(_ name: String) -> pid_t? {
        guard name.contains(".tmp-"), let dash = name.lastIndex(of: "-") else { return nil }
        let digits = name[name.index(after: dash)...]
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return pid_t(digits)
    }

    static func isRunning(_ pid: pid_t) -> Bool {
        pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH
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

/// An input directory given on the command line (`--metadata`, `--audio`).
public enum InputDirectory {
    /// Throws exit 64 when `path` is something other than a directory (a mistake in the flag),
    /// 69 when it does not exist (a mount that is not there yet).
    public static func check(_ path: String, flag: String, name: String) throws(JobError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw JobError(.unavailable, "\(name) \(path) does not exist")
        }
        guard isDirectory.boolValue else { throw notADirectory(path, flag: flag) }
    }

    /// Exit 64 for a file given where `flag` expects a directory.
    public static func notADirectory(_ path: String, flag: String) -> JobError {
        let parent = (path as NSString).deletingLastPathComponent
        return JobError(.usage, "\(flag) \(path) is a file, not a directory: give the directory that holds it"
                        + (parent.isEmpty ? "" : " (\(parent))"))
    }
}
