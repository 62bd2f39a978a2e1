import DocumentStore
import Foundation

/// A lease document in MongoDB (`locks` collection) with an expiry, so two hosts never run the
/// nightly pipeline at once. Taken with one upsert that only matches a free or expired lease
/// (or our own); a live lease of another holder makes the insert collide on `_id` (11000).
/// The holder renews it while it works; a crashed holder's lease simply expires.
public final class Lease: @unchecked Sendable {
    // @unchecked: the connection is a thread-safe pool; the other fields are immutable.
    public let name: String
    public let holder: String
    /// The host part of `holder` (`--host-id`): a dead holder of this host is taken over.
    public let host: String
    private let connection: MongoConnection
    private let database: String
    private let duration: TimeInterval

    /// The holder is `"<host> pid <pid> <detail>"`: a lease left by a dead process of this host is
    /// taken over at once instead of blocking until it expires.
    public init(name: String, host: String, detail: String, connection: MongoConnection, database: String,
                duration: TimeInterval = 600) {
        self.name = name
        self.host = host
        self.holder = "\(host) pid \(getpid()) \(detail)"
        self.connection = connection
        self.database = database
        self.duration = duration
    }

    /// Takes or renews the lease; throws `JobError(.locked)` naming the current holder.
    public func acquire() throws {
        try acquire(replacingDeadHolder: nil)
        Interruption.hold(self)
    }

    private func acquire(replacingDeadHolder deadHolder: String?) throws {
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
            if deadHolder == nil, Self.isDeadProcess(who, of: host) {
                try acquire(replacingDeadHolder: who)
                return
            }
            let until = current?["expires_at"].map { if case .dateTime(let ms) = $0 { return Date(timeIntervalSince1970: Double(ms) / 1000).formatted(.iso8601) } else { return "?" } } ?? "?"
            throw JobError(.locked, "the \(name) lease is held by \(who) until \(until); try again later")
        }
    }

    /// True when `holder` names a process of `host` (`"<host> pid <pid> …"`) that no longer runs.
    static func isDeadProcess(_ holder: String, of host: String) -> Bool {
        let parts = holder.split(separator: " ")
        guard parts.count >= 3, parts[0] == host, parts[1] == "pid",
              let pid = pid_t(parts[2]) else { return false }
        return kill(pid, 0) != 0 && errno == ESRCH
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

    /// Renews the lease every third of its duration until the task is cancelled.
    public func keepRenewed() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(duration / 3))
            if Task.isCancelled { return }
            try? acquire()
        }
    }
}
