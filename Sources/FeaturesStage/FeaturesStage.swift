import AudioFeatures
import DocumentStore
import Foundation
import Pipeline
import Staging
import Tabular

/// What `etl-features` is asked to do; each default is the command's.
public struct FeaturesOptions: Sendable {
    /// The audio tree (FMA layout `000/000002.mp3`).
    public var audio: String
    /// Only this stable hash partition of the track ids.
    public var shard: ShardSpec?
    /// Also store the per-frame arrays.
    public var frames = false
    /// Files processed at once; nil: the number of active CPUs.
    public var jobs: Int?
    public var idFrom: TrackIDSource = .stem
    public var maxRejectRatio = 0.05
    /// Seconds between progress lines (0: none).
    public var progressInterval: Double = 5
    /// Where the frames of long tracks spill; nil: `$TMPDIR`, else /tmp.
    public var spillDir: String?
    /// `--only`: these ids (normalised, see `OnlyIDs`); every other staged document is kept.
    public var only: Set<String>?

    public init(audio: String) {
        self.audio = audio
    }

    /// The options' own defaults, for the command's flags.
    public static let defaults = FeaturesOptions(audio: "")

    /// Why these options cannot run, in the flags' words; nil when they can.
    public var problem: String? {
        if let problem = shard?.problem { return problem }
        if let jobs, jobs < 1 { return "--jobs must be at least 1" }
        if !(0...1).contains(maxRejectRatio) { return "--max-reject-ratio must be within 0…1" }
        if progressInterval < 0 { return "--progress-interval must not be negative" }
        return nil
    }
}

/// `etl-features`: an audio tree → one feature document per track in
/// `staging/features/features.jsonl` (or `features.shard-K-of-N.jsonl`), unreadable files to
/// `quarantine/<run-id>/audio.rejects.csv`.
public struct FeaturesStage: Sendable {
    public static let jobName = "etl-features"

    public static func run(_ options: FeaturesOptions, context: JobContext) async throws -> JobSummary {
        try await FeaturesStage(options: options, common: context.options).execute(context)
    }

    var options: FeaturesOptions
    /// The run's common flags (`--force`, `--dry-run`).
    let common: CommonOptions

    var audio: String { options.audio }
    var shard: ShardSpec? { options.shard }
    var frames: Bool { options.frames }
    var jobs: Int? { options.jobs }
    var idFrom: TrackIDSource { options.idFrom }
    var maxRejectRatio: Double { options.maxRejectRatio }
    var progressInterval: Double { options.progressInterval }
    var spillDir: String? { options.spillDir }

    var workerCount: Int { jobs ?? max(1, ProcessInfo.processInfo.activeProcessorCount) }

    func execute(_ context: JobContext) async throws -> JobSummary {
        try InputDirectory.check(audio, flag: "--audio", name: "audio directory")
        if shard == nil, let only = options.only,
           let count = Self.stagedShardCount(in: context.work.featuresStaging) {
            // --only in a sharded staging: each id into its own shard's file, never a new layout.
            let shards = Set(only.map { Int(TrackID(text: $0).stableHash % UInt64(count)) + 1 }).sorted()
            var summary = JobSummary()
            for index in shards {
                var step = self
                step.options.shard = ShardSpec(index: index, count: count)
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
        let walk = AudioTree.walk(root: audio, idSource: idFrom)
        if !walk.unreadable.isEmpty {
            // A part of the tree not read is its files' features missing, which a prune would delete.
            let shown = walk.unreadable.prefix(3).joined(separator: "; ")
            let more = walk.unreadable.count > 3 ? " (and \(walk.unreadable.count - 3) more)" : ""
            throw JobError(.unavailable, "\(walk.unreadable.count) paths under \(audio) could not be read: \(shown)\(more); the staged features are kept")
        }
        let walked = walk.entries
        let previous = try PreviousFeatures(directory: context.work.featuresStaging, preferred: outputName)
        let stagedTracks = context.work.metadataStaging.appendingPathComponent("tracks.jsonl").path
        if walked.isEmpty, Self.hasContent(stagedTracks) || !previous.documents.isEmpty {
            // An archive with tracks or features staged but no audio is no real night: an unmounted
            // disk or a wrong path, which would otherwise stage no features and let a prune delete
            // them all. Features alone count: a scale-out host runs --shard without an extract.
            let staged = Self.hasContent(stagedTracks) ? "tracks are staged in \(stagedTracks)"
                : "\(previous.documents.count) features are staged in \(context.work.featuresStaging.path)"
            throw JobError(.unavailable, "no audio files under \(audio): is it mounted? (\(staged); the staged features are kept)")
        }
        let inShard = walked.filter { shard?.contains($0.id) ?? true }
        if previous.unreadableLines > 0 {
            context.logger.warning("\(previous.unreadableLines) staged lines could not be read and will be recomputed")
        }
        let plan = FeaturesPlanner(parameters: parameters, frames: frames, force: common.force,
                                   only: options.only).plan(inShard, previous: previous)
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
        if shard == nil && options.only == nil {
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

    /// Whether `path` is a file with at least one byte.
    static func hasContent(_ path: String) -> Bool {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0) > 0
    }

    /// N when the staged features are shard files of one `--shard K/N` layout and no
    /// `features.jsonl`; nil otherwise.
    static func stagedShardCount(in directory: URL) -> Int? {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasPrefix("features") && $0.hasSuffix(".jsonl") }
        let counts = Set(names.map { FeatureShardFile.parse($0)?.count })
        guard counts.count == 1, let count = counts.first ?? nil, count > 1 else { return nil }
        return count
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
