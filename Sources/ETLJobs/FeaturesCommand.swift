import ArgumentParser
import AudioFeatures
import DocumentStore
import Foundation
import Pipeline
import Tabular

/// `etl-features`: an audio tree → one feature document per track in
/// `staging/features/features.jsonl` (or `features.shard-K-of-N.jsonl`), unreadable files to
/// `quarantine/<run-id>/audio.rejects.csv`.
public struct FeaturesCommand: JobCommand {
    public static let jobName = "etl-features"
    public static let configuration = CommandConfiguration(
        commandName: jobName,
        abstract: "Compute audio features (MFCC, spectral centroid, zero-crossing rate) into staging; unreadable files go to quarantine.",
        discussion: """
            Walks --audio for files libsndfile decodes (mp3, flac, ogg, oga, opus, wav, aif(f), au, w64, rf64, \
            caf). The track id is the file stem when it is an integer (FMA: 000/000002.mp3 → 2), else the path \
            relative to --audio; --id-from path always uses the path. Two files with the same id: the first \
            by path wins, the others are quarantined.

            A re-run reuses the staged document of every file whose path, size, modification time \
            (milliseconds), parameter hash and extractor version are unchanged (and which has frames exactly \
            when --frames asks for them); --force recomputes. --only restricts the work to those ids; the \
            other ids' staged documents are kept as they are, in the staged layout: when the staging is the \
            shards of one --shard N layout, each id goes to its shard's file. --dry-run prints one line per \
            file that would be computed (compute, id, path, reason; tab-separated) on stdout and writes nothing.

            Rejected: files libsndfile cannot open ("undecodable", with its message; "unreadable" when no \
            regular file is there), that decode to zero samples ("empty"), that decode to more than 2 % less \
            than the length their header announces, in any format ("truncated"), or that decode to \
            NaN/infinity. Any file \
            of at least one sample is accepted, as librosa accepts it (a 0.05 s clip gives 3 frames).

            --shard K/N takes the ids whose FNV-1a 64-bit hash of the id text (the decimal number, or the \
            path) is K−1 modulo N, and writes features.shard-K-of-N.jsonl. A run without --shard or --only \
            covers every id, so it replaces the shard files of earlier --shard runs (reusing their \
            documents) with features.jsonl: no id is ever staged in two files.

            Exit status 65 when the rejected share of the files exceeds --max-reject-ratio (the documents of \
            the good files are still written); 69 when --audio does not exist, 64 when it names a file.
            """,
        version: MusicETL.version)

    @Option(name: .long, help: "Audio tree (FMA layout 000/000002.mp3).")
    public var audio: String

    @Option(name: .long, help: "Take only this stable hash partition of the track ids, K of N (1 ≤ K ≤ N).")
    public var shard: ShardSpec?

    @Flag(name: .long, help: "Also store the per-frame arrays (MFCC, centroid, ZCR) in each document.")
    public var frames = false

    @Option(name: .long, help: "Files processed at once (default: the number of active CPUs).")
    public var jobs: Int?

    @Option(name: .long, help: "Track id from the file stem when it is an integer (stem), or always the relative path (path).")
    public var idFrom: TrackIDSource = .stem

    @Option(name: .long, help: "Largest share of rejected files before the job fails with exit 65.")
    public var maxRejectRatio: Double = 0.05

    @Option(name: .long, help: "Seconds between progress lines (0: none).")
    public var progressInterval: Double = 5

    @Option(name: .long, help: "Directory for the (unlinked) temporary file that holds the frames of tracks over ~6 minutes, so memory stays bounded whatever the length (default: $TMPDIR, else /tmp).")
    public var spillDir: String?

    @OptionGroup public var common: CommonOptions

    public init() {}

    public func validate() throws {
        if let shard, !shard.isValid {
            throw ValidationError("--shard \(shard): K/N needs 1 ≤ K ≤ N")
        }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        guard (0...1).contains(maxRejectRatio) else { throw ValidationError("--max-reject-ratio must be within 0…1") }
        guard progressInterval >= 0 else { throw ValidationError("--progress-interval must not be negative") }
    }

    var workerCount: Int { jobs ?? max(1, ProcessInfo.processInfo.activeProcessorCount) }

