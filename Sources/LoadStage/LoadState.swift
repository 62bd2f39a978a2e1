import DocumentStore
import Foundation
import Logging

/// What a collection holds, as the load knows it: every stored document's `_id` and `_hash`,
/// keyed by the id's canonical key, and the digest of the staged line it was loaded from (when
/// known), so an unchanged line is recognised without parsing it.
///
/// Stored in the same database (`etl_load_state`) as 256 chunk documents (ids spread by a stable
/// hash of their key) and one summary document holding each chunk's digest and the document
/// count. A night whose state is consistent compares staged hashes against it locally instead
/// of asking the server about every document, and rewrites only the chunks that changed.
struct LoadManifest {
    struct Entry {
        var id: BSONValue
        var hash: String
        /// The staged line the stored document was parsed from; nil when read from the documents
        /// themselves (no load state), until a load sees the line again.
        var line: StagedLineDigest? = nil
    }

    static let chunkCount = 256

    var entries: [String: Entry] = [:]

    /// FNV-1a of the key: stable across runs and platforms (Swift's `Hasher` is seeded per process).
    static func chunk(of key: String) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return Int(hash % UInt64(chunkCount))
    }

    /// Each chunk's entries in key order.
    func chunks() -> [[(key: String, entry: Entry)]] {
        var chunks = Array(repeating: [(key: String, entry: Entry)](), count: Self.chunkCount)
        for (key, entry) in entries { chunks[Self.chunk(of: key)].append((key, entry)) }
        for index in chunks.indices { chunks[index].sort { $0.key < $1.key } }
        return chunks
    }

    /// The digest of one chunk's entries, the SHA-256 of a line `key TAB hash [TAB line digest]`
    /// per entry (empty text for an empty chunk).
    static func digest(_ chunk: [(key: String, entry: Entry)]) -> String {
        guard !chunk.isEmpty else { return "" }
        let tab = UInt8(ascii: "\t"), newline = UInt8(ascii: "\n")
        var text: [UInt8] = []
        for (key, entry) in chunk {
            text += key.utf8
            text.append(tab)
            text += entry.hash.utf8
            if let line = entry.line {
                text.append(tab)
                text += line.hex.utf8
            }
            text.append(newline)
        }
        return text.sha256Hex
    }

    /// The key of each entry by the digest of its staged line (entries whose line is known).
    func keysByLine() -> [StagedLineDigest: String] {
        var keys: [StagedLineDigest: String] = [:]
        keys.reserveCapacity(entries.count)
        for (key, entry) in entries { if let line = entry.line { keys[line] = key } }
        return keys
    }
}

/// Reads and writes the load state of each collection in `etl_load_state`.
///
/// The summary document (`_id` = collection name) is written last and deleted before the first
/// write to its collection, so a load that stops half-way leaves no summary and the next night
/// reads every stored hash again.
struct LoadStateStore {
    static let collectionName = "etl_load_state"

    let state: MongoCollection
    let logger: Logger

    /// The stored manifest of `target` and its chunk digests, or nil (with the reason logged) when
    /// there is none or it does not agree with itself or with the collection's document count.
    func read(_ target: MongoCollection) throws -> (manifest: LoadManifest, digests: [String])? {
        let name = target.name
        guard let summary = try state.find(["_id": .string(name)]).next() else {
            logger.info("\(name): no load state: reading every stored hash")
            return nil
        }
        let digests = (summary["chunks"]?.arrayValue ?? []).compactMap(\.stringValue)
        guard digests.count == LoadManifest.chunkCount, let count = summary["count"]?.int64Value else {
            logger.warning("\(name): load state is malformed: reading every stored hash")
            return nil
        }
        let stored = try target.countDocuments()
        guard stored == count else {
            logger.info("\(name): holds \(stored) documents, its load state \(count): reading every stored hash")
            return nil
        }
        var manifest = LoadManifest()
        var found = Array(repeating: false, count: LoadManifest.chunkCount)
        let cursor = try state.find(["collection": .string(name)])
        while let chunk = try cursor.next() {
            guard let index = chunk["chunk"]?.int64Value.map(Int.init), digests.indices.contains(index) else { continue }
            found[index] = true
            // [id, hash] or [id, hash, line digest].
            for entry in chunk["entries"]?.arrayValue ?? [] {
                guard let entry = entry.arrayValue, (2...3).contains(entry.count), let hash = entry[1].stringValue else { continue }
                let line = entry.count == 3 ? entry[2].stringValue.flatMap(StagedLineDigest.init(hex:)) : nil
                manifest.entries[entry[0].canonicalKey] = .init(id: entry[0], hash: hash, line: line)
            }
        }
        let chunks = manifest.chunks()
        let consistent = chunks.indices.allSatisfy { index in
            LoadManifest.digest(chunks[index]) == digests[index] && (found[index] || digests[index].isEmpty)
        }
        guard consistent, manifest.entries.count == count else {
            logger.warning("\(name): load state chunks disagree with their digests: reading every stored hash")
            return nil
        }
        return (manifest, digests)
    }

