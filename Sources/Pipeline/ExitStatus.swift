import DocumentStore
import Tabular

/// The exit codes of every job (sysexits.h values, so cron wrappers and shells know them).
public enum ExitStatus: Int32, Sendable, CustomStringConvertible {
    case ok = 0
    case failure = 1
    /// Bad flags or configuration.
    case usage = 64
    /// Bad input data: too many rejected rows, a CSV that cannot be parsed, a missing required column.
    case dataError = 65
    /// MongoDB or an input directory is unavailable.
    case unavailable = 69
    /// Another run holds the lock: try again later.
    case locked = 75
    /// Stopped by SIGINT (128 + 2, what a shell reports for Ctrl-C).
    case interrupted = 130
    /// Stopped by SIGTERM (128 + 15: systemd, Kubernetes, `kill`).
    case terminated = 143

    public var description: String {
        switch self {
        case .ok: "ok"
        case .failure: "failed"
        case .usage: "usage error"
        case .dataError: "data error"
        case .unavailable: "unavailable"
        case .locked: "locked"
        case .interrupted, .terminated: "interrupted"
        }
    }
}

/// An error a job reports on purpose, with the exit status it implies and a one-line message.
public struct JobError: Error, Sendable, CustomStringConvertible {
    public var status: ExitStatus
    public var message: String

    public init(_ status: ExitStatus, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { message }

    /// Sorts any error into an exit status and a one-line message for the summary.
    public static func classify(_ error: any Error) -> JobError {
        switch error {
        case let error as JobError:
            return error
        case let error as MongoError:
            let status: ExitStatus = switch error.kind {
            case .unavailable, .network: .unavailable
            case .invalidInput: .usage
            case .server, .other: .failure
            }
            return JobError(status, error.message.hasPrefix("MongoDB") ? error.message : "MongoDB: " + error.message)
        case let error as CSVError:
            return JobError(.dataError, error.description)
        case let error as SchemaError:
            return JobError(.usage, error.description)
        case let error as JSONLinesError:
            return JobError(.dataError, error.description)
        case let error as FileWriteError:
            return JobError(.failure, error.description)
        default:
            return JobError(.failure, String(describing: error))
        }
    }
}
