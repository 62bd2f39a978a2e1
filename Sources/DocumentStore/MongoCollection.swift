import CMongoC

/// A collection handle (`mongoc_collection_t`), owned; keeps its client alive.
///
/// Every command here is safe to apply twice, and is sent again after a transient error as the
/// connection's `RetryPolicy` says (a cursor only until its first batch arrived: see `MongoCursor`).
public final class MongoCollection {
    let handle: OpaquePointer
    let client: MongoClient
    public let name: String
    public let database: String

    init(handle: OpaquePointer, client: MongoClient, name: String, database: String) {
        self.handle = handle
        self.client = client
        self.name = name
        self.database = database
    }

    deinit { mongoc_collection_destroy(handle) }

    public var namespace: String { "\(database).\(name)" }

    var retry: RetryPolicy { client.retry }

    public func countDocuments(_ filter: Document = [:]) throws(MongoError) -> Int64 {
        let filterDocument = try BSONDocument(filter)
        return try retry.run { () throws(MongoError) -> Int64 in
            var error = bson_error_t()
            let count = mongoc_collection_count_documents(handle, filterDocument.pointer, nil, nil, nil, &error)
            guard count >= 0 else { throw MongoError(error, context: "count on \(namespace)") }
            return count
        }
    }

    /// A streaming cursor: documents arrive in server batches, so memory stays flat. Nothing is
    /// sent until the cursor's first `next()`.
    public func find(_ filter: Document = [:], options: Document = [:]) throws(MongoError) -> MongoCursor {
        try MongoCursor(collection: self, filter: BSONDocument(filter), options: BSONDocument(options))
    }

    /// Unordered bulk `replaceOne({_id}, doc, {upsert: true})` of documents that each carry `_id`.
    ///
    /// Documents the server refuses come back in `writeErrors` (with their index in `documents`)
    /// while the rest land; only a failure of the whole batch (network, no server) throws.
    /// Sent again whole after a transient error (replacing by `_id` twice stores the same): when
    /// the lost attempt had applied, the counts then say `matched` for documents it inserted.
    public func upsertByID(_ documents: [BSONDocument]) throws(MongoError) -> BulkWriteResult {
        guard !documents.isEmpty else { return BulkWriteResult() }
        let bulkOptions = try BSONDocument(["ordered": false])
        // libmongoc's client-side check of each replacement (`validate`) is off: it walks every key
        // and string for UTF-8 and empty or `$` keys, the largest part of a load's client CPU per
        // document. A `BSONDocument`'s text is valid UTF-8 already (Swift strings; ExtendedJSONParser
        // refuses anything else), and the server checks what it stores: a key it refuses is that
        // document's write error (the load quarantines it), not a failure of the whole batch.
        let replaceOptions = try BSONDocument(["upsert": true, "validate": .bool(false)])
        var selectors: [BSONDocument] = []
        selectors.reserveCapacity(documents.count)
        for (index, document) in documents.enumerated() {
            guard let selector = try document.idSelector() else {
                throw MongoError(domain: UInt32(BSON_ERROR_INVALID), code: 0,
                                 message: "document \(index) for \(namespace) has no _id", kind: .invalidInput)
            }
            selectors.append(selector)
        }
        // A bulk operation executes once: each attempt builds its own.
        return try retry.run { () throws(MongoError) -> BulkWriteResult in
            guard let bulk = mongoc_collection_create_bulk_operation_with_opts(handle, bulkOptions.pointer) else {
                throw MongoError(domain: 0, code: 0, message: "no bulk operation for \(namespace)", kind: .other)
            }
            defer { mongoc_bulk_operation_destroy(bulk) }
            var error = bson_error_t()
            for (index, document) in documents.enumerated() {
                guard mongoc_bulk_operation_replace_one_with_opts(bulk, selectors[index].pointer, document.pointer,
                                                                  replaceOptions.pointer, &error) else {
                    throw MongoError(error, context: "queueing document \(index) for \(namespace)")
                }
            }
            let (succeeded, reply) = try BSONDocument.receivingReply { mongoc_bulk_operation_execute(bulk, $0, &error) != 0 }
            let result = BulkWriteResult(reply: reply)
            if !succeeded && result.writeErrors.isEmpty {
                throw MongoError(error, context: "bulk write to \(namespace)")
            }
            return result
        }
    }

    /// Creates indexes (a no-op for those that already exist with the same keys and options).
    public func createIndexes(_ indexes: [Document]) throws(MongoError) {
        guard !indexes.isEmpty else { return }
        try client.runCommand(["createIndexes": .string(name), "indexes": .array(indexes.map { .document($0) })],
                              database: database, idempotent: true)
    }

    public func drop() throws(MongoError) {
        try retry.run { () throws(MongoError) -> Void in
            var error = bson_error_t()
            // "ns not found" (26) means there was nothing to drop: the state we wanted.
            if !mongoc_collection_drop(handle, &error) && error.code != 26 {
                throw MongoError(error, context: "drop \(namespace)")
            }
        }
    }
}

/// The outcome of one bulk write, from the server's reply.
public struct BulkWriteResult: Sendable, Equatable {
    public struct WriteError: Sendable, Equatable {
        /// Position of the refused document in the batch.
        public var index: Int
        /// The server's error code (121 document failed validation, 11000 duplicate key, …).
        public var code: Int
        public var message: String
    }

    public var inserted = 0
    public var upserted = 0
    public var matched = 0
    public var modified = 0
    public var writeErrors: [WriteError] = []

    public init() {}

