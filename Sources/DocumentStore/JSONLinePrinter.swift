import CMongoC
import Dispatch

/// Prints BSON documents as JSON Lines: each document as libbson's relaxed Extended JSON
/// (`bson_as_relaxed_extended_json`) followed by a newline, delivered to `sink` in the order the
/// documents were added, always on the caller's thread.
///
/// libbson 1.23 prints ~50 MB/s of text and ~0.5–1 µs per field (it escapes key and text one
/// character at a time and formats numbers with printf), several times what building the
/// document costs. With `workers` > 1 the documents are printed in batches on that many threads
/// while the caller builds the next ones; with 1 (or less) each is printed at once on the
/// caller's thread. The output is the same byte for byte either way.
public final class JSONLinePrinter {
    /// Takes one or more complete lines (each ending in "\n").
    public typealias Sink = (UnsafeBufferPointer<UInt8>) throws -> Void

    /// Documents printed together by one worker: their BSON bytes back to back, then the lines.
    private final class Batch: @unchecked Sendable {  // handed over through `done`: one thread at a time
        var documents: [UInt8] = []
        var count = 0
        /// The lines, once `done` is signalled.
        var lines: [UInt8] = []
        var failure: BSONBuilderError?
        let done = DispatchSemaphore(value: 0)

        func print() {
            lines.reserveCapacity(documents.count * 2)
            let storage = UnsafeMutableRawPointer.allocate(byteCount: musicetl_bson_size(), alignment: musicetl_bson_alignment())
            defer { storage.deallocate() }
            let document = OpaquePointer(storage)
            documents.withUnsafeBufferPointer { buffer in
                guard let base = buffer.baseAddress else { return }
                var offset = 0
                var index = 0
                while offset + 4 <= buffer.count {
                    let length = Int(UInt32(littleEndian: UnsafeRawPointer(base + offset).loadUnaligned(as: UInt32.self)))
                    guard length >= 5, offset + length <= buffer.count, bson_init_static(document, base + offset, length) else {
                        failure = BSONBuilderError(key: "", message: "document \(index + 1) of a batch is corrupt BSON")
                        return
                    }
                    guard JSONLinePrinter.appendLine(document, to: &lines) else {
                        failure = JSONLinePrinter.unprintable
                        return
                    }
                    offset += length
                    index += 1
                }
            }
        }
    }

    private let workers: Int
    private let batchBytes: Int
    private let sink: Sink
    private var current = Batch()
    /// Batches handed to the workers, oldest first.
    private var inFlight: [Batch] = []
    private let queue = DispatchQueue(label: "musicetl.json-lines", attributes: .concurrent)
    private var line: [UInt8] = []
    public private(set) var count = 0

    /// - Parameters:
    ///   - workers: threads that print; ≤ 1 prints each document at once on the caller's thread.
    ///   - batchBytes: BSON bytes per batch handed to a worker.
    public init(workers: Int, batchBytes: Int = 1 << 19, sink: @escaping Sink) {
        self.workers = workers
        self.batchBytes = max(batchBytes, 1)
        self.sink = sink
    }

    deinit {
        // Never leave a worker writing into a batch nobody waits for.
        for batch in inFlight { batch.done.wait() }
    }

    /// Adds the builder's (complete) document.
    public func add(_ builder: BSONBuilder) throws {
        count += 1
        guard workers > 1 else {
            line.removeAll(keepingCapacity: true)
            try builder.withRelaxedExtendedJSON { json in
                line.append(contentsOf: json)
                line.append(UInt8(ascii: "\n"))
            }
            try line.withUnsafeBufferPointer { try sink($0) }
            return
        }
        try builder.withRawBytes { current.documents.append(contentsOf: $0) }
        current.count += 1
        if current.documents.count >= batchBytes { try submit() }
    }

    /// Prints and delivers everything added so far.
    public func finish() throws {
        if current.count > 0 { try submit() }
        while !inFlight.isEmpty { try deliverOldest() }
    }

    private func submit() throws {
        let batch = current
        current = Batch()
        current.documents.reserveCapacity(batchBytes + batchBytes / 4)
        inFlight.append(batch)
        queue.async { batch.print(); batch.done.signal() }
        while inFlight.count > workers { try deliverOldest() }
    }

    private func deliverOldest() throws {
        let batch = inFlight.removeFirst()
        batch.done.wait()
        if let failure = batch.failure { throw failure }
        try batch.lines.withUnsafeBufferPointer { try sink($0) }
    }

    static let unprintable = BSONBuilderError(
        key: "", message: "libbson could not print the document as JSON (invalid UTF-8 or corrupt BSON)")

    /// Appends libbson's relaxed Extended JSON of `document` and a newline; false if it refused.
    static func appendLine(_ document: OpaquePointer, to lines: inout [UInt8]) -> Bool {
        var length = 0
        guard let text = bson_as_relaxed_extended_json(document, &length) else { return false }
        defer { bson_free(text) }
        text.withMemoryRebound(to: UInt8.self, capacity: length) {
            lines.append(contentsOf: UnsafeBufferPointer(start: $0, count: length))
        }
        lines.append(UInt8(ascii: "\n"))
        return true
    }
}
