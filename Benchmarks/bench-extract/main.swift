import Datasets
import ExtractStage
import Foundation
import Tabular

// bench-extract <fma_metadata dir> [--repeat N] [--jobs 1,2] [--python PATH] [--no-pandas] [--reader-only]
//
// Prints, for an FMA metadata directory (Benchmarks/generate_fma_metadata.py makes an FMA-scale one):
// 1. the CSV reader alone per file (records, MB/s);
// 2. the whole extraction (`MetadataExtractor`: read, coerce, validate, merge, write each document
//    as its JSON line, write with fsync) of the full set, once with tracks.csv and once with
//    raw_tracks.csv as the track file, for each number of row workers in --jobs (default: 1 and
//    all CPUs; 1 = everything on one core);
// 3. pandas.read_csv on the same files in the same run (Benchmarks/pandas_extract.py), and the ratios.
// Rounds alternate: every extraction configuration once, then pandas once, --repeat times; each
// number is the best of its rounds.
// The per-file table shows the one-core runs (the lowest --jobs value).

var arguments = Array(CommandLine.arguments.dropFirst())
@MainActor func option(_ name: String) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    let value = arguments[index + 1]
    arguments.removeSubrange(index...(index + 1))
    return value
}
let repeats = Int(option("--repeat") ?? "3") ?? 3
let cpus = max(1, ProcessInfo.processInfo.activeProcessorCount)
let jobValues = Array(Set((option("--jobs") ?? "1,\(cpus)").split(separator: ",").compactMap { Int($0) }.map { max(1, $0) })).sorted()
let python = option("--python") ?? ProcessInfo.processInfo.environment["PANDAS_PYTHON"] ?? "/tmp/pandas-venv/bin/python"
let skipPandas = arguments.contains("--no-pandas")
let readerOnly = arguments.contains("--reader-only")
arguments.removeAll { $0 == "--no-pandas" || $0 == "--reader-only" }
guard let directory = arguments.first else {
    FileHandle.standardError.write(Data("usage: bench-extract <fma_metadata dir> [--repeat N] [--python PATH] [--no-pandas]\n".utf8))
    exit(64)
}
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let files = ["genres.csv", "raw_genres.csv", "raw_albums.csv", "raw_artists.csv", "raw_tracks.csv", "tracks.csv"]
    .filter { FileManager.default.fileExists(atPath: directory + "/" + $0) }

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
@MainActor func size(_ file: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: directory + "/" + file))?[.size] as? Int) ?? 0
}
func mb(_ bytes: Int) -> Double { Double(bytes) / 1e6 }
func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}
func lpad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
}
func f(_ value: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }

print("bench-extract: \(directory), best of \(repeats) alternating rounds; row workers: \(jobValues.map(String.init).joined(separator: ", ")) (\(cpus) CPUs)")

// 1. The reader alone.
var readerSeconds: [String: Double] = [:]
var readerRecords: [String: Int] = [:]
for file in files {
    var best = Double.infinity
    for _ in 0..<repeats {
        let start = now()
        let reader = try CSVReader(path: directory + "/" + file)
        var record = CSVRecord()
        var count = 0
        while try reader.next(into: &record) { count += 1 }
        best = min(best, now() - start)
        readerRecords[file] = count
    }
    readerSeconds[file] = best
}
if readerOnly {
    for file in files {
        print(pad(file, 16) + lpad(f(mb(size(file))), 8) + " MB" + lpad(String(readerRecords[file] ?? 0), 10) + " records"
              + lpad(f(mb(size(file)) / readerSeconds[file]!), 10) + " MB/s")
    }
    exit(0)
}

// 2. The whole extraction, both track files, and 3. pandas.read_csv on the same files, in
// alternating rounds (every configuration once, then pandas once, --repeat times), so that the
// host's drift over the run (tens of percent on a shared VM) lands on both sides of each ratio.
struct ExtractRun { var total: Double; var perFile: [String: MetadataExtractor.FileResult] }
@MainActor func extractOnce(tracksFile: String, jobs: Int) throws -> ExtractRun {
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("bench-extract-\(getpid())").path
    defer { try? FileManager.default.removeItem(atPath: work) }
    var extractor = try MetadataExtractor(metadataDirectory: directory, entities: FMADataset().entities,
                                          schemasDirectory: packageRoot.appendingPathComponent("Schemas").path,
                                          stagingDirectory: work + "/staging/metadata",
                                          quarantineDirectory: work + "/quarantine")
    extractor.tracksFile = tracksFile
    extractor.rowJobs = jobs
    let start = now()
    let results = try extractor.run()
    let total = now() - start
    if let failure = results.first(where: { $0.failure != nil }) {
        print("extraction failed: \(failure.file): \(failure.failure!)")
        exit(1)
    }
    return ExtractRun(total: total, perFile: Dictionary(uniqueKeysWithValues: results.map { ($0.file, $0) }))
}

