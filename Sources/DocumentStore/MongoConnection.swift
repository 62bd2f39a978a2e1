import CMongoC
import Foundation

/// A connection to a MongoDB deployment: owns a `mongoc_uri_t` and a thread-safe
/// `mongoc_client_pool_t`. Borrow a `MongoClient` per task with `client()`. Commands that are
/// safe to apply twice are sent again after a transient error, as `retry` says.
public final class MongoConnection: @unchecked Sendable {
    // @unchecked: libmongoc documents the pool as thread-safe; the URI is never mutated after init.
    private let uri: OpaquePointer
    private let pool: OpaquePointer
    /// `host:port[,host:port]`, never the credentials: safe for logs and error messages.
    public let serverDescription: String
    public let redactedURI: String
    /// How idempotent commands are sent again after a transient error (see `RetryPolicy`).
    public let retry: RetryPolicy

    /// Defaults a batch job wants when the URI says nothing: fail fast when the server is away,
    /// and never hang forever on a stuck socket.
    public static let defaultOptions: [String: Int32] = [
        MONGOC_URI_SERVERSELECTIONTIMEOUTMS: 3_000,
        MONGOC_URI_CONNECTTIMEOUTMS: 3_000,
        MONGOC_URI_SOCKETTIMEOUTMS: 60_000,
    ]

    public init(uri uriString: String, appName: String = "musicetl", retry: RetryPolicy = RetryPolicy()) throws(MongoError) {
        _ = libmongocInitialized
        var error = bson_error_t()
        let redacted = Self.redact(uriString)
        guard let uri = mongoc_uri_new_with_error(uriString, &error) else {
            // libmongoc's message may quote the URI; ours names only the redacted form.
            throw MongoError(domain: error.domain, code: error.code,
                             message: "invalid MongoDB URI \(redacted)", kind: .invalidInput)
        }
        for (option, value) in Self.defaultOptions where !mongoc_uri_has_option(uri, option) {
            mongoc_uri_set_option_as_int32(uri, option, value)
        }
        guard let pool = mongoc_client_pool_new_with_error(uri, &error) else {
            mongoc_uri_destroy(uri)
            throw MongoError(error, context: "cannot create a client pool for \(redacted)")
        }
        mongoc_client_pool_set_error_api(pool, Int32(MONGOC_ERROR_API_VERSION_2))
        mongoc_client_pool_set_appname(pool, appName)
        self.uri = uri
        self.pool = pool
        self.redactedURI = redacted
        self.retry = retry
        self.serverDescription = Self.hosts(of: uri)
    }

    deinit {
        mongoc_client_pool_destroy(pool)
        mongoc_uri_destroy(uri)
    }

    /// A client from the pool; it goes back to the pool when the last reference to it is gone.
    public func client() throws(MongoError) -> MongoClient {
        guard let client = mongoc_client_pool_pop(pool) else {
            throw MongoError(domain: 0, code: 0, message: "the client pool returned no client", kind: .other)
        }
        return MongoClient(client: client, connection: self)
    }

    fileprivate func giveBack(_ client: OpaquePointer) {
        mongoc_client_pool_push(pool, client)
    }

    /// Round trip to the server; throws `.unavailable` (naming the server) when none can be selected.
    public func ping() throws(MongoError) {
        let client = try client()
        do {
            _ = try client.runCommand(["ping": 1], database: "admin", idempotent: true)
        } catch where error.kind == .unavailable || error.kind == .network {
            throw MongoError(domain: error.domain, code: error.code,
                             message: "MongoDB at \(serverDescription) is unavailable: \(error.message)",
                             kind: error.kind)
        }
    }