    /// Reads the counts and write errors of libmongoc's reply (not its `upserted` list of every
    /// inserted id, which nothing here needs).
    init(reply: BSONDocument) {
        func count(_ key: String) -> Int { reply[key]?.int64Value.map { Int($0) } ?? 0 }
        inserted = count("nInserted")
        upserted = count("nUpserted")
        matched = count("nMatched")
        modified = count("nModified")
        writeErrors = (reply["writeErrors"]?.arrayValue ?? []).compactMap { entry in
            guard let error = entry.documentValue else { return nil }
            return WriteError(index: Int(error["index"]?.int64Value ?? -1),
                              code: Int(error["code"]?.int64Value ?? 0),
                              message: error["errmsg"]?.stringValue ?? "")
        }
    }
}

/// A server cursor (`mongoc_cursor_t`), owned; iterate with `next()`.
///
/// The `find` that opens it (and brings the first batch) is sent again on a fresh cursor after a
/// transient error, as the connection's `RetryPolicy` says: nothing was read yet. A later batch
/// (`getMore`) that fails is not: the server cursor went with the connection, and a new `find`
/// would start again from the first document, so the error is thrown and the caller's job fails
/// (its re-run converges). A cursor being read is not idle, so an idle-closed connection meets
/// the first batch, not a later one.
public final class MongoCursor {
    private var handle: OpaquePointer
    private let collection: MongoCollection
    private let filter: BSONDocument
    private let options: BSONDocument
    /// The first batch arrived (or the cursor ended): from now on, errors are thrown.
    private var opened = false

    init(collection: MongoCollection, filter: BSONDocument, options: BSONDocument) throws(MongoError) {
        self.collection = collection
        self.filter = filter
        self.options = options
        handle = try Self.open(collection, filter: filter, options: options)
    }

    private static func open(_ collection: MongoCollection, filter: BSONDocument, options: BSONDocument) throws(MongoError) -> OpaquePointer {
        guard let cursor = mongoc_collection_find_with_opts(collection.handle, filter.pointer, options.pointer, nil) else {
            throw MongoError(domain: 0, code: 0, message: "find on \(collection.namespace) returned no cursor", kind: .other)
        }
        return cursor
    }

    deinit { mongoc_cursor_destroy(handle) }

    /// The next document, or nil at the end; throws when the server or network fails mid-way.
    public func next() throws(MongoError) -> Document? {
        try nextBorrowed()?.document()
    }

    /// The next document as libmongoc lends it (valid until the next call: read it at once), or
    /// nil at the end; for readers that turn documents into bytes without Swift values.
    public func nextBorrowed() throws(MongoError) -> BorrowedBSON? {
        if opened { return try fetch() }
        var firstAttempt = true
        let first = try collection.retry.run { () throws(MongoError) -> BorrowedBSON? in
            if !firstAttempt {
                let fresh = try Self.open(collection, filter: filter, options: options)
                mongoc_cursor_destroy(handle)
                handle = fresh
            }
            firstAttempt = false
            return try fetch()
        }
        opened = true
        return first
    }

    private func fetch() throws(MongoError) -> BorrowedBSON? {
        var borrowed: OpaquePointer?
        if mongoc_cursor_next(handle, &borrowed), let borrowed {
            return BorrowedBSON(borrowed)
        }
        var error = bson_error_t()
        if mongoc_cursor_error(handle, &error) {
            throw MongoError(error, context: "reading \(collection.namespace)")
        }
        return nil
    }
}

extension MongoCollection {
    /// Installs (or replaces) the collection's `$jsonSchema` validator: `create` when the
    /// collection is new, `collMod` when it exists (code 48, NamespaceExists).
    public func installValidator(_ jsonSchema: Document) throws(MongoError) {
        let validator: BSONValue = .document(["$jsonSchema": .document(jsonSchema)])
        // Both sent again after a transient error: a `create` that had applied then fails with 48,
        // and the `collMod` sets the same validator.
        do {
            try client.runCommand(["create": .string(name), "validator": validator,
                                   "validationLevel": "strict", "validationAction": "error"],
                                  database: database, idempotent: true)
        } catch where error.kind == .server && error.code == 48 {
            try client.runCommand(["collMod": .string(name), "validator": validator,
                                   "validationLevel": "strict", "validationAction": "error"],
                                  database: database, idempotent: true)
        }
    }
}

extension MongoCollection {
    /// Deletes every document matching `filter` (ids, or a field only one writer's documents
    /// hold); returns how many went. Sent again after a transient error (deleting twice deletes
    /// the same documents): when the lost attempt had applied, the count is of the last one only.
    @discardableResult
    public func deleteMany(_ filter: Document) throws(MongoError) -> Int {
        let filterDocument = try BSONDocument(filter)
        return try retry.run { () throws(MongoError) -> Int in
            var error = bson_error_t()
            let (succeeded, reply) = try BSONDocument.receivingReply {
                mongoc_collection_delete_many(handle, filterDocument.pointer, nil, $0, &error)
            }
            guard succeeded else { throw MongoError(error, context: "delete on \(namespace)") }
            return Int(reply["deletedCount"]?.int64Value ?? 0)
        }
    }
}

extension BSONValue {
    /// A text key for a value (numbers by value, whatever their width), for dictionaries.
    public var canonicalKey: String {
        switch self {
        case .int32(let v): "i:\(v)"
        case .int64(let v): "i:\(v)"
        case .double(let v) where v.rounded() == v && abs(v) < 9.0e15: "i:\(Int64(v))"
        case .double(let v): "d:\(v)"
        case .string(let s): "s:\(s)"
        default: "o:\(self)"
        }
    }
}
