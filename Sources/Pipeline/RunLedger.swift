import DocumentStore
import Foundation
import Synchronization
import Tabular

/// The run ledger: one document per job run (job, arguments with secrets redacted, host,
/// version, start, end, status, counts, duration).
///
/// Every run appends it to `WORK/ledger/etl_runs.jsonl`, so jobs that never talk to MongoDB are
/// recorded too; `etl-load` uploads that file into the `etl_runs` collection, and a job that holds
/// a MongoDB connection (`useMongo`) also writes its own entry there directly.
public final class RunRecorder: Sendable {
    struct Target: @unchecked Sendable {  // MongoConnection is thread-safe (a client pool)
        var connection: MongoConnection
        var database: String
    }

    private let target = Mutex<Target?>(nil)

    public init() {}

    public func useMongo(_ connection: MongoConnection, database: String) {
        target.withLock { $0 = Target(connection: connection, database: database) }
    }

    var mongo: Target? { target.withLock { $0 } }

    /// Drops the recorder's reference to the connection. When it is the last one, the client pool
    /// is destroyed here, and libmongoc's teardown (ending server sessions, which logs a warning
    /// when the server has died) happens before the summary line rather than after it.
    func releaseMongo() {
        target.withLock { $0 = nil }
    }
}

public enum RunLedger {
    public static let collection = "etl_runs"

    public static func path(in work: WorkDirectory) -> String {
        work.root.appendingPathComponent("ledger/etl_runs.jsonl").path
    }

    static func entry(context: JobContext, summary: JobSummary, endedAt: Date) -> Document {
        var counts = Document()
        for count in summary.counts { counts.append(count.name, .integer(count.value)) }
        var entry: Document = [
            "_id": .string("\(context.runID)/\(context.job)"),
            "run_id": .string(context.runID),
            "job": .string(context.job),
            "arguments": .array(redactedArguments().map { .string($0) }),
            "host": .string(context.options.host),
            "pid": .integer(Int(getpid())),
            "version": .string(MusicETL.version),
            "started_at": .date(context.startedAt),
            "ended_at": .date(endedAt),
            "duration_s": .double(endedAt.timeIntervalSince(context.startedAt)),
            "status": .string("\(summary.status)"),
            "exit_code": .integer(Int(summary.status.rawValue)),
            "counts": .document(counts),
        ]
        if let problem = summary.problem { entry["problem"] = .string(MongoConnection.redactSecrets(in: problem)) }
        return entry
    }

    /// The command line with every MongoDB URI's password replaced by `***`.
    static func redactedArguments() -> [String] {
        CommandLine.arguments.dropFirst().map { MongoConnection.redact($0) }
    }

    /// Appends the entry to the ledger file (one `write` of one line with O_APPEND, so concurrent
    /// jobs do not interleave) and, when the job has a MongoDB connection, upserts it. A short
    /// write (a full disk) is reported; the torn line it leaves is skipped by `forEachEntry`, and
    /// the next entry starts on a line of its own.
    /// Returns what went wrong: with the ledger file (`file`: the run is not recorded) and with
    /// the `etl_runs` copy in MongoDB (`mongo`: the next `etl-load` uploads the file anyway).
    static func record(_ entry: Document, work: WorkDirectory, recorder: RunRecorder) -> (file: [String], mongo: [String]) {
        var problems: [String] = []
        let path = path(in: work)
        do {
            var line = Array((try BSONDocument(entry).relaxedExtendedJSON + "\n").utf8)
            try AtomicFileWriter.createParentDirectories(of: path)
            let descriptor = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            if descriptor < 0 {
                problems.append("cannot append to \(path): \(String(cString: strerror(errno)))")
            } else {
                defer { close(descriptor) }
                if endsInsideALine(descriptor) { line.insert(UInt8(ascii: "\n"), at: 0) }
                let written = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                if written < 0 {
                    problems.append("cannot append to \(path): \(String(cString: strerror(errno)))")
                } else if written < line.count {
                    // The rest would fail with the reason (ENOSPC, EFBIG): ask for it.
                    let rest = line[written...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                    let reason = rest < 0 ? String(cString: strerror(errno)) : "short write"
                    problems.append("short write to \(path): \(written) of \(line.count) bytes of this run's entry (\(reason)); the torn line is skipped when the ledger is read")
                }
            }
        } catch {
            problems.append("ledger entry not written: \(error)")
        }
        var mongoProblems: [String] = []
        if let mongo = recorder.mongo {
            do {
                let client = try mongo.connection.client()
                let result = try client.collection(collection, database: mongo.database).upsertByID([BSONDocument(entry)])
                if let refused = result.writeErrors.first { mongoProblems.append("etl_runs refused the entry: \(refused.message)") }
            } catch {
                mongoProblems.append("etl_runs entry not written: \(error)")
            }
        }
        return (problems, mongoProblems)
    }

    /// True when the file's last byte is not a newline (a torn entry of a run that ran out of disk).
    private static func endsInsideALine(_ descriptor: Int32) -> Bool {
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_size > 0 else { return false }
        var last: UInt8 = 0
        return pread(descriptor, &last, 1, status.st_size - 1) == 1 && last != UInt8(ascii: "\n")
    }

    /// Every readable entry of the ledger file, in order. A line that does not parse (torn by a
    /// full disk or a crash) is skipped and reported through `skipped`, so it never fails a run.
    public static func forEachEntry(in work: WorkDirectory, skipped: (String) -> Void,
                                    _ body: (BSONDocument) throws -> Void) throws {
        let path = path(in: work)
        guard FileManager.default.fileExists(atPath: path) else { return }
        let reader = try JSONLinesReader(path: path)
        var lastFailedLine = -1
        while true {
            let entry: BSONDocument?
            do {
                entry = try reader.next()
            } catch {
                // A read error repeats on the same line: only a parse error moves on.
                guard error.line > 0, error.line != lastFailedLine else { throw error }
                lastFailedLine = error.line
                skipped("run ledger \(path):\(error.line) is not a complete entry (skipped): \(error.message)")
                continue
            }
            guard let entry else { return }
            try body(entry)
        }
    }
}
