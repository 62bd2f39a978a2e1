import DocumentStore
import Foundation
import Synchronization
import Tabular

/// An exclusive lock on a work directory (`WORK/.musicetl.lock`, `flock`), so two runs never
/// write the same staging files. The kernel releases it when the holder dies, however it dies,
/// so a stale lock from a killed run is simply taken over. The file names the holder (job, pid,
/// host, run id, start time) for the message the second run prints.
///
/// Re-entrant within one process: `etl-nightly` holds it and runs its steps in-process.
public final class WorkLock {
    private static let heldByThisProcess = Mutex<[String: Int]>([:])

    private let path: String
    private let descriptor: Int32

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    deinit {
        let last = Self.heldByThisProcess.withLock { held -> Bool in
            held[path, default: 1] -= 1
            if held[path] == 0 { held[path] = nil; return true }
            return false
        }
        if descriptor >= 0 && last {
            _ = flock(descriptor, LOCK_UN)
        }
        if descriptor >= 0 { close(descriptor) }
    }

    public static func acquire(_ work: WorkDirectory, job: String, runID: String,
                               host: String = ProcessInfo.processInfo.hostName) throws(JobError) -> WorkLock {
        let path = work.root.appendingPathComponent(".musicetl.lock").path
        let nested = heldByThisProcess.withLock { held -> Bool in
            guard let depth = held[path] else { return false }
            held[path] = depth + 1
            return true
        }
        if nested { return WorkLock(path: path, descriptor: -1) }
        // A file where the work directory should be is a mistake in the flag or setting (64), as
        // for the input directories; left to the directory creation it would fail as "Not a directory".
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: work.root.path, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw InputDirectory.notADirectory(work.root.path, flag: "--work-dir")
        }
        // A work directory that cannot be written (read-only, no permission, a full disk) stays
        // so until someone changes it: a failure (1), not a transient "unavailable" (69).
        do throws(FileWriteError) {
            try AtomicFileWriter.createParentDirectories(of: path)
        } catch {
            throw JobError(.failure, "cannot create the work directory: \(error.description)")
        }
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw JobError(.failure, "cannot create the work-dir lock \(path): \(String(cString: strerror(errno)))")
        }
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(descriptor)
            throw JobError(.locked, "\(work.root.path) is locked by another run (\(holder.isEmpty ? "holder unknown" : holder)); try again later")
        }
        let holder = "\(job) pid \(getpid()) on \(host), run \(runID), since \(Date().formatted(.iso8601))\n"
        _ = ftruncate(descriptor, 0)
        _ = holder.withCString { pwrite(descriptor, $0, strlen($0), 0) }
        heldByThisProcess.withLock { $0[path] = 1 }
        return WorkLock(path: path, descriptor: descriptor)
    }
}
