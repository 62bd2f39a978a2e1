// Client-side cost of the load and export paths for FMA-sized training documents, measured
// apart from the server: `swift run -c release bench-load [--documents N] [--uri MONGODB_URI]`.
//
// load, client side: parse a staged JSON line (libbson's parser and ExtendedJSONParser), SHA-256 content hash, append _hash,
//   collect into a batch (what etl-load does before it talks to the server);
// export, client side: format a BSON document's cells straight into CSV bytes and write the
//   file (what etl-export does with each cursor document), next to the old decode-then-format path.
// With --uri, the same documents are also upserted to and read back from that server, so the
// server's share is printed next to the client's.
// With --staged FILE: only the JSON → BSON parse of every line of a staged JSON Lines file, by
// libbson's parser and by `ExtendedJSONParser` (which replaced it), each line checked to give the
// same bytes.
// With --staged FILE and --uri URI: a cold load's client CPU per document taken apart, part by part,
// on the real staged documents: the staged line's digest, the parse, the content hash and `_hash`,
// and the bulk upsert (our selectors, libmongoc's queueing, sending and reading the reply) against
// that server, in batches of 1000 as etl-load sends them. The upsert's part is the driver's floor:
// what any load through libmongoc's bulk API spends per document, whatever it does before.
import DocumentStore
import Export
import Foundation
import TestSupport

var documentCount = 100_000
var uri: String?
var repeats = 1
var exportOnly = false  // skip the JSON and load measurements (for profiling the export)
var stagedFile: String?
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--documents": documentCount = Int(arguments.next() ?? "") ?? documentCount
    case "--uri": uri = arguments.next()
    case "--export-only": exportOnly = true
    case "--repeat": repeats = max(1, Int(arguments.next() ?? "") ?? repeats)
    case "--staged": stagedFile = arguments.next()
    default: FileHandle.standardError.write(Data("usage: bench-load [--documents N] [--repeat N] [--uri URI] [--export-only] [--staged FILE [--uri URI]]\n".utf8)); exit(64)
    }
}

/// CPU seconds of the calling thread (the parses run on one thread).
func threadCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// Parses every line of a staged file with libbson's parser and with `ExtendedJSONParser`, prints
/// the CPU each took; false when some line's bytes differ.
func compareParsers(on stagedFile: String, repeats: Int) throws -> Bool {
    // Chunks of 16 lines (64 kB: in cache for both, as a line the load has just read is), each
    // parsed by both and the bytes compared; libbson's parse takes a C string, made outside the
    // timing.
    let parser = ExtendedJSONParser()
    var lines = 0, bytes = 0, differing = 0
    var libbsonSeconds = 0.0, swiftSeconds = 0.0
    var chunk: [[UInt8]] = []
    func measure() throws {
        let texts = chunk.map { String(decoding: $0, as: UTF8.self) }
        var byLibbson: [BSONDocument] = []
        byLibbson.reserveCapacity(chunk.count)
        var start = threadCPUSeconds()
        for text in texts { byLibbson.append(try BSONDocument(json: text)) }
        libbsonSeconds += threadCPUSeconds() - start
        var bySwift: [BSONDocument] = []
        bySwift.reserveCapacity(chunk.count)
        start = threadCPUSeconds()
        for line in chunk { bySwift.append(try line.withUnsafeBufferPointer { try parser.document($0) }) }
        swiftSeconds += threadCPUSeconds() - start
        for (index, (old, new)) in zip(byLibbson, bySwift).enumerated() where old.withRawBytes({ Array($0) }) != new.withRawBytes({ Array($0) }) {
            differing += 1
            if differing <= 3 {
                print("line \(lines - chunk.count + index + 1) differs:\n  libbson: \(old.canonicalExtendedJSON)\n  Swift:   \(new.canonicalExtendedJSON)")
            }
        }
        chunk.removeAll(keepingCapacity: true)
    }
    for _ in 1...repeats {
        let reader = try JSONLinesReader(path: stagedFile)
        while let line = try reader.nextLine() {
            chunk.append(Array(line))
            lines += 1
            bytes += line.count
            if chunk.count == 16 { try measure() }
        }
        try measure()
    }
    print("\(stagedFile): \(lines / repeats) lines, \(bytes / max(lines, 1)) bytes each on average, read \(repeats) time(s)")
    print(String(format: "JSON → BSON, libbson's parser:      %.2f CPU-µs per line, %.2f ns per byte", libbsonSeconds / Double(lines) * 1e6, libbsonSeconds / Double(bytes) * 1e9))
    print(String(format: "JSON → BSON, ExtendedJSONParser:    %.2f CPU-µs per line, %.2f ns per byte (%.1f× faster)", swiftSeconds / Double(lines) * 1e6, swiftSeconds / Double(bytes) * 1e9, libbsonSeconds / swiftSeconds))
    print("lines whose BSON differs: \(differing)")
    return differing == 0
}

/// User + system CPU seconds of this process so far (every thread: libmongoc's too).
func processCPUTime() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

