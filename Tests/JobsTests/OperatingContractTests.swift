import DocumentStore
import Foundation
import Testing
import TestSupport

/// The operating contract of the README: one run per work directory, clear exit codes.
@Suite(.serialized) struct OperatingContractTests {
    @Test func secondRunOnTheSameWorkDirectoryExits75NamingTheHolder() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = TemporaryDirectory()
        let staged = work.url.appendingPathComponent("staging/metadata/genres.jsonl")
        try FileManager.default.createDirectory(at: staged.deletingLastPathComponent(), withIntermediateDirectories: true)
        let lines = (1...5_000).map { "{ \"_id\" : \($0), \"title\" : \"Genre \($0)\", \"parent\" : 0 }\n" }.joined()
        try lines.write(to: staged, atomically: true, encoding: .utf8)
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        let first = try JobProcess.start("etl-load", ["--work-dir", work.path], environment: environment)
        // Wait until the first run holds the lock (its holder line is written right after flock).
        let lockFile = work.path + "/.musicetl.lock"
        let deadline = Date().addingTimeInterval(30)
        while ((try? String(contentsOfFile: lockFile, encoding: .utf8)) ?? "").isEmpty && Date() < deadline { usleep(20_000) }
        let second = try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment)
        let firstOutcome = first.wait()
        #expect(firstOutcome.status == 0, "\(firstOutcome.standardError)")
        #expect(second.status == 75, "\(second.standardError)")
        #expect(second.lastLine.contains("is locked by another run (etl-load pid \(first.pid)"), "\(second.lastLine)")
        #expect(second.seconds < 5, "exits at once")
        // The lock goes with its holder: a third run proceeds.
        let third = try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment)
        #expect(third.status == 0)
        #expect(third.lastLine.contains("5000 genres unchanged"), "\(third.lastLine)")
    }

    @Test func aLockLeftByAKilledRunIsTakenOver() throws {
        let work = TemporaryDirectory()
        let sample = Fixtures.url("sample/fma_metadata").path
        let staged = try JobProcess.run("etl-extract", ["--metadata", sample, "--work-dir", work.path, "--max-reject-ratio", "1"])
        #expect(staged.status == 0, "\(staged.standardError)")
        // A run that will sit waiting for an unreachable server while holding the lock.
        let stuck = try JobProcess.start("etl-load", ["--work-dir", work.path],
                                         environment: ["MONGODB_URI": "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=30000"])
        let lockFile = work.path + "/.musicetl.lock"
        let deadline = Date().addingTimeInterval(30)
        while !((try? String(contentsOfFile: lockFile, encoding: .utf8)) ?? "").contains("etl-load pid \(stuck.pid)")
            && Date() < deadline { usleep(20_000) }
        let blocked = try JobProcess.run("etl-extract", ["--metadata", sample, "--work-dir", work.path])
        #expect(blocked.status == 75, "the stuck run holds the lock: \(blocked.lastLine)")
        kill(stuck.pid, SIGKILL)
        _ = stuck.wait()
        let extract = try JobProcess.run("etl-extract", ["--metadata", sample, "--work-dir", work.path, "--max-reject-ratio", "1"])
        #expect(extract.status == 0, "\(extract.standardError)")
    }

    @Test func badFlagsAndMissingInputsGiveOneLineAndTheDocumentedCode() throws {
        let work = TemporaryDirectory()
        for (job, arguments, expected) in [
            ("etl-export", ["--format", "parquet"], Int32(64)),
            ("etl-load", ["--batch-size", "0"], 64),
            ("etl-nightly", ["--metadata", "x", "--audio", "y", "--from", "nowhere"], 64),
            ("etl-normalize", ["--method", "robust"], 64),
            ("etl-load", ["--work-dir", work.path], 69),
            ("etl-normalize", ["--work-dir", work.path], 69),
        ] {
            let run = try JobProcess.run(job, arguments)
            #expect(run.status == expected, "\(job) \(arguments): \(run.standardError)")
        }
    }

    @Test func aFileGivenWhereADirectoryIsExpectedExits64SayingSo() throws {
        let work = TemporaryDirectory()
        let csv = Fixtures.url("sample/fma_metadata/raw_tracks.csv").path
        let flac = Fixtures.url("sample/audio/000/000002.flac").path
        let audio = Fixtures.url("sample/audio").path
        for (job, arguments, flag) in [
            ("etl-extract", ["--metadata", csv], "--metadata"),
            ("etl-features", ["--audio", flac], "--audio"),
            ("etl-nightly", ["--metadata", csv, "--audio", audio, "--dry-run"], "--metadata"),
            ("etl-nightly", ["--metadata", Fixtures.url("sample/fma_metadata").path, "--audio", flac, "--dry-run"], "--audio"),
        ] {
            let run = try JobProcess.run(job, arguments + ["--work-dir", work.path])
            #expect(run.status == 64, "\(job) \(arguments): \(run.standardError)")
            #expect(run.lastLine.contains("\(flag) \(flag == "--audio" ? flac : csv) is a file, not a directory"), "\(run.lastLine)")
        }
    }

    @Test func nightlyPassesJobsToItsSteps() throws {
        let work = TemporaryDirectory()
        let run = try JobProcess.run("etl-nightly", ["--metadata", Fixtures.url("sample/fma_metadata").path,
                                                     "--audio", Fixtures.url("sample/audio").path, "--work-dir", work.path,
                                                     "--dry-run", "--jobs", "3"])
        #expect(run.status == 0, "\(run.standardError)")
        #expect(run.standardError.contains("; 3 workers"), "features got --jobs: \(run.standardError)")
        let refused = try JobProcess.run("etl-nightly", ["--metadata", "x", "--audio", "y", "--jobs", "0"])
        #expect(refused.status == 64 && refused.lastLine.contains("--jobs must be at least 1"), "\(refused.lastLine)")
    }

    /// A ledger line torn by a full disk or a crash: reported, skipped, never a failed run.
    @Test func aTornLedgerLineNeverFailsALaterRun() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = TemporaryDirectory()
        let sample = Fixtures.url("sample/fma_metadata").path
        let first = try JobProcess.run("etl-extract", ["--metadata", sample, "--work-dir", work.path, "--max-reject-ratio", "1"])
        #expect(first.status == 0, "\(first.standardError)")
        let ledger = work.path + "/ledger/etl_runs.jsonl"
        let whole = try String(contentsOfFile: ledger, encoding: .utf8)
        // The first 60 bytes of an entry, without its newline: what a write cut short leaves.
        try (whole + String(whole.prefix(60))).write(toFile: ledger, atomically: true, encoding: .utf8)
        let again = try JobProcess.run("etl-extract", ["--metadata", sample, "--work-dir", work.path, "--max-reject-ratio", "1"])
        #expect(again.status == 0, "\(again.standardError)")
        let lines = try String(contentsOfFile: ledger, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3, "the next entry starts on its own line: \(lines)")
        #expect(lines.last?.hasPrefix("{ \"_id\"") == true && lines.last?.hasSuffix("}") == true)
        let load = try JobProcess.run("etl-load", ["--work-dir", work.path], environment: ["MONGODB_URI": uri, "MUSICETL_DB": database])
        #expect(load.status == 0, "\(load.standardError)")
        #expect(load.standardError.contains("etl_runs.jsonl:2 is not a complete entry (skipped)"), "\(load.standardError)")
        let uploaded = try MongoConnection(uri: uri).client().collection("etl_runs", database: database).countDocuments()
        #expect(uploaded == 3, "both extract entries and the load's own")
    }

    @Test func killedRunsTemporariesAreRemovedByTheNextRunLiveOnesKept() throws {
        let work = TemporaryDirectory()
        // A pid that ran and is gone.
        let finished = Process()
        finished.executableURL = URL(fileURLWithPath: "/bin/true")
        try finished.run()
        finished.waitUntilExit()
        let dead = finished.processIdentifier
        let manager = FileManager.default
        let leftovers = ["staging/metadata/tracks.jsonl.tmp-\(dead)", "staging/features/features.shard-1-of-2.jsonl.tmp-\(dead)",
                         "exports/.tmp-training-\(dead)/output.csv", "quarantine/20260101T000000-abcdef/audio.rejects.csv.tmp-\(dead)"]
        // pid 1 always runs: its temporary is someone's work in progress.
        let live = "staging/features/features.jsonl.tmp-1"
        for path in leftovers + [live, "staging/metadata/notes.tmp-readme"] {
            let url = work.url.appendingPathComponent(path)
            try manager.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try "partial".write(to: url, atomically: false, encoding: .utf8)
        }
        let run = try JobProcess.run("etl-normalize", ["--work-dir", work.path])
        #expect(run.status == 69, "nothing staged to normalize, but the leftovers go first: \(run.standardError)")
        for path in leftovers {
            #expect(!manager.fileExists(atPath: work.path + "/" + path), "\(path) removed")
        }
        #expect(!manager.fileExists(atPath: work.path + "/exports/.tmp-training-\(dead)"))
        #expect(manager.fileExists(atPath: work.path + "/" + live), "a live process's temporary is kept")
        #expect(manager.fileExists(atPath: work.path + "/staging/metadata/notes.tmp-readme"), "not a temporary's name")
        #expect(run.standardError.contains("tracks.jsonl.tmp-\(dead), left by a run that was killed"), "\(run.standardError)")
    }

    /// A step blocked in a call that does not return (server selection against a dead server)
    /// cannot reach a batch boundary: after the grace period, or at a second signal, the run is
    /// abandoned with the same records.
    @Test(arguments: [false, true]) func aBlockedJobIsAbandonedAfterTheGracePeriodOrASecondSignal(secondSignal: Bool) throws {
        let work = TemporaryDirectory()
        let sample = Fixtures.url("sample/fma_metadata").path
        let staged = try JobProcess.run("etl-extract", ["--metadata", sample, "--work-dir", work.path, "--max-reject-ratio", "1"])
        #expect(staged.status == 0, "\(staged.standardError)")
        let stuck = try JobProcess.start("etl-load", ["--work-dir", work.path],
                                         environment: ["MONGODB_URI": "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=60000"])
        let lockFile = work.path + "/.musicetl.lock"
        let deadline = Date().addingTimeInterval(30)
        while !((try? String(contentsOfFile: lockFile, encoding: .utf8)) ?? "").contains("etl-load pid \(stuck.pid)")
            && Date() < deadline { usleep(20_000) }
        kill(stuck.pid, SIGTERM)
        if secondSignal {
            usleep(300_000)
            kill(stuck.pid, SIGTERM)
        }
        let outcome = stuck.wait()
        #expect(outcome.status == 143, "\(outcome.standardError)")
        let reason = secondSignal ? "a second signal" : "10 s without reaching a batch boundary"
        #expect(outcome.lastLine.hasPrefix("etl-load interrupted: received SIGTERM; abandoned after \(reason)"), "\(outcome.lastLine)")
        let ledger = try String(contentsOfFile: work.path + "/ledger/etl_runs.jsonl", encoding: .utf8)
        let entry = try #require(ledger.split(separator: "\n").last)
        #expect(entry.contains("\"job\" : \"etl-load\"") && entry.contains("\"status\" : \"interrupted\""), "\(entry)")
    }

    /// The disk fills in the middle of the ledger entry: the short write is reported, and the
    /// torn line it leaves is skipped by every later reader.
    @Test(.enabled(if: SmallFileSystem.canMount)) func aShortWriteToTheLedgerIsReported() throws {
        let disk = try SmallFileSystem(bytes: 256 << 10)
        let work = disk.path + "/work"
        let ledger = work + "/ledger/etl_runs.jsonl"
        try FileManager.default.createDirectory(atPath: work + "/ledger", withIntermediateDirectories: true)
        // One page minus 50 bytes: the next entry's first 50 bytes fit, the rest does not.
        try (String(repeating: " ", count: 4096 - 51) + "\n").write(toFile: ledger, atomically: false, encoding: .utf8)
        try disk.fill()
        let sample = Fixtures.url("sample/fma_metadata").path
        let run = try JobProcess.run("etl-extract", ["--metadata", sample, "--work-dir", work, "--dry-run"])
        #expect(run.status == 0, "a dry run writes no ledger entry: \(run.standardError)")
        let normalize = try JobProcess.run("etl-normalize", ["--work-dir", work])
        #expect(normalize.status == 69, "its own outcome is kept: \(normalize.standardError)")
        #expect(normalize.standardError.contains("short write to \(ledger): 50 of "), "\(normalize.standardError)")
        #expect(normalize.standardError.contains("No space left on device"), "\(normalize.standardError)")
        try disk.unfill()
        let again = try JobProcess.run("etl-normalize", ["--work-dir", work])
        #expect(again.status == 69)
        let lines = try String(contentsOfFile: ledger, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 4 && lines[1].count == 50 && lines[2].hasPrefix("{ \"_id\""), "torn line, then a whole entry: \(lines)")
    }

    /// A work directory on a read-only file system stays unwritable until someone changes it: exit
    /// 1 (`failed`), not 69 (`unavailable`, worth retrying), with one plain line naming the path
    /// and the OS's reason, whether the directory exists or is to be created. Needs a tmpfs
    /// remounted read-only, so root, whom permissions would not stop (CI runs as root).
    @Test(.enabled(if: SmallFileSystem.canMount)) func aReadOnlyWorkDirectoryFailsWithExit1NamingThePath() throws {
        let disk = try SmallFileSystem(bytes: 64 << 10)
        try FileManager.default.createDirectory(atPath: disk.path + "/work", withIntermediateDirectories: true)
        try disk.makeReadOnly()
        let sample = Fixtures.url("sample/fma_metadata").path
        for (work, says) in [
            (disk.path + "/work", "cannot create the work-dir lock \(disk.path)/work/.musicetl.lock: Read-only file system"),
            (disk.path + "/new/work", "cannot create the work directory: \(disk.path)/new: cannot create directory: Read-only file system"),
        ] {
            let run = try JobProcess.run("etl-extract", ["--metadata", sample, "--work-dir", work])
            #expect(run.status == 1, "\(run.standardError)")
            #expect(run.lastLine.hasPrefix("etl-extract failed: \(says)"), "\(run.lastLine)")
            #expect(!run.standardError.contains("Error Domain"), "no raw Foundation error: \(run.standardError)")
        }
    }

    /// The same for a directory without write permission (a user other than root).
    @Test(.enabled(if: getuid() != 0, "root writes to a directory without write permission"))
    func anUnwritableWorkDirectoryFailsWithExit1NamingThePath() throws {
        let work = TemporaryDirectory()
        try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: work.path)
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: work.path) }
        let run = try JobProcess.run("etl-extract", ["--metadata", Fixtures.url("sample/fma_metadata").path, "--work-dir", work.path])
        #expect(run.status == 1, "\(run.standardError)")
        #expect(run.lastLine.hasPrefix("etl-extract failed: cannot create the work-dir lock \(work.path)/.musicetl.lock: Permission denied"),
                "\(run.lastLine)")
        #expect(!run.standardError.contains("Error Domain"), "no raw Foundation error: \(run.standardError)")
    }

    /// A file given as the work directory is a mistake in the flag (64, as for `--metadata`), not a
    /// failure (1) with the OS's "Not a directory".
    @Test func aFileGivenAsTheWorkDirectoryIsAUsageError() throws {
        let scratch = TemporaryDirectory()
        let file = scratch.path + "/work.txt"
        try Data("not a directory\n".utf8).write(to: URL(fileURLWithPath: file))
        let run = try JobProcess.run("etl-extract", ["--metadata", Fixtures.url("sample/fma_metadata").path, "--work-dir", file])
        #expect(run.status == 64, "\(run.standardError)")
        #expect(run.lastLine.hasPrefix("etl-extract usage error: --work-dir \(file) is a file, not a directory: give the directory that holds it (\(scratch.path))"),
                "\(run.lastLine)")
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "not a directory\n", "the file is left as it was")
    }

    /// A full disk: every job that has to write exits 1 with "No space left on device" in its
    /// summary line (no trap), and once space is back the next night runs and converges, torn
    /// ledger lines included. Needs a small tmpfs, so root (CI runs as root).
    @Test(.enabled(if: SmallFileSystem.canMount)) func aFullDiskFailsEveryJobWithItsReasonAndTheNextNightConverges() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let disk = try SmallFileSystem(bytes: 2 << 20)
        let work = disk.path + "/work"
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        let metadata = Fixtures.url("sample/fma_metadata").path, audio = Fixtures.url("sample/audio").path
        let night = ["--metadata", metadata, "--tracks-file", "raw_tracks.csv", "--audio", audio, "--work-dir", work]
        let first = try JobProcess.run("etl-nightly", night, environment: environment)
        #expect(first.status == 0, "\(first.standardError)")
        let exported = try Data(contentsOf: URL(fileURLWithPath: work + "/exports/training/output.csv"))

        try disk.fill()
        for (job, arguments) in [
            ("etl-extract", ["--metadata", metadata, "--tracks-file", "raw_tracks.csv", "--force"]),
            ("etl-features", ["--audio", audio, "--force"]),
            ("etl-normalize", ["--force"]),
            ("etl-export", []),
            ("etl-nightly", Array(night.dropLast(2)) + ["--force"]),
        ] {
            let run = try JobProcess.run(job, arguments + ["--work-dir", work], environment: environment)
            #expect(run.status == 1, "\(job): \(run.standardError)")
            #expect(run.lastLine.hasPrefix("\(job) failed") && run.lastLine.contains("No space left on device"),
                    "\(job): \(run.lastLine)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: work + "/exports/training/output.csv")) == exported,
                "the previous export is untouched")

        try disk.unfill()
        let next = try JobProcess.run("etl-nightly", night, environment: environment)
        #expect(next.status == 0, "\(next.standardError)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: work + "/exports/training/output.csv")) == exported)
        let leftovers = try FileManager.default.subpathsOfDirectory(atPath: work).filter { $0.contains(".tmp-") }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }
}

