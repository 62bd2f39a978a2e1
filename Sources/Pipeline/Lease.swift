import DocumentStore
import Foundation
import Synchronization

/// A lease document in MongoDB (`locks` collection) with an expiry, so two hosts never run the
/// nightly pipeline at once. Taken with one upsert that only matches a free or expired lease
/// (or our own); a live lease of another holder makes the insert collide on `_id` (11000).
/// The holder renews it while it works; a crashed holder's lease simply expires. A holder that
/// could not renew in time and finds the lease taken by another has lost it (`checkHeld`).
public final class Lease: @unchecked Sendable {
    // @unchecked: the connection is a thread-safe pool; `lostTo` is behind a mutex; the rest is immutable.
    public let name: String
    public let holder: String
    /// The host part of `holder` (`--host-id`): a dead holder of this host is taken over.
    public let host: String
    private let connection: MongoConnection
    private let database: String
    private let duration: TimeInterval
    /// Why the lease is no longer this run's since a renewal found it taken or gone (nil while it is ours).
    private let lostTo = Mutex<String?>(nil)

    /// The holder is `"<host> pid <pid> boot <process space> <detail>"`: a lease left by a dead
    /// process of the same host id *and* the same process space (see `ProcessSpace`) is taken over
    /// at once instead of blocking until it expires. A pid alone is not enough: two hosts given
    /// the same `--host-id`, or two containers, would each see the other's pid as dead.
    public init(name: String, host: String, detail: String, connection: MongoConnection, database: String,
                duration: TimeInterval = 600) {
        self.name = name
        self.host = host
        self.holder = "\(host) pid \(getpid()) boot \(ProcessSpace.current) \(detail)"
        self.connection = connection
        self.database = database
        self.duration = duration
    }

    /// Takes or renews the lease; throws `JobError(.locked)` naming the current holder.
    public func acquire() throws {
        do {
            try acquire(replacingDeadHolder: nil)
        } catch let taken as HeldByAnother {
            throw JobError(.locked, "the \(name) lease is held by \(taken.holder) until \(taken.until); try again later")
        }
        Interruption.hold(self)
    }

    /// The lease is another holder's, live, until `until`.
    private struct HeldByAnother: Error {
        var holder: String
        var until: String
    }

    /// Takes or renews the lease; true when the lease document was created (there was none).
    @discardableResult
    private func acquire(replacingDeadHolder deadHolder: String?) throws -> Bool {
        let client = try connection.client()
        let now = Date()
        var claimable: [BSONValue] = [.document(["expires_at": .document(["$lt": .date(now)])]),
                                      .document(["holder": .string(holder)])]
        if let deadHolder { claimable.append(.document(["holder": .string(deadHolder)])) }
        let update: Document = [
            "q": .document(["_id": .string(name), "$or": .array(claimable)]),
            "u": .document(["$set": .document(["holder": .string(holder), "expires_at": .date(now.addingTimeInterval(duration)),
                                               "renewed_at": .date(now)])]),
            "upsert": true,
        ]
        // Sent again after a transient error: when the lost attempt had applied, the lease names
        // this holder, which the filter matches, so the resend sets the same fields; when it had
        // not, the resend is the first attempt. Either way the reply says who holds it now.
        let reply = try client.runCommand(["update": "locks", "updates": .array([.document(update)])], database: database,
                                          idempotent: true)
        if let error = reply["writeErrors"]?.arrayValue?.first?.documentValue {
            guard error["code"]?.int64Value == 11000 else {
                throw JobError(.failure, "lease \(name): \(error["errmsg"]?.stringValue ?? "write error")")
            }
            let current = try client.collection("locks", database: database).find(["_id": .string(name)]).next()
            let who = current?["holder"]?.stringValue ?? "another host"
            if deadHolder == nil, Self.isDeadProcess(who, of: host, in: ProcessSpace.current) {
                return try acquire(replacingDeadHolder: who)
            }
            let until = current?["expires_at"].map { if case .dateTime(let ms) = $0 { return Date(timeIntervalSince1970: Double(ms) / 1000).formatted(.iso8601) } else { return "?" } } ?? "?"
            throw HeldByAnother(holder: who, until: until)
        }
        return reply["upserted"] != nil
    }