/// One pandas round: seconds and rows per file (empty when it could not run).
var pandasVersion = "not run"
@MainActor func pandasOnce() -> [String: (seconds: Double, rows: Int)] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = [packageRoot.appendingPathComponent("Benchmarks/pandas_extract.py").path, directory,
                         "--repeat", "1", "--json"]
    let pipe = Pipe()
    process.standardOutput = pipe
    var result: [String: (seconds: Double, rows: Int)] = [:]
    do {
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        if let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
           let perFile = object["files"] as? [String: [String: Any]] {
            pandasVersion = "pandas \(object["pandas"] ?? "?") (Python \(object["python"] ?? "?"))"
            for (file, values) in perFile {
                result[file] = ((values["seconds"] as? Double) ?? .nan, (values["rows"] as? Int) ?? 0)
            }
        }
    } catch {
        pandasVersion = "failed to run \(python): \(error) (set PANDAS_PYTHON or --python; see Benchmarks/README.md)"
    }
    return result
}

let configurations: [(tracksFile: String, jobs: Int)] = jobValues
    .flatMap { jobs in ["tracks.csv", "raw_tracks.csv"].map { ($0, jobs) } }
    .filter { FileManager.default.fileExists(atPath: directory + "/" + $0.tracksFile) }
var runs: [(tracksFile: String, jobs: Int, run: ExtractRun?)] = configurations.map { ($0.tracksFile, $0.jobs, nil) }
var pandas: [String: (seconds: Double, rows: Int)] = [:]
for _ in 0..<repeats {
    for (index, configuration) in configurations.enumerated() {
        let run = try extractOnce(tracksFile: configuration.tracksFile, jobs: configuration.jobs)
        if runs[index].run == nil || run.total < runs[index].run!.total { runs[index].run = run }
    }
    if !skipPandas {
        for (file, measured) in pandasOnce() where pandas[file] == nil || measured.seconds < pandas[file]!.seconds {
            pandas[file] = measured
        }
    }
}

print("\nper file (MB/s; rows/s for the extraction with \(jobValues[0]) row worker\(jobValues[0] == 1 ? "" : "s")):")
let mostJobs = jobValues[jobValues.count - 1]
print(pad("file", 16) + lpad("MB", 8) + lpad("records", 10) + lpad("reader", 10) + lpad("extract", 10)
      + lpad("rows/s", 11) + lpad("pandas", 10) + lpad("extract/pandas", 16)
      + (mostJobs > jobValues[0] ? lpad("with \(mostJobs) workers", 16) : ""))
@MainActor func perFile(_ file: String, jobs: Int) -> MetadataExtractor.FileResult? {
    runs.filter { $0.jobs == jobs }.compactMap { $0.run?.perFile[file] }.min { $0.seconds < $1.seconds }
}
for file in files {
    let bytes = size(file)
    let extracted = perFile(file, jobs: jobValues[0])
    var line = pad(file, 16) + lpad(f(mb(bytes)), 8) + lpad(String(readerRecords[file] ?? 0), 10)
        + lpad(f(mb(bytes) / readerSeconds[file]!), 10)
    if let extracted {
        line += lpad(f(mb(bytes) / extracted.seconds), 10) + lpad(f(Double(extracted.rowsIn) / extracted.seconds, 0), 11)
    } else {
        line += lpad("-", 10) + lpad("-", 11)
    }
    if let reference = pandas[file] {
        line += lpad(f(mb(bytes) / reference.seconds), 10)
        if let extracted { line += lpad(f(reference.seconds / extracted.seconds, 2) + "×", 16) }
        if mostJobs > jobValues[0], let parallel = perFile(file, jobs: mostJobs) {
            line += lpad(f(reference.seconds / parallel.seconds, 2) + "×", 16)
        }
    }
    print(line)
}
print("\nfull set (genres.csv, raw_albums.csv, raw_artists.csv + the track file):")
for (tracksFile, jobs, run) in runs {
    guard let run else { continue }
    let used = Array(run.perFile.keys)
    let bytes = used.reduce(0) { $0 + size($1) }
    let rows = run.perFile.values.reduce(0) { $0 + $1.rowsIn }
    let written = run.perFile.values.reduce(0) { $0 + $1.written }
    var line = "  \(jobs) worker\(jobs == 1 ? " " : "s") with \(pad(tracksFile, 15)) \(f(mb(bytes))) MB, \(rows) rows (\(written) written) in \(f(run.total, 2)) s: "
        + "\(f(mb(bytes) / run.total)) MB/s, \(f(Double(rows) / run.total, 0)) rows/s"
    let pandasSeconds = used.compactMap { pandas[$0]?.seconds }
    if pandasSeconds.count == used.count {
        let total = pandasSeconds.reduce(0, +)
        line += "; pandas.read_csv \(f(total, 2)) s (\(f(mb(bytes) / total)) MB/s): extract is \(f(total / run.total, 2))× pandas"
    }
    print(line)
}
print("\nreference: \(pandasVersion)")
