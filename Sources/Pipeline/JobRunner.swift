import DocumentStore
import Foundation
import Logging
import Synchronization

/// What a job reports at the end: counts in a fixed order (they become the summary line and the
/// run ledger entry) and where its outputs are.
public struct JobSummary: Sendable {
    public struct Count: Sendable, Equatable {
        public var name: String
        public var value: Int
    }

    public var counts: [Count] = []
    public var outputs: [String] = []
    /// The job finished but with an outcome other than ok (e.g. too many rejects: data error).
    public var status: ExitStatus = .ok
    public var problem: String?

    public init() {}

    public mutating func count(_ name: String, _ value: Int) {
        if let index = counts.firstIndex(where: { $0.name == name }) {
            counts[index].value = value
        } else {
            counts.append(Count(name: name, value: value))
        }
    }

    public subscript(count name: String) -> Int { counts.first { $0.name == name }?.value ?? 0 }
}

/// Everything a running job needs from the runtime.
public struct JobContext: Sendable {
    public let job: String
    public let runID: String
    public let options: CommonOptions
    /// The dataset's folder under the work dir and the schemas (nil: their roots); see `JobRunner.run`.
    public let datasetDirectory: String?
    /// The dataset's work directory: `--work-dir`, or its `datasetDirectory` folder.
    public let work: WorkDirectory
    public let logger: Logger
    public let startedAt: Date
    /// Where the run ledger entry goes besides the ledger file (see `RunRecorder.useMongo`).
    public let recorder: RunRecorder

    public var quarantineDirectory: URL { work.quarantine(runID: runID) }
}

/// Runs a job body with logging, error classification and the one-line summary that is always
/// the last line on stderr.
public enum JobRunner {
    /// `datasetDirectory` is the folder of the run's dataset under the work dir and the schemas
    /// (nil: the roots): each dataset has its own staging, exports, quarantine, lock and ledger.
    public static func run(job: String, options: CommonOptions, datasetDirectory: String? = nil, runID: String = RunID.make(),
                           _ body: (JobContext) async throws -> JobSummary) async -> (ExitStatus, JobSummary) {
        let outer = StderrLogHandler.configure(.init(format: options.logFormat, runID: runID, job: job))
        if options.logFormat == .json { StandardError.wrapForeignLines() }
        defer { StderrLogHandler.configure(outer) }
        var logger = Logger(label: "musicetl.\(job)")
        logger.logLevel = options.quiet ? .warning : options.verbose ? .debug : .info
        logger[metadataKey: "run"] = "\(runID)"
        let root = WorkDirectory(options.workDir)
        let context = JobContext(job: job, runID: runID, options: options, datasetDirectory: datasetDirectory,
                                 work: datasetDirectory.map { WorkDirectory(root.root.appendingPathComponent($0).path) } ?? root,
                                 logger: logger, startedAt: Date(), recorder: RunRecorder())
        // The summary and ledger entry are written once: here, or by `Interruption.abandon` when
        // a signal's grace period runs out while the body is still running. They are written under
        // the lock, so an abandon that comes while they are being written waits for them.
        let ended = Mutex(false)
        let finish: @Sendable (JobSummary) -> JobSummary = { summary in
            ended.withLock { done in
                guard !done else { return summary }
                done = true
                return record(summary, context: context)
            }
        }
        let active = Interruption.begin { error in
            var abandoned = JobSummary()
            abandoned.status = error.status
            abandoned.problem = error.message
            _ = finish(abandoned)
        }
        defer { Interruption.end(active) }
        var summary: JobSummary
        do {
            let lock = try WorkLock.acquire(context.work, job: job, runID: runID, host: options.host)
            defer { withExtendedLifetime(lock) {} }
            if !options.dryRun {
                for path in context.work.removeDeadTemporaries() {
                    logger.info("removed \(path), left by a run that was killed")
                }
            }
            summary = try await body(context)
        } catch let error as JobError where error.status == .locked {
            // Another run's work directory: report it, but leave no ledger entry behind.
            var locked = JobSummary()
            locked.status = .locked
            locked.problem = error.message
            ended.withLock { $0 = true }
            printSummary(job: job, runID: runID, summary: locked, seconds: Date().timeIntervalSince(context.startedAt),
                         format: options.logFormat, dryRun: options.dryRun)
            return (.locked, locked)
        } catch {
            // Whatever a cancelled body throws (CancellationError, a failed call), the run was interrupted.
            var classified = JobError.classify(error)
            if let interruption = Interruption.error(), classified.status != interruption.status {
                classified = interruption
            }
            summary = JobSummary()
            summary.status = classified.status
            summary.problem = classified.message
        }
        summary = finish(summary)
        return (summary.status, summary)
    }

    /// The ledger entry (not for a dry run) and the summary line of a finished run. A run whose
    /// entry cannot be written to the ledger file (a full disk) is not ok: it fails (exit 1)
    /// naming the reason, whatever its work did.
    private static func record(_ summary: JobSummary, context: JobContext) -> JobSummary {
        var summary = summary
        let options = context.options
        let endedAt = Date()
        if !options.dryRun {
            let entry = RunLedger.entry(context: context, summary: summary, endedAt: endedAt)
            let problems = RunLedger.record(entry, work: context.work, recorder: context.recorder)
            for problem in problems.file + problems.mongo {
                context.logger.warning("run ledger: \(problem)")
            }
            if summary.status == .ok, let problem = problems.file.first {
                summary.status = .failure
                summary.problem = "run ledger: " + problem
            }
        }
        context.recorder.releaseMongo()
        let seconds = endedAt.timeIntervalSince(context.startedAt)
        printSummary(job: context.job, runID: context.runID, summary: summary, seconds: seconds,
                     format: options.logFormat, dryRun: options.dryRun)
        return summary
    }

    static func printSummary(job: String, runID: String, summary: JobSummary, seconds: Double, format: LogFormat,
                             dryRun: Bool) {
        // What libraries printed before the summary is forwarded first: the summary stays last.
        StandardError.drain()
        let counts = summary.counts.map { "\($0.value) \($0.name)" }.joined(separator: ", ")
        var line = "\(job) \(summary.status)\(dryRun ? " (dry run)" : "")"
        if let problem = summary.problem { line += ": \(MongoConnection.redactSecrets(in: problem))" }
        if !counts.isEmpty { line += (summary.problem == nil ? ": " : "; ") + counts }
        line += String(format: " in %.2f s [run %@]", seconds, runID)
        switch format {
        case .text:
            StandardError.write(line + "\n")
        case .json:
            var object: [String: Any] = ["summary": line, "message": line, "level": summary.status == .ok ? "notice" : "error",
                                         "job": job, "run_id": runID,
                                         "status": "\(summary.status)", "exit_code": summary.status.rawValue,
                                         "seconds": seconds]
            object["counts"] = Dictionary(summary.counts.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            StandardError.write(String(decoding: data, as: UTF8.self) + "\n")
        }
    }
}