/// Loads a staged file into a fresh collection as a cold etl-load does, timing each part's CPU.
func takeApartColdLoad(of stagedFile: String, uri: String) throws {
    let connection = try MongoConnection(uri: uri)
    let collection = try connection.client().collection("bench_cold", database: "musicetl_bench")
    try collection.drop()
    var lines = 0, bytes = 0
    var digestSeconds = 0.0, parseSeconds = 0.0, hashSeconds = 0.0, upsertSeconds = 0.0
    var digests: [StagedLineDigest] = []
    var batch: [BSONDocument] = []
    func send() throws {
        guard !batch.isEmpty else { return }
        let start = processCPUTime()
        let result = try collection.upsertByID(batch)
        upsertSeconds += processCPUTime() - start
        guard result.upserted == batch.count else {
            throw MongoError(domain: 0, code: 0, message: "upserted \(result.upserted) of \(batch.count)", kind: .other)
        }
        batch.removeAll(keepingCapacity: true)
        digests.removeAll(keepingCapacity: true)
    }
    // Parts timed over chunks of 16 lines (64 kB, in cache as a line the load has just read is):
    // a thread-CPU clock read costs about 0.4 µs, too much to take per document.
    let parser = ExtendedJSONParser()
    var chunk: [[UInt8]] = []
    func measureChunk() throws {
        var start = threadCPUSeconds()
        for line in chunk { digests.append(line.withUnsafeBufferPointer { StagedLineDigest(of: $0) }) }
        digestSeconds += threadCPUSeconds() - start
        start = threadCPUSeconds()
        let documents = try chunk.map { line in try line.withUnsafeBufferPointer { try parser.document($0) } }
        parseSeconds += threadCPUSeconds() - start
        start = threadCPUSeconds()
        for document in documents { try document.append("_hash", .string(document.contentHash)) }
        hashSeconds += threadCPUSeconds() - start
        for document in documents {
            batch.append(document)
            if batch.count == 1000 { try send() }
        }
        chunk.removeAll(keepingCapacity: true)
    }
    let reader = try JSONLinesReader(path: stagedFile)
    while let line = try reader.nextLine() {
        lines += 1
        bytes += line.count
        chunk.append(Array(line))
        if chunk.count == 16 { try measureChunk() }
    }
    try measureChunk()
    try send()
    try collection.drop()
    func perDocument(_ seconds: Double) -> String { String(format: "%5.2f µs", seconds / Double(max(lines, 1)) * 1e6) }
    print("\(stagedFile): \(lines) documents, \(bytes / max(lines, 1)) bytes of JSON each on average, upserted in batches of 1000")
    print("client CPU per document, part by part:")
    print("  digest of the staged line (SHA-256)            \(perDocument(digestSeconds))")
    print("  parse (ExtendedJSONParser)                     \(perDocument(parseSeconds))")
    print("  content hash (SHA-256 of the BSON) + _hash     \(perDocument(hashSeconds))")
    print("  bulk upsert: selectors + libmongoc (process)   \(perDocument(upsertSeconds))")
    print("  sum                                            \(perDocument(digestSeconds + parseSeconds + hashSeconds + upsertSeconds))")
}

