import DocumentStore
import Foundation
import Logging

/// Where a stage's MongoDB is: the connection string and the database name.
public struct MongoTarget: Sendable, Equatable {
    public var uri: String
    public var database: String

    public static let defaultURI = "mongodb://127.0.0.1:27017/?directConnection=true"
    public static let defaultDatabase = "musicetl"

    public init(uri: String, database: String) {
        self.uri = uri
        self.database = database
    }

    /// `MUSICETL_DB` when set and not empty (an empty variable counts as unset, as everywhere),
    /// else `musicetl`.
    public static var databaseFromEnvironment: String {
        database(fromEnvironment: ProcessInfo.processInfo.environment)
    }

    public static func database(fromEnvironment environment: [String: String]) -> String {
        environment["MUSICETL_DB"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultDatabase
    }

    /// `MONGODB_URI` and `MUSICETL_DB` when set, else a local server's `musicetl`.
    public static var fromEnvironment: MongoTarget {
        let environment = ProcessInfo.processInfo.environment
        return MongoTarget(uri: environment["MONGODB_URI"] ?? defaultURI, database: databaseFromEnvironment)
    }

    /// Connects and pings, so an absent server fails the job at once with exit 69. A command
    /// sent again after a transient error (see `RetryPolicy`) is a warning in `logger`.
    public func connect(job: String, logger: Logger) throws -> MongoConnection {
        let connection = try MongoConnection(uri: uri, appName: "musicetl/\(job)",
                                             retry: RetryPolicy(warn: { logger.warning("MongoDB: \($0)") }))
        try connection.ping()
        return connection
    }
}
