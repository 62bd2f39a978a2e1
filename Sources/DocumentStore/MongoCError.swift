import CMongoC
#if canImport(Glibc)
import Glibc
#endif

/// An error reported by libbson or libmongoc, with the library's own domain, code and message.
///
/// `kind` sorts the domains into what a caller decides on: retry, give up with "unavailable", or
/// report the data that the server refused.
public struct MongoError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// No server could be selected or reached: a job maps this to exit code 69.
        case unavailable
        /// A network-level failure on an established connection (reset, timeout): retry may help.
        case network
        /// The server answered with an error (`code` is the server's error code, e.g. 121, 11000).
        case server
        /// Bad input on our side: invalid URI, invalid JSON, a document libbson cannot hold.
        case invalidInput
        case other
    }

    public let domain: UInt32
    public let code: UInt32
    public let message: String
    public let kind: Kind

    public init(domain: UInt32, code: UInt32, message: String, kind: Kind) {
        self.domain = domain
        self.code = code
        self.message = message
        self.kind = kind
    }

    /// Builds the Swift error from a filled-in `bson_error_t`.
    init(_ error: bson_error_t, context: String? = nil) {
        var error = error
        let text = withUnsafeBytes(of: &error.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        domain = error.domain
        code = error.code
        message = context.map { "\($0): \(text)" } ?? text
        kind = Self.classify(domain: error.domain, code: error.code)
    }

    static func classify(domain: UInt32, code: UInt32) -> Kind {
        switch domain {
        case MONGOC_ERROR_SERVER_SELECTION.rawValue:
            return .unavailable
        case MONGOC_ERROR_STREAM.rawValue, MONGOC_ERROR_PROTOCOL.rawValue:
            return .network
        case MONGOC_ERROR_SERVER.rawValue, MONGOC_ERROR_QUERY.rawValue, MONGOC_ERROR_WRITE_CONCERN.rawValue,
             MONGOC_ERROR_COLLECTION.rawValue, MONGOC_ERROR_TRANSACTION.rawValue:
            return .server
        case MONGOC_ERROR_COMMAND.rawValue:
            // libmongoc reports some client-side command problems here; real server codes are > 0 too.
            return code == MONGOC_ERROR_COMMAND_INVALID_ARG.rawValue ? .invalidInput : .server
        case UInt32(BSON_ERROR_JSON), UInt32(BSON_ERROR_INVALID), MONGOC_ERROR_BSON.rawValue:
            return .invalidInput
        default:
            return .other
        }
    }

    /// A failure that the same command may not meet when sent again: the connection broke (a
    /// closed idle socket, a reset) or the server answered with a code MongoDB documents as
    /// transient for retryable writes and reads. Not `.unavailable`: server selection has already
    /// waited `serverSelectionTimeoutMS` for a server, and asking again would only multiply that
    /// wait before the job reports it (exit 69).
    public var isTransient: Bool {
        switch kind {
        case .network: return true
        case .unavailable: return false
        case .server:
            // HostUnreachable, HostNotFound, NetworkTimeout, ShutdownInProgress, PrimarySteppedDown,
            // ExceededTimeLimit, SocketException, NotWritablePrimary, InterruptedAtShutdown,
            // InterruptedDueToReplStateChange, NotPrimaryNoSecondaryOk, NotPrimaryOrSecondary.
            return [6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436].contains(code)
        case .invalidInput, .other: return false
        }
    }

    public var description: String { message }
}

/// libmongoc must be initialised once per process before any other call; Swift runs a global's
/// initializer exactly once, thread-safely. Its own log goes to stderr only from warnings up:
/// connection attempts are reported by our errors, not by a debug line per retry.
let libmongocInitialized: Void = {
    mongoc_init()
    mongoc_log_set_handler({ level, domain, message, _ in
        guard level.rawValue <= MONGOC_LOG_LEVEL_WARNING.rawValue, let message else { return }
        let domainText = domain.map { String(cString: $0) } ?? "mongoc"
        let line = "libmongoc \(domainText): \(MongoConnection.redactSecrets(in: String(cString: message)))\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }, nil)
}()
