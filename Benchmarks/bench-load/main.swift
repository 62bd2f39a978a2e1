// Client-side cost of the load and export paths for FMA-sized training documents, measured
// apart from the server: `swift run -c release bench-load [--documents N] [--uri MONGODB_URI]`.
//
// load, client side: parse a staged JSON line with libbson, SHA-256 content hash, append _hash,
//   collect into a batch (what etl-load does before it talks to the server);
// export, client side: decode a BSON document to Swift values, lay it out in column order,
//   format the cells and write CSV (what etl-export does with each cursor document).
// With --uri, the same documents are also upserted to and read back from that server, so the
// server's share is printed next to the client's.
import DocumentStore
import Export
import Foundation

var documentCount = 100_000
var uri: String?
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--documents": documentCount = Int(arguments.next() ?? "") ?? documentCount
    case "--uri": uri = arguments.next()
    default: FileHandle.standardError.write(Data("usage: bench-load [--documents N] [--uri URI]\n".utf8)); exit(64)
    }
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
var generator = SystemRandomNumberGenerator()
let lines: [String] = try (1...documentCount).map { id in
    var row: Document = ["_id": .integer(id), "genre_top": "Rock", "genres": [12, 25], "split": "training", "subset": "large"]
    for name in featureNames { row.append(name, .double(Double.random(in: -3...3, using: &generator))) }
    return try BSONDocument(row).relaxedExtendedJSON
}
let averageBytes = lines.reduce(0) { $0 + $1.utf8.count } / lines.count
print("\(documentCount) training documents, \(featureNames.count) features, ~\(averageBytes) bytes of JSON each")

var batch: [BSONDocument] = []
var staged: [BSONDocument] = []
var parsed: [BSONDocument] = []
let parseSeconds = try seconds {
    parsed = try lines.map { try BSONDocument(json: $0) }
}
print(String(format: "load, JSON line → BSON (libbson parse): %.2f µs per document", parseSeconds / Double(documentCount) * 1e6))
let loadClient = try seconds {
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

let schemaPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Schemas/training_row.schema.json").path
let layout = ColumnLayout(schema: try EntitySchema(path: schemaPath))
let exportDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-export-\(getpid())")
defer { try? FileManager.default.removeItem(at: exportDirectory) }
var decodeSeconds = 0.0
let exportClient = try seconds {
    let writer = try ExportWriter(directory: exportDirectory, layout: layout, options: .init())
    for document in staged {
        var decoded = Document()
        decodeSeconds += try seconds { decoded = try document.document() }
        try writer.write(decoded)
    }
    _ = try writer.commit(manifest: [:])
}
print(String(format: "export, client side: %.2f µs per row (%.0f rows/s; BSON decode %.0f%%), %d rows × %d columns in %.2f s",
             exportClient / Double(documentCount) * 1e6, Double(documentCount) / exportClient,
             decodeSeconds / exportClient * 100, documentCount, layout.columns.count, exportClient))

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
        while try cursor.next() != nil { fetched += 1 }
    }
    print(String(format: "server: upsert %.0f documents/s (%.1f µs each, client share %.0f%%); cursor read incl. decode %.0f rows/s",
                 Double(staged.count) / upload, upload / Double(staged.count) * 1e6,
                 loadClient / (loadClient + upload) * 100, Double(fetched) / download))
    try collection.drop()
}
