import CMongoC

/// A collection handle (`mongoc_collection_t`), owned; keeps its client alive.
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

    public func countDocuments(_ filter: Document = [:]) throws(MongoError) -> Int64 {
        let filterDocument = try BSONDocument(filter)
        var error = bson_error_t()
        let count = mongoc_collection_count_documents(handle, filterDocument.pointer, nil, nil, nil, &error)
        guard count >= 0 else { throw MongoError(error, context: "count on \(namespace)") }
        return count
    }

    /// A streaming cursor: documents arrive in server batches, so memory stays flat.
    public func find(_ filter: Document = [:], options: Document = [:]) throws(MongoError) -> MongoCursor {
        let filterDocument = try BSONDocument(filter)
        let optionsDocument = try BSONDocument(options)
        guard let cursor = mongoc_collection_find_with_opts(handle, filterDocument.pointer, optionsDocument.pointer, nil)
        else {
            throw MongoError(domain: 0, code: 0, message: "find on \(namespace) returned no cursor", kind: .other)
        }
        return MongoCursor(handle: cursor, collection: self)
    }

    /// Unordered bulk `replaceOne({_id}, doc, {upsert: true})` of documents that each carry `_id`.
    ///
    /// Documents the server refuses come back in `writeErrors` (with their index in `documents`)
    /// while the rest land; only a failure of the whole batch (network, no server) throws.
    public func upsertByID(_ documents: [BSONDocument]) throws(MongoError) -> BulkWriteResult {
        guard !documents.isEmpty else { return BulkWriteResult() }
        let bulkOptions = try BSONDocument(["ordered": false])
        guard let bulk = mongoc_collection_create_bulk_operation_with_opts(handle, bulkOptions.pointer) else {
            throw MongoError(domain: 0, code: 0, message: "no bulk operation for \(namespace)", kind: .other)
        }
        defer { mongoc_bulk_operation_destroy(bulk) }
        // libmongoc's client-side check of each replacement (`validate`) is off: it walks every key
        // and string for UTF-8 and empty or `$` keys, the largest part of a load's client CPU per
        // document. A `BSONDocument`'s text is valid UTF-8 already (Swift strings; ExtendedJSONParser
        // refuses anything else), and the server checks what it stores: a key it refuses is that
        // document's write error (the load quarantines it), not a failure of the whole batch.
        let replaceOptions = try BSONDocument(["upsert": true, "validate": .bool(false)])
        var error = bson_error_t()
        for (index, document) in documents.enumerated() {
            guard let selector = try document.idSelector() else {
                throw MongoError(domain: UInt32(BSON_ERROR_INVALID), code: 0,
                                 message: "document \(index) for \(namespace) has no _id", kind: .invalidInput)
            }
            guard mongoc_bulk_operation_replace_one_with_opts(bulk, selector.pointer, document.pointer,
                                                              replaceOptions.pointer, &error) else {
                throw MongoError(error, context: "queueing document \(index) for \(namespace)")
            }
        }
        let reply = try BSONDocument()
        let succeeded = mongoc_bulk_operation_execute(bulk, reply.pointer, &error) != 0
        let result = BulkWriteResult(reply: reply)
        if !succeeded && result.writeErrors.isEmpty {
            throw MongoError(error, context: "bulk write to \(namespace)")
        }
        return result
    }

    /// Creates indexes (a no-op for those that already exist with the same keys and options).
    public func createIndexes(_ indexes: [Document]) throws(MongoError) {
        guard !indexes.isEmpty else { return }
        try client.runCommand(["createIndexes": .string(name), "indexes": .array(indexes.map { .document($0) })],
                              database: database)
    }

    public func drop() throws(MongoError) {
        var error = bson_error_t()
        // "ns not found" (26) means there was nothing to drop: the state we wanted.
        if !mongoc_collection_drop(handle, &error) && error.code != 26 {
            throw MongoError(error, context: "drop \(namespace)")
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
public final class MongoCursor {
    private let handle: OpaquePointer
    private let collection: MongoCollection

    init(handle: OpaquePointer, collection: MongoCollection) {
        self.handle = handle
        self.collection = collection
    }

    deinit { mongoc_cursor_destroy(handle) }

    /// The next document, or nil at the end; throws when the server or network fails mid-way.
    public func next() throws(MongoError) -> Document? {
        try nextBorrowed()?.document()
    }

    /// The next document as libmongoc lends it (valid until the next call: read it at once), or
    /// nil at the end; for readers that turn documents into bytes without Swift values.
    public func nextBorrowed() throws(MongoError) -> BorrowedBSON? {
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
        do {
            try client.runCommand(["create": .string(name), "validator": validator,
                                   "validationLevel": "strict", "validationAction": "error"],
                                  database: database)
        } catch where error.kind == .server && error.code == 48 {
            try client.runCommand(["collMod": .string(name), "validator": validator,
                                   "validationLevel": "strict", "validationAction": "error"],
                                  database: database)
        }
    }
}

extension MongoCollection {
    /// Deletes every document matching `filter`; returns how many went.
    @discardableResult
    public func deleteMany(_ filter: Document) throws(MongoError) -> Int {
        let filterDocument = try BSONDocument(filter)
        let reply = try BSONDocument()
        var error = bson_error_t()
        guard mongoc_collection_delete_many(handle, filterDocument.pointer, nil, reply.pointer, &error) else {
            throw MongoError(error, context: "delete on \(namespace)")
        }
        return Int(reply["deletedCount"]?.int64Value ?? 0)
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
