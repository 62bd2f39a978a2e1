import Foundation

/// How a connection sends a command again after a transient failure (`MongoError.isTransient`).
///
/// Only commands that change nothing when applied twice are sent again: reads and counts (the
/// command that opens a cursor included), `createIndexes`, validator installs, upserts and
/// replacements by `_id`, deletes by `_id` (or by a filter only this writer's documents match).
/// The reason is a connection closed while it sat idle in the pool: a server (the bundled test
/// server after 300 s), a firewall or a load balancer closes it, and the first command sent on it
/// fails although the server is fine. libmongoc's own retries do not cover it: its retryable
/// writes need a replica set (a standalone server has none), its retryable reads cover only some
/// read helpers and retry once, and in pooled mode it never checks an idle socket before using
/// it (`socketCheckIntervalMS` applies to single-threaded clients only).
public struct RetryPolicy: Sendable {
    /// Sends in all, the first one included: 1 never sends again.
    public var attempts: Int
    /// The wait before the first resend; each later wait is twice the one before.
    public var firstDelay: Duration
    /// Told of each resend before its wait (a job logs it as a warning).
    public var warn: @Sendable (String) -> Void

    public init(attempts: Int = 4, firstDelay: Duration = .milliseconds(250),
                warn: @escaping @Sendable (String) -> Void = RetryPolicy.writeToStandardError) {
        self.attempts = attempts
        self.firstDelay = firstDelay
        self.warn = warn
    }

    /// Every command is sent once.
    public static let never = RetryPolicy(attempts: 1)

    @Sendable public static func writeToStandardError(_ message: String) {
        FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
    }

    /// Runs `operation`, again after each transient error while attempts remain (waiting
    /// `firstDelay`, then twice as long each time); any other error, and the last transient one,
    /// is thrown. `operation` must be safe to apply twice: see the type's documentation.
    func run<T>(_ operation: () throws(MongoError) -> T) throws(MongoError) -> T {
        var delay = firstDelay
        var attempt = 1
        while true {
            do {
                return try operation()
            } catch where error.isTransient && attempt < attempts {
                attempt += 1
                warn("\(error.message): sending it again in \(delay) (attempt \(attempt) of \(attempts))")
                Thread.sleep(forTimeInterval: Double(delay.components.seconds) + Double(delay.components.attoseconds) * 1e-18)
                delay *= 2
            }
        }
    }
}