    /// True when `holder` names a process of `host` in process space `space`
    /// (`"<host> pid <pid> boot <space> …"`) that no longer runs. A holder of another process space
    /// (another machine with the same host id, another container, an earlier boot) or in an older
    /// format is never called dead here: its lease expires instead.
    static func isDeadProcess(_ holder: String, of host: String, in space: String) -> Bool {
        let parts = holder.split(separator: " ")
        guard parts.count >= 5, parts[0] == host, parts[1] == "pid", let pid = pid_t(parts[2]),
              parts[3] == "boot", parts[4] == space else { return false }
        return kill(pid, 0) != 0 && errno == ESRCH
    }

    /// Throws `JobError(.unavailable)` when a renewal found the lease held by another holder: it
    /// expired while this run could not renew it (the server unreachable for its whole duration),
    /// and another night may be running, so this one must not start another step.
    public func checkHeld(before step: String) throws {
        if let lost = lossError(stopped: "before \(step)") { throw lost }
    }

    /// Throws `JobError(.unavailable)` when the lease was lost while `step` ran (the step was
    /// stopped for it, see `Interruption.stop`).
    public func checkHeld(during step: String) throws {
        if let lost = lossError(stopped: "during \(step)") { throw lost }
    }

    /// What a run whose lease another holder has now reports, `stopped` ("before etl-load")
    /// appended; nil while the lease is this run's.
    public func lossError(stopped: String? = nil) -> JobError? {
        guard let reason = lostTo.withLock({ $0 }) else { return nil }
        let message = "the \(name) lease expired before this run could renew it (\(reason))"
        return JobError(.unavailable, message + (stopped.map { ": stopped " + $0 } ?? ""))
    }

    /// Renews the lease once; a renewal that finds another holder, or no lease document at all,
    /// records the loss (`checkHeld`).
    /// Other failures (the server unreachable for a moment) are left to the next renewal.
    func renew() {
        do {
            // Created anew: the lease had expired and another run had taken and released it since.
            if try acquire(replacingDeadHolder: nil) {
                lostTo.withLock { $0 = "another run may have held it since: its lease document was gone" }
            }
        } catch let taken as HeldByAnother {
            lostTo.withLock { $0 = "it is now held by \(taken.holder)" }
        } catch {}
    }

    /// Gives the lease up (only if it is still ours), so the next night, on any host, starts at once.
    public func release() {
        Interruption.drop(self)
        guard let client = try? connection.client() else { return }
        // Deletes only this holder's lease: safe to send again.
        _ = try? client.runCommand(["delete": "locks", "deletes": .array([.document([
            "q": .document(["_id": .string(name), "holder": .string(holder)]), "limit": 1])])], database: database,
                                   idempotent: true)
    }

    /// Renews the lease every third of its duration until the task is cancelled or the lease is lost.
    public func keepRenewed() async {
        while !Task.isCancelled, lostTo.withLock({ $0 }) == nil {
            try? await Task.sleep(for: .seconds(duration / 3))
            if Task.isCancelled { return }
            renew()
        }
    }
}

/// What makes a pid meaningful: this boot of this kernel and this process's pid namespace
/// (`<first 8 hex digits of the boot id>.<pid namespace inode>`). Two processes with equal
/// `ProcessSpace` can see each other's pids; without `/proc` it names this process alone.
enum ProcessSpace {
    static let current: String = {
        guard let boot = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8),
              let namespace = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid"),
              let open = namespace.firstIndex(of: "["), let close = namespace.lastIndex(of: "]"), open < close
        else { return "unknown-\(getpid())" }
        let bootPrefix = boot.filter(\.isHexDigit).prefix(8)
        return "\(bootPrefix).\(namespace[namespace.index(after: open)..<close])"
    }()
}
