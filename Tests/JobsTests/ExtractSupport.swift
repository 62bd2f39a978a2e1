import DocumentStore
import Foundation
import Testing
import TestSupport

/// Runs `etl-extract` on a metadata directory assembled from the bundled sample, and reads back
/// what it staged and quarantined.
struct ExtractRun {
    let work: TemporaryDirectory
    let outcome: JobProcess.Outcome

    static let sample = Fixtures.url("sample/fma_metadata").path

    /// The bundled sample with `replacements` (file name → source path) and without `removing`.
    static func metadata(replacing replacements: [String: String] = [:], removing: Set<String> = [],
                         in work: TemporaryDirectory) throws -> String {
        let directory = work.path + "/metadata"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: sample) where name.hasSuffix(".csv") {
            guard !removing.contains(name), replacements[name] == nil else { continue }
            try FileManager.default.copyItem(atPath: sample + "/" + name, toPath: directory + "/" + name)
        }
        for (name, source) in replacements {
            try FileManager.default.copyItem(atPath: source, toPath: directory + "/" + name)
        }
        return directory
    }

    static func run(metadata: String, work: TemporaryDirectory, _ arguments: [String] = []) throws -> ExtractRun {
        let outcome = try JobProcess.run("etl-extract", ["--metadata", metadata, "--work-dir", work.path + "/work"] + arguments)
        return ExtractRun(work: work, outcome: outcome)
    }

    /// Staged documents of a collection (nil when the file does not exist), parsed as JSON, with
    /// every double as libbson reads it back (bit-exact; libbson prints 20 significant digits,
    /// which JSONSerialization may round one unit in the last place differently).
    func staged(_ collection: String) throws -> [[String: Any]]? {
        let path = work.path + "/work/staging/metadata/\(collection).jsonl"
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let reader = try JSONLinesReader(path: path)
        return try text.split(separator: "\n").map { line in
            let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let bson = try #require(try reader.next(), "libbson reads the same lines").document()
            return try #require(Self.exactDoubles(json, .document(bson)) as? [String: Any])
        }
    }

    static func exactDoubles(_ json: Any, _ bson: BSONValue) -> Any {
        switch (json, bson) {
        case (let object as [String: Any], .document(let document)):
            var result = object
            for field in document { if let value = object[field.key] { result[field.key] = exactDoubles(value, field.value) } }
            return result
        case (let array as [Any], .array(let elements)) where array.count == elements.count:
            return zip(array, elements).map { exactDoubles($0, $1) }
        case (is NSNumber, .double(let value)):
            return NSNumber(value: value)
        default:
            return json
        }
    }

    /// Rows of the run's `<file>.rejects.csv` as header → value (empty when there is none).
    func rejects(_ file: String) throws -> [[String: String]] {
        try quarantined(file + ".rejects.csv")
    }

    /// Rows of the run's `<file>.repairs.csv` (values nulled in kept rows) as header → value.
    func repairs(_ file: String) throws -> [[String: String]] {
        try quarantined(file + ".repairs.csv")
    }

    private func quarantined(_ name: String) throws -> [[String: String]] {
        let root = work.path + "/work/quarantine"
        guard let runs = try? FileManager.default.contentsOfDirectory(atPath: root) else { return [] }
        for run in runs {
            let path = root + "/" + run + "/" + name
            guard FileManager.default.fileExists(atPath: path) else { continue }
            let rows = try readCSV(path)
            let header = rows[0]
            #expect(rows.allSatisfy { $0.count == header.count }, "rejects file is rectangular")
            return rows.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(header, $0)) }
        }
        return []
    }

    /// A count from the summary line, e.g. `count("tracks written")`.
    func count(_ name: String) -> Int? {
        let line = outcome.lastLine
        guard let range = line.range(of: " " + name) else { return nil }
        let digits = line[..<range.lowerBound].reversed().prefix { $0.isNumber }
        return Int(String(digits.reversed()))
    }
}

func ids(_ documents: [[String: Any]]?) -> [Int] {
    (documents ?? []).compactMap { ($0["_id"] as? NSNumber)?.intValue }
}