    /// Reads every stored document's `_id` and `_hash`. With `verify`, reads whole documents and
    /// records the hash of their content instead, so a document edited by hand (content no longer
    /// matching its `_hash`) gets an empty hash and is rewritten; returns how many differ.
    static func scan(_ target: MongoCollection, verify: Bool) throws -> (manifest: LoadManifest, differing: Int) {
        var manifest = LoadManifest()
        var differing = 0
        let options: Document = verify ? [:] : ["projection": .document([LoadStage.hashField: 1])]
        let cursor = try target.find([:], options: options)
        while var document = try cursor.next() {
            guard let id = document["_id"] else { continue }
            var hash = document[LoadStage.hashField]?.stringValue ?? ""
            if verify {
                document[LoadStage.hashField] = nil
                if try BSONDocument(document).contentHash != hash {
                    hash = ""
                    differing += 1
                }
            }
            manifest.entries[id.canonicalKey] = .init(id: id, hash: hash)
        }
        return (manifest, differing)
    }

    /// Removes the summary of `name`: from now until `write`, the state counts as missing.
    func invalidate(_ name: String) throws {
        try state.deleteMany(["_id": .string(name)])
    }

    /// Stores `manifest` for `name`: the chunks whose digest differs from `previous` (all of them
    /// when there is no previous state), then the summary.
    func write(_ manifest: LoadManifest, for name: String, previous: [String]?) throws {
        if previous == nil { try state.deleteMany(["collection": .string(name)]) }
        let chunks = manifest.chunks()
        var digests: [String] = []
        var changed: [BSONDocument] = []
        var emptied: [BSONValue] = []
        for (index, chunk) in chunks.enumerated() {
            let digest = LoadManifest.digest(chunk)
            digests.append(digest)
            guard previous == nil || previous?[index] != digest else { continue }
            let id = BSONValue.string("\(name)#\(index)")
            if chunk.isEmpty {
                emptied.append(id)
                continue
            }
            let entries = chunk.map { item in
                BSONValue.array([item.entry.id, .string(item.entry.hash)] + (item.entry.line.map { [.string($0.hex)] } ?? []))
            }
            changed.append(try BSONDocument(["_id": id, "collection": .string(name), "chunk": .integer(index),
                                             "entries": .array(entries)]))
            if changed.count == 64 { try upsert(&changed) }
        }
        try upsert(&changed)
        if !emptied.isEmpty { try state.deleteMany(["_id": .document(["$in": .array(emptied)])]) }
        var summary = [try BSONDocument(["_id": .string(name), "count": .integer(manifest.entries.count),
                                         "chunks": .array(digests.map(BSONValue.string))])]
        try upsert(&summary)
    }

    private func upsert(_ documents: inout [BSONDocument]) throws {
        let result = try state.upsertByID(documents)
        documents.removeAll()
        if let error = result.writeErrors.first {
            throw MongoError(domain: 0, code: UInt32(clamping: error.code), message: "writing \(state.namespace): \(error.message)", kind: .server)
        }
    }
}
