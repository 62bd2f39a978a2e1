import ArgumentParser
import DocumentStore
import Foundation
import Pipeline

/// `etl-extract`: FMA metadata CSVs → validated documents in `staging/metadata/*.jsonl`.
public struct ExtractCommand: JobCommand {
    public static let jobName = "etl-extract"
    public static let configuration = CommandConfiguration(
        commandName: jobName,
        abstract: "Extract FMA metadata CSVs into validated staging documents; bad rows go to quarantine.",
        discussion: """
            Reads genres.csv (or raw_genres.csv), raw_albums.csv, raw_artists.csv and tracks.csv (or \
            raw_tracks.csv) and writes staging/metadata/{genres,albums,artists,tracks}.jsonl. Each track \
            embeds its album, artist, genres, genre_top and set {split, subset}. A bad value of an \
            optional field is nulled, the row kept and the value listed in \
            quarantine/<run>/<file>.repairs.csv (schema keyword x-on-invalid: reject quarantines the row \
            instead); bad rows go to <file>.rejects.csv. Columns no schema property claims are kept under \
            'extra'. The staged files are replaced only when the run succeeds, all together, and \
            staging/metadata/_SUCCESS.json names that run. --only recomputes those tracks and keeps every \
            other staged line as it was; genres, albums and artists are always extracted whole.
            """,
        version: MusicETL.version)

    @Option(name: .long, help: "Directory in FMA fma_metadata layout (genres.csv or raw_genres.csv, …).")
    public var metadata: String

    @Option(name: .long, help: "Largest share of quarantined rows per file before the job fails with exit 65.")
    public var maxRejectRatio: Double = 0.01

    @Option(name: .long, help: "Read tracks from this file (tracks.csv or raw_tracks.csv); default: tracks.csv if present.")
    public var tracksFile: String?

    @Option(name: .long, help: "Threads that validate, build and print rows; the reading thread is one of them and takes rows whenever it is ahead (default: all CPUs; 1 = single-threaded). The output is the same for any number.")
    public var jobs: Int?

    @OptionGroup public var common: CommonOptions

    public init() {}

    public func validate() throws {
        guard (0...1).contains(maxRejectRatio) else { throw ValidationError("--max-reject-ratio must be within 0…1") }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if let ids = common.onlyIDs, ids.contains(where: { Int64($0) == nil }) {
            throw ValidationError("--only takes integer track ids for etl-extract")
        }
    }

    public func execute(_ context: JobContext) async throws -> JobSummary {
        try InputDirectory.check(metadata, flag: "--metadata", name: "metadata directory")
        let dryRun = context.options.dryRun
        var extractor = MetadataExtractor(metadataDirectory: metadata, catalog: try schemaCatalog(),
                                          stagingDirectory: context.work.metadataStaging.path,
                                          quarantineDirectory: dryRun ? nil : context.quarantineDirectory.path,
                                          logger: context.logger)
        extractor.dryRun = dryRun
        extractor.tracksFile = tracksFile
        extractor.rowJobs = jobs ?? max(1, ProcessInfo.processInfo.activeProcessorCount)
        extractor.onlyTracks = context.options.onlyIDs.map { Set($0.compactMap { Int64($0) }) }
        extractor.maxRejectRatio = maxRejectRatio
        extractor.runID = context.runID
        let results = try extractor.run()

        var summary = JobSummary()
        var failures: [String] = []
        var overRatio: [String] = []
        for result in results {
            summary.count("\(result.collection) in", result.rowsIn)
            summary.count("\(result.collection) written", result.written)
            summary.count("\(result.collection) quarantined", result.quarantined)
            if let failure = result.failure { failures.append(failure) }
            if result.overRejectRatio {
                overRatio.append("\(result.file) \(result.quarantined)/\(result.rowsIn)")
            }
            if let path = result.outputPath { summary.outputs.append(path) }
        }
        summary.count("values nulled", results.reduce(0) { $0 + $1.valuesNulled })
        summary.count("warnings", results.reduce(0) { $0 + $1.warnings })
        summary.count("rows with repaired text", results.reduce(0) { $0 + $1.repairedText })
        if results.contains(where: { $0.skipped > 0 }) {
            summary.count("tracks outside --only", results.reduce(0) { $0 + $1.skipped })
        }
        var problems = failures
        if !overRatio.isEmpty {
            problems.append("rejects over --max-reject-ratio \(maxRejectRatio): \(overRatio.joined(separator: ", ")) (see \(context.quarantineDirectory.path))")
        }
        if !problems.isEmpty && !context.options.dryRun { problems.append("staging left as it was") }
        if !problems.isEmpty {
            summary.status = .dataError
            summary.problem = problems.joined(separator: "; ")
        }
        return summary
    }
}
