import ArgumentParser
import DocumentStore
import Foundation
import Pipeline

/// A job: an argument-parsing command whose work is `execute`, run under `JobRunner` (logging,
/// summary line, exit status). `etl-nightly` calls `execute` of each step with one run id.
public protocol JobCommand: AsyncParsableCommand {
    static var jobName: String { get }
    var common: CommonOptions { get }
    func execute(_ context: JobContext) async throws -> JobSummary
}

extension JobCommand {
    public func run() async throws {
        let (status, _) = await JobRunner.run(job: Self.jobName, options: common) { try await execute($0) }
        if status != .ok { throw ExitCode(status.rawValue) }
    }

    func schemaCatalog() throws -> SchemaCatalog {
        try SchemaCatalog.locate(explicit: common.schemas)
    }
}

/// Where MongoDB is: `--mongodb-uri`, else `MONGODB_URI`, else a local server on the default port.
public struct MongoOptions: ParsableArguments, Sendable {
    @Option(name: .long, help: "MongoDB connection string (default: $MONGODB_URI, else mongodb://127.0.0.1:27017).")
    public var mongodbUri: String?

    @Option(name: .long, help: "Database name (default: $MUSICETL_DB, else musicetl).")
    public var db: String?

    public init() {}

    public var uri: String {
        mongodbUri ?? ProcessInfo.processInfo.environment["MONGODB_URI"] ?? "mongodb://127.0.0.1:27017/?directConnection=true"
    }

    public var database: String {
        db ?? ProcessInfo.processInfo.environment["MUSICETL_DB"] ?? "musicetl"
    }

    /// Connects and pings, so an absent server fails the job at once with exit 69.
    func connect(job: String) throws -> MongoConnection {
        let connection = try MongoConnection(uri: uri, appName: "musicetl/\(job)")
        try connection.ping()
        return connection
    }
}

/// The body of every `Jobs/<name>/main.swift`. Called in a generic context so that Swift picks
/// `AsyncParsableCommand`'s asynchronous `main()`, not the synchronous one.
public func runJob<Command: AsyncParsableCommand>(_ command: Command.Type) async {
    await command.main()
}