/// A tmpfs of a few megabytes mounted on a temporary directory (root only), to run jobs out of disk.
final class SmallFileSystem {
    let directory = TemporaryDirectory()
    var path: String { directory.path }
    private var filler: String { path + "/filler" }

    static let canMount: Bool = {
        guard getuid() == 0, let probe = try? SmallFileSystem(bytes: 64 << 10) else { return false }
        _ = probe
        return true
    }()

    init(bytes: Int) throws {
        guard Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(bytes)", "tmpfs", directory.path]) == 0 else {
            throw SmallFileSystemError(message: "cannot mount a tmpfs on \(directory.path)")
        }
    }

    deinit { _ = Self.run("/bin/umount", [directory.path]) }

    /// Writes zeros until the file system has no block left.
    func fill() throws {
        let descriptor = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else { throw SmallFileSystemError(message: "cannot create \(filler)") }
        defer { close(descriptor) }
        let block = [UInt8](repeating: 0, count: 4096)
        while block.withUnsafeBytes({ write(descriptor, $0.baseAddress, $0.count) }) > 0 {}
        // Single bytes too, into the last partial block.
        while block.withUnsafeBytes({ write(descriptor, $0.baseAddress, 1) }) > 0 {}
    }

    /// Remounts the file system read-only (EROFS for every write, root's too).
    func makeReadOnly() throws {
        guard Self.run("/bin/mount", ["-o", "remount,ro", directory.path]) == 0 else {
            throw SmallFileSystemError(message: "cannot remount \(directory.path) read-only")
        }
    }

    func unfill() throws {
        try FileManager.default.removeItem(atPath: filler)
    }

    private static func run(_ tool: String, _ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }
}

struct SmallFileSystemError: Error {
    var message: String
}
