import CMongoC

/// Prints BSON documents as JSON Lines: each document as libbson 1.23's relaxed Extended JSON
/// (`bson_as_relaxed_extended_json`, byte for byte; printed by `RelaxedJSONWriter`, which hands
/// the types staging never writes to libbson itself) followed by a newline, delivered to `sink`
/// in the order the documents were added, always on the caller's thread.
///
/// With `workers` > 1 the documents are printed in batches on that many threads while the
/// caller builds the next ones; with 1 (or less) each is printed at once on the caller's thread
/// and the lines are delivered in chunks of about `batchBytes`. The output is the same byte for
/// byte either way; everything is delivered by `finish()`. MUSICETL_JSON_PRINTER=libbson in the
/// environment makes libbson print every document itself (same bytes, several times slower).
public final class JSONLinePrinter {
    /// Takes one or more complete lines (each ending in "\n").
    public typealias Sink = (UnsafeBufferPointer<UInt8>) throws -> Void

    /// Documents printed together by one worker: their BSON bytes back to back, then the lines.
    private final class Batch: @unchecked Sendable {  // one thread at a time (OrderedBatchQueue hands it over)
        var documents: [UInt8] = []
        var count = 0
        /// The lines, once printed.
        var lines: RelaxedJSONWriter?
        var failure: BSONBuilderError?
        let libbsonOnly: Bool

        init(libbsonOnly: Bool) { self.libbsonOnly = libbsonOnly }

        func print() {
            let lines = RelaxedJSONWriter(capacity: documents.count * 2, libbsonOnly: libbsonOnly)
            self.lines = lines
            var index = 0
            do {
                try documents.withUnsafeBytes { bytes in
                    try BSONSequenceReader().forEach(in: bytes) { document in
                        index += 1
                        guard lines.append(document: document.pointer) else { throw JSONLinePrinter.unprintable }
                        lines.append(byte: UInt8(ascii: "\n"))
                    }
                }
            } catch let error as BSONBuilderError {
                failure = error
            } catch {
                failure = BSONBuilderError(key: "", message: "document \(index + 1) of a batch is corrupt BSON: \(error)")
            }
        }
    }

    private let workers: Int
    private let batchBytes: Int
    private let sink: Sink
    /// MUSICETL_JSON_PRINTER=libbson at creation: libbson prints every document.
    private let libbsonOnly = RelaxedJSONWriter.libbsonRequested
    private lazy var current = Batch(libbsonOnly: libbsonOnly)
    private let batches: OrderedBatchQueue<Batch>
    /// The lines printed on the caller's thread (`workers` ≤ 1) not yet delivered.
    private lazy var pending = RelaxedJSONWriter(libbsonOnly: libbsonOnly)
    public private(set) var count = 0

    /// - Parameters:
    ///   - workers: threads that print; ≤ 1 prints each document at once on the caller's thread.
    ///   - batchBytes: BSON bytes per batch handed to a worker; with one thread, the text
    ///     delivered to `sink` at a time.
    public init(workers: Int, batchBytes: Int = 1 << 19, sink: @escaping Sink) {
        self.workers = workers
        self.batchBytes = max(batchBytes, 1)
        self.sink = sink
        batches = OrderedBatchQueue(workers: workers, label: "musicetl.json-lines") { $0.print() }
    }

    /// Adds the builder's (complete) document.
    public func add(_ builder: BSONBuilder) throws {
        count += 1
        guard workers > 1 else {
            try builder.appendRelaxedJSON(to: pending)
            pending.append(byte: UInt8(ascii: "\n"))
            if pending.count >= batchBytes { try deliverPending() }
            return
        }
        try builder.withRawBytes { current.documents.append(contentsOf: $0) }
        current.count += 1
        if current.documents.count >= batchBytes { try submit() }
    }

    /// Prints and delivers everything added so far.
    public func finish() throws {
        if pending.count > 0 { try deliverPending() }
        if current.count > 0 { try submit() }
        try batches.drain(deliver: deliver)
    }

    private func submit() throws {
        let batch = current
        current = Batch(libbsonOnly: libbsonOnly)
        current.documents.reserveCapacity(batchBytes + batchBytes / 4)
        try batches.submit(batch, deliver: deliver)
    }

    private func deliverPending() throws {
        defer { pending.removeAll() }
        try sink(pending.bytes)
    }

    private func deliver(_ batch: Batch) throws {
        if let failure = batch.failure { throw failure }
        if let lines = batch.lines { try sink(lines.bytes) }
    }

    static let unprintable = BSONBuilderError(
        key: "", message: "libbson could not print the document as JSON (invalid UTF-8 or corrupt BSON)")
}
