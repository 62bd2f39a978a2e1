import DocumentStore
import Foundation
import Synchronization

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
            "host": .string(ProcessInfo.processInfo.hostName),
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
        CommandLine.arguments.dropFirst().map { MongoConnection.redactSecrets(in: $0) }
    }

    /// Appends the entry to the ledger file (one `write` of one line with O_APPEND, so concurrent
    /// jobs do not interleave) and, when the job has a MongoDB connection, upserts it.
    static func record(_ entry: Document, work: WorkDirectory, recorder: RunRecorder) -> [String] {
        var problems: [String] = []
        do {
            let line = try BSONDocument(entry).relaxedExtendedJSON + "\n"
            let path = path(in: work)
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            if descriptor < 0 {
                problems.append("cannot append to \(path): \(String(cString: strerror(errno)))")
            } else {
                let written = line.withCString { write(descriptor, $0, strlen($0)) }
                if written < 0 { problems.append("cannot append to \(path): \(String(cString: strerror(errno)))") }
                close(descriptor)
            }
        } catch {
            problems.append("ledger entry not written: \(error)")
        }
        if let mongo = recorder.mongo {
            do {
                let client = try mongo.connection.client()
                let result = try client.collection(collection, database: mongo.database).upsertByID([BSONDocument(entry)])
                if let refused = result.writeErrors.first { problems.append("etl_runs refused the entry: \(refused.message)") }
            } catch {
                problems.append("etl_runs entry not written: \(error)")
            }
        }
        return problems
    }
}