if let stagedFile {
    if let uri {
        try takeApartColdLoad(of: stagedFile, uri: uri)
        exit(0)
    }
    exit(try compareParsers(on: stagedFile, repeats: repeats) ? 0 : 1)
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

// A training row as etl-normalize stages it: id, labels, 154 scaled features.
let statistics = ["mean", "std", "skew", "kurtosis", "median", "min", "max"]
var featureNames: [String] = []
for statistic in statistics { for c in 1...20 { featureNames.append(String(format: "mfcc_%@_%02d", statistic, c)) } }
for feature in ["spectral_centroid", "zcr"] { for statistic in statistics { featureNames.append("\(feature)_\(statistic)") } }
// Seeded: the same documents every run, and no getrandom system call per number.
var generator = SplitMix64(seed: 2026)
@MainActor func trainingRow(_ id: Int) -> Document {
    var row: Document = ["_id": .integer(id), "genre_top": "Rock", "genres": [12, 25], "split": "training", "subset": "large"]
    for name in featureNames { row.append(name, .double(Double.random(in: -3...3, using: &generator))) }
    return row
}

var staged: [BSONDocument] = []
var loadClient = Double.nan
if exportOnly {
    staged = try (1...documentCount).map { try BSONDocument(trainingRow($0)) }
} else {
    let lines: [String] = try (1...documentCount).map { try BSONDocument(trainingRow($0)).jsonLine() }
    let averageBytes = lines.reduce(0) { $0 + $1.utf8.count } / lines.count
    print("\(documentCount) training documents, \(featureNames.count) features, ~\(averageBytes) bytes of JSON each")

    var batch: [BSONDocument] = []
    var parsed: [BSONDocument] = []
    let parseSeconds = try seconds {
        parsed = try lines.map { try BSONDocument(json: $0) }
    }
    print(String(format: "load, JSON line → BSON (libbson's parse, replaced): %.2f µs per document", parseSeconds / Double(documentCount) * 1e6))
    let parser = ExtendedJSONParser()
    let swiftParseSeconds = try seconds {
        parsed = try lines.map { line in
            var line = line
            return try line.withUTF8 { try parser.document($0) }
        }
    }
    print(String(format: "load, JSON line → BSON (ExtendedJSONParser, what JSONLinesReader uses): %.2f µs per document", swiftParseSeconds / Double(documentCount) * 1e6))
    loadClient = try seconds {
        for document in parsed {
            try document.append("_hash", .string(document.contentHash))
            batch.append(document)
            if batch.count == 1000 {
                staged += batch
                batch.removeAll(keepingCapacity: true)
            }
        }
        staged += batch
    }
    print(String(format: "load, hash + _hash + batching (the issue's client cost): %.2f µs per document (%.0f documents/s)",
                 loadClient / Double(documentCount) * 1e6, Double(documentCount) / loadClient))
}

let schemaPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Schemas/training_row.schema.json").path
let layout = ColumnLayout(schema: try EntitySchema(path: schemaPath))
let exportDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-export-\(getpid())")
defer { try? FileManager.default.removeItem(at: exportDirectory) }
// The old path, kept for comparison: decode each document into Swift values, then format.
@MainActor func decodeThenFormat() throws -> (total: Double, decode: Double) {
    var decodeSeconds = 0.0
    let total = try seconds {
        var bytes = 0
        for document in staged {
            var decoded = Document()
            decodeSeconds += try seconds { decoded = try document.document() }
            for column in layout.row(decoded) { bytes += CellText.of(column).utf8.count }
        }
        precondition(bytes > 0)
    }
    return (total, decodeSeconds)
}
/// User + system CPU seconds of this process so far.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

@MainActor func exportSeconds(workers: Int) throws -> (wall: Double, cpu: Double) {
    var options = ExportWriter.Options()
    options.workers = workers
    let cpuBefore = processCPUSeconds()
    let wall = try seconds {
        let writer = try ExportWriter(directory: exportDirectory, layout: layout, options: options)
        for document in staged {
            try document.withBorrowed { try writer.write($0) }
        }
        _ = try writer.commit(manifest: [:])
    }
    return (wall, processCPUSeconds() - cpuBefore)
}
let allCores = ProcessInfo.processInfo.activeProcessorCount
for workers in Set([1, allCores]).sorted() {
    let runs = try (1...repeats).map { _ in try exportSeconds(workers: workers) }
    let best = runs.min { $0.wall < $1.wall } ?? (.nan, .nan)
    print(String(format: "export, client side (BSON → CSV bytes + SHA-256, written and fsynced), %d formatting thread%@: %.2f µs per row (%.0f rows/s), %d rows × %d columns in %.2f s, CPU %.2f s (best of %d)",
                 workers, workers == 1 ? "" : "s", best.wall / Double(documentCount) * 1e6, Double(documentCount) / best.wall,
                 documentCount, layout.columns.count, best.wall, best.cpu, repeats))
}
if !exportOnly {
    let old = try decodeThenFormat()
    print(String(format: "  for comparison, decoding to Swift values and formatting each cell as a String (not even writing): %.2f µs per row (decode %.2f µs)",
                 old.total / Double(documentCount) * 1e6, old.decode / Double(documentCount) * 1e6))
}

if let uri {
    let connection = try MongoConnection(uri: uri)
    let client = try connection.client()
    let collection = try client.collection("bench_training", database: "musicetl_bench")
    try collection.drop()
    let upload = try seconds {
        for start in stride(from: 0, to: staged.count, by: 1000) {
            _ = try collection.upsertByID(Array(staged[start..<min(start + 1000, staged.count)]))
        }
    }
    var fetched = 0
    let download = try seconds {
        let cursor = try collection.find([:], options: ["sort": .document(["_id": 1])])
        while try cursor.nextBorrowed() != nil { fetched += 1 }
    }
    let exportFromServer = try seconds {
        let cursor = try collection.find([:], options: ["sort": .document(["_id": 1])])
        let writer = try ExportWriter(directory: exportDirectory, layout: layout, options: .init())
        while let document = try cursor.nextBorrowed() { try writer.write(document) }
        _ = try writer.commit(manifest: [:])
    }
    print(String(format: "server: upsert %.0f documents/s (%.1f µs each, client share %.0f%%); cursor read alone %.0f rows/s (%.1f µs each)",
                 Double(staged.count) / upload, upload / Double(staged.count) * 1e6,
                 loadClient / (loadClient + upload) * 100, Double(fetched) / download, download / Double(fetched) * 1e6))
    print(String(format: "export from the server: %.2f s for %d rows = cursor %.2f s + client %.2f s",
                 exportFromServer, fetched, download, exportFromServer - download))
    try collection.drop()
}