    /// Hides the credentials of a connection string, valid or not: everything between the
    /// scheme's `:` (and its slashes) and the last `@` becomes `***`, keeping the user name when a
    /// `:` separates it from the password (`mongodb://etl:***@db1`). The scheme is matched in any
    /// case (`MONGODB://`, `mongodb:/`, `mongodb+srv://`); without one, a `user:password@host`
    /// (after a `=` in a flag) is redacted the same way. A raw `@` in the user name or password
    /// cannot leak part of it, since the last `@` ends the credentials.
    public static func redact(_ uri: String) -> String {
        guard let at = uri.lastIndex(of: "@") else { return uri }
        let start: String.Index
        var hasScheme = false
        if let scheme = uri.range(of: "mongodb(\\+srv)?:/*", options: [.regularExpression, .caseInsensitive]),
           scheme.upperBound <= at {
            start = scheme.upperBound
            hasScheme = true
        } else if let scheme = uri.range(of: "[A-Za-z][A-Za-z0-9+.-]*:/+", options: .regularExpression),
                  scheme.upperBound <= at {
            start = scheme.upperBound
            hasScheme = true
        } else if let equals = uri[..<at].lastIndex(of: "=") {
            start = uri.index(after: equals)
        } else {
            start = uri.startIndex
        }
        let credentials = uri[start..<at]
        guard !credentials.isEmpty else { return uri }
        if let colon = credentials.firstIndex(of: ":") {
            return String(uri[...colon]) + "***" + String(uri[at...])
        }
        // `user@host` without a scheme is an address, not a secret.
        guard hasScheme else { return uri }
        return String(uri[..<start]) + "***" + String(uri[at...])
    }

    /// Redacts the credentials of every connection string inside a text (see `redact`). On each
    /// line, a string with a `mongodb` scheme is redacted up to the line's last `@`, so a password
    /// holding blanks or quotes leaks no part of itself; elsewhere each word between blanks or
    /// quotes that holds an `@` is redacted on its own (`user:password@host` after a `=`).
    public static func redactSecrets(in text: String) -> String {
        guard text.contains("@") else { return text }
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            let line = String(line)
            guard let scheme = line.range(of: "mongodb(\\+srv)?:/*", options: [.regularExpression, .caseInsensitive]) else {
                return redactWords(line)
            }
            return redactWords(String(line[..<scheme.lowerBound])) + redact(String(line[scheme.lowerBound...]))
        }.joined(separator: "\n")
    }

    private static func redactWords(_ text: String) -> String {
        guard text.contains("@") else { return text }
        var result = ""
        var word = ""
        for character in text {
            if character.isWhitespace || character == "\"" || character == "'" || character == "`" {
                result += redact(word)
                word = ""
                result.append(character)
            } else {
                word.append(character)
            }
        }
        return result + redact(word)
    }

    private static func hosts(of uri: OpaquePointer) -> String {
        var names: [String] = []
        var host = mongoc_uri_get_hosts(uri)
        while let current = host {
            let hostAndPort = withUnsafeBytes(of: current.pointee.host_and_port) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            names.append(hostAndPort)
            host = UnsafePointer(current.pointee.next)
        }
        return names.isEmpty ? "(no host in URI)" : names.joined(separator: ",")
    }
}

/// One client borrowed from a pool (`mongoc_client_t` is not thread-safe: use it from one task).
public final class MongoClient {
    let handle: OpaquePointer
    private let connection: MongoConnection

    fileprivate init(client: OpaquePointer, connection: MongoConnection) {
        self.handle = client
        self.connection = connection
    }

    deinit { connection.giveBack(handle) }

    public var serverDescription: String { connection.serverDescription }

    public func collection(_ name: String, database: String) throws(MongoError) -> MongoCollection {
        guard let collection = mongoc_client_get_collection(handle, database, name) else {
            throw MongoError(domain: 0, code: 0, message: "no handle for collection \(database).\(name)", kind: .other)
        }
        return MongoCollection(handle: collection, client: self, name: name, database: database)
    }

    var retry: RetryPolicy { connection.retry }

    /// Runs a command and returns the server's reply. `idempotent`: the command changes nothing
    /// when applied twice (a read, an upsert or delete by `_id`, `createIndexes`, …), so it is sent
    /// again after a transient error (`RetryPolicy`); otherwise it is sent once, since it may have
    /// applied before its reply was lost.
    @discardableResult
    public func runCommand(_ command: Document, database: String, idempotent: Bool) throws(MongoError) -> Document {
        let commandDocument = try BSONDocument(command)
        let commandName = command.fields.first?.key ?? "command"
        let send = { () throws(MongoError) -> Document in
            var error = bson_error_t()
            let (succeeded, reply) = try BSONDocument.receivingReply {
                mongoc_client_command_simple(self.handle, database, commandDocument.pointer, nil, $0, &error)
            }
            guard succeeded else { throw MongoError(error, context: "\(commandName) on \(database)") }
            return try reply.document()
        }
        if idempotent { return try retry.run(send) }
        return try send()
    }
}