    public func execute(_ context: JobContext) async throws -> JobSummary {
        try InputDirectory.check(audio, flag: "--audio", name: "audio directory")
        if shard == nil, let only = common.onlyIDs.map(Self.normalizedIDs),
           let count = Self.stagedShardCount(in: context.work.featuresStaging) {
            // --only in a sharded staging: each id into its own shard's file, never a new layout.
            let shards = Set(only.map { Int(TrackID(text: $0).stableHash % UInt64(count)) + 1 }).sorted()
            var summary = JobSummary()
            for index in shards {
                var step = self
                step.shard = ShardSpec(index: index, count: count)
                summary.add(try await step.execute(context))
            }
            return summary
        }
        var isDirectory: ObjCBool = false
        if let spillDir {
            guard FileManager.default.fileExists(atPath: spillDir, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw JobError(.unavailable, "spill directory \(spillDir) does not exist")
            }
        }
        let parameters = FeatureParameters.librosaDefaults
        let outputName = shard?.stagingFileName ?? "features.jsonl"
        let outputPath = context.work.featuresStaging.appendingPathComponent(outputName).path

        // 1. The files of this shard, by id.
        let walked = AudioTree.walk(root: audio, idSource: idFrom)
        let inShard = walked.filter { shard?.contains($0.id) ?? true }
        let previous = try PreviousFeatures(directory: context.work.featuresStaging, preferred: outputName)
        if previous.unreadableLines > 0 {
            context.logger.warning("\(previous.unreadableLines) staged lines could not be read and will be recomputed")
        }
        let plan = FeaturesPlanner(parameters: parameters, frames: frames, force: common.force,
                                   only: common.onlyIDs.map(Self.normalizedIDs)).plan(inShard, previous: previous)
        let counts = plan.counts
        let shardText = shard.map { ", \(inShard.count) in shard \($0)" } ?? ""
        let planText = "\(counts.compute) to compute, \(counts.reuse) unchanged, \(counts.keep) kept (not in --only), "
            + "\(counts.duplicates) duplicate ids; \(workerCount) workers"
        context.logger.info("\(walked.count) audio files under \(audio)\(shardText): \(planText)")

        var summary = JobSummary()
        summary.count("files", inShard.count)
        if common.dryRun {
            for item in plan.items {
                if case .compute(let reason) = item.action {
                    print("compute\t\(item.file.id)\t\(item.file.relativePath)\t\(reason)")
                }
            }
            summary.count("would compute", counts.compute)
            summary.count("would reuse", counts.reuse)
            if counts.keep > 0 { summary.count("would keep", counts.keep) }
            if counts.duplicates > 0 { summary.count("duplicate ids", counts.duplicates) }
            return summary
        }

        // 2. Compute what must be, write everything in id order.
        let output = try AtomicFileWriter(path: outputPath)
        let rejects = AudioRejects(path: context.quarantineDirectory.appendingPathComponent("audio.rejects.csv").path)
        let pipeline = FeaturesPipeline(parameters: parameters, frames: frames, workers: workerCount,
                                        logger: context.logger, progressInterval: progressInterval,
                                        spillDirectory: spillDir.map { URL(fileURLWithPath: $0) })
        let result = try await pipeline.run(plan: plan, previous: previous, output: output, rejects: rejects)
        try output.commit()
        try rejects.commit()
        if shard == nil && common.onlyIDs == nil {
            // Every id is in features.jsonl now: other layouts' files would stage ids twice.
            for path in previous.paths where path != outputPath {
                try FileManager.default.removeItem(atPath: path)
                context.logger.info("removed \(path): superseded by \(outputName)")
            }
        }

        summary.count("computed", result.computed)
        summary.count("reused", result.reused)
        if result.kept > 0 { summary.count("kept", result.kept) }
        summary.count("rejected", rejects.count)
        if result.framesOmitted > 0 { summary.count("frames omitted (too long)", result.framesOmitted) }
        summary.outputs.append(outputPath)
        if rejects.count > 0 { summary.outputs.append(rejects.path) }
        let done = String(format: "%d computed (%.1f audio-hours, %.1f audio-s/s), %d reused, %d rejected",
                                   result.computed, result.audioSeconds / 3600,
                                   result.audioSeconds / max(result.wallSeconds, 1e-9), result.reused, rejects.count)
        context.logger.info("\(done) → \(outputPath)")
        let considered = result.computed + result.reused + rejects.count
        if considered > 0, Double(rejects.count) / Double(considered) > maxRejectRatio {
            summary.status = .dataError
            summary.problem = "\(rejects.count) of \(considered) audio files rejected, over --max-reject-ratio \(maxRejectRatio) (see \(rejects.path))"
        }
        return summary
    }

    /// N when the staged features are shard files of one `--shard K/N` layout and no
    /// `features.jsonl`; nil otherwise.
    static func stagedShardCount(in directory: URL) -> Int? {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasPrefix("features") && $0.hasSuffix(".jsonl") }
        let counts = Set(names.map { name -> Int? in
            let parts = name.dropFirst("features.shard-".count).dropLast(".jsonl".count).split(separator: "-")
            return name.hasPrefix("features.shard-") && parts.count == 3 && parts[1] == "of" ? Int(parts[2]) : nil
        })
        guard counts.count == 1, let count = counts.first ?? nil, count > 1 else { return nil }
        return count
    }

    /// `--only 000002,5` → {"2", "5"}: integer ids compare as numbers, paths as given.
    static func normalizedIDs(_ ids: Set<String>) -> Set<String> {
        Set(ids.map { id in
            if !id.isEmpty, id.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
               let value = Int64(id) {
                return String(value)
            }
            return id
        })
    }
}

/// `quarantine/<run-id>/audio.rejects.csv`: path, track_id, reason, message, code. Created on the
/// first reject only.
final class AudioRejects {
    let path: String
    private var writer: CSVWriter?
    private(set) var count = 0

    init(path: String) {
        self.path = path
    }

    func reject(_ file: AudioFileEntry, reason: String, message: String, code: Int) throws {
        if writer == nil {
            let writer = try CSVWriter(path: path)
            try writer.writeRecord(["path", "track_id", "reason", "message", "code"])
            self.writer = writer
        }
        try writer?.writeRecord([file.relativePath, file.id.text, reason, message, String(code)])
        count += 1
    }

    func commit() throws {
        try writer?.commit()
    }
}

extension JobSummary {
    /// Adds another run's counts and outputs (one summary for the shards an `--only` run wrote).
    mutating func add(_ other: JobSummary) {
        for count in other.counts { self.count(count.name, self[count: count.name] + count.value) }
        outputs += other.outputs
        if other.status != .ok {
            status = other.status
            problem = [problem, other.problem].compactMap { $0 }.joined(separator: "; ")
        }
    }
}
