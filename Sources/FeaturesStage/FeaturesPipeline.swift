import AudioFeatures
import DocumentStore
import Staging
import Foundation
import Logging
import Pipeline
import Synchronization
import Tabular

/// What happens to each file of the run, decided before any audio is decoded.
struct FeaturesPlan: Sendable {
    enum Action: Sendable {
        /// Decode and extract; the reason is for `--dry-run` and debug logs.
        case compute(reason: String)
        /// Unchanged since the staged document: copy that line.
        case reuse(PreviousDocument)
        /// Not selected by `--only`: keep the staged document as it is.
        case keep(PreviousDocument)
        /// Another file (earlier by path) has the same id.
        case duplicate(of: String)
    }

    struct Item: Sendable {
        var file: AudioFileEntry
        var action: Action
    }

    /// Sorted by id: the order of the staging file.
    var items: [Item]

    var counts: (compute: Int, reuse: Int, keep: Int, duplicates: Int) {
        var counts = (compute: 0, reuse: 0, keep: 0, duplicates: 0)
        for item in items {
            switch item.action {
            case .compute: counts.compute += 1
            case .reuse: counts.reuse += 1
            case .keep: counts.keep += 1
            case .duplicate: counts.duplicates += 1
            }
        }
        return counts
    }
}

struct FeaturesPlanner {
    var parameters: FeatureParameters
    var frames: Bool
    var force: Bool
    /// Normalised `--only` ids, nil for all.
    var only: Set<String>?

    func plan(_ files: [AudioFileEntry], previous: PreviousFeatures) -> FeaturesPlan {
        var firstPath: [TrackID: String] = [:]
        var items: [FeaturesPlan.Item] = []
        // `files` is sorted by path, so "first" is deterministic.
        for file in files {
            if let first = firstPath[file.id] {
                items.append(.init(file: file, action: .duplicate(of: first)))
                continue
            }
            firstPath[file.id] = file.relativePath
            let staged = previous.documents[file.id]
            if let only, !only.contains(file.id.text) {
                if let staged, staged.path == file.relativePath { items.append(.init(file: file, action: .keep(staged))) }
                continue
            }
            if let staged, let reason = changeReason(file, staged) {
                items.append(.init(file: file, action: .compute(reason: reason)))
            } else if let staged {
                items.append(.init(file: file, action: .reuse(staged)))
            } else {
                items.append(.init(file: file, action: .compute(reason: "new")))
            }
        }
        // Stable: duplicates stay after the file that owns the id.
        let order = items.indices.sorted { a, b in
            items[a].file.id != items[b].file.id ? items[a].file.id < items[b].file.id : a < b
        }
        return FeaturesPlan(items: order.map { items[$0] })
    }

    /// Why the staged document cannot be reused, or nil when it can.
    func changeReason(_ file: AudioFileEntry, _ staged: PreviousDocument) -> String? {
        if force { return "forced" }
        if staged.path != file.relativePath { return "changed: path (was \(staged.path))" }
        if staged.bytes != file.bytes { return "changed: size" }
        if staged.mtimeMillis != file.mtimeMillis { return "changed: mtime" }
        if staged.version != FeatureParameters.extractorVersion { return "changed: extractor version" }
        if staged.paramsHash != parameters.paramsHash { return "changed: parameters" }
        let wantsFrames = FeaturesDocument.keepsFrames(nFrames: staged.nFrames, requested: frames)
        if staged.hasFrames != wantsFrames { return wantsFrames ? "frames wanted" : "frames not wanted" }
        return nil
    }
}

/// Extractors for the workers: one per file in flight, reused across files (FFT plans, soxr
/// streams and buffers are made once). `FeatureExtractor` is not thread-safe; the pool hands each
/// to one task at a time.
final class ExtractorPool: @unchecked Sendable {  // extractors own FFTW plans and soxr streams; `idle` is behind `lock`
    private let lock = NSLock()
    private var idle: [FeatureExtractor] = []
    private let parameters: FeatureParameters
    private let spillDirectory: URL?

    init(parameters: FeatureParameters, spillDirectory: URL? = nil) {
        self.parameters = parameters
        self.spillDirectory = spillDirectory
    }

    func withExtractor<T>(_ body: (FeatureExtractor) throws -> T) throws -> T {
        let extractor = try lock.withLock { idle.popLast() }
            ?? FeatureExtractor(parameters: parameters, spillDirectory: spillDirectory)
        defer { lock.withLock { idle.append(extractor) } }
        return try body(extractor)
    }
}

/// Runs the plan: at most `workers` files decoded at once (a task group), results written in plan
/// order through a bounded reorder window, so memory holds at most `window` finished documents
/// whatever the corpus size.
struct FeaturesPipeline {
    var parameters: FeatureParameters
    var frames: Bool
    var workers: Int
    var logger: Logger
    var progressInterval: Double
    /// Where extractors spill the frames of very long tracks (nil: the system temporary directory).
    var spillDirectory: URL? = nil

    struct Result {
        var computed = 0
        var reused = 0
        var kept = 0
        var framesOmitted = 0
        var audioSeconds = 0.0
        var wallSeconds = 0.0
    }

    enum Outcome: Sendable {
        case document(line: [UInt8], audioSeconds: Double, framesOmitted: Bool)
        case rejected(reason: String, message: String, code: Int)
    }

    /// Finished documents waiting for an earlier one: a few KB each, up to ~14 MB with `--frames`.
    var window: Int { frames ? 2 * workers : 16 * workers }

    func run(plan: FeaturesPlan, previous: PreviousFeatures, output: AtomicFileWriter,
             rejects: AudioRejects) async throws -> Result {
        let items = plan.items
        let computeIndices = items.indices.filter { if case .compute = items[$0].action { true } else { false } }
        let pool = ExtractorPool(parameters: parameters, spillDirectory: spillDirectory)
        let frames = self.frames
        let start = Date()
        var result = Result()
        var lastProgress = start
        var computeDone = 0
        let progress = ProgressBar(label: "etl-features", unit: "files", total: computeIndices.count, logger: logger)
        defer { progress.finish() }

        try await withThrowingTaskGroup(of: (Int, Outcome).self) { group in
            var launched = 0  // into computeIndices
            var written = 0  // computed items written
            var inFlight = 0
            var ready: [Int: Outcome] = [:]
            var next = 0  // into items

            while true {
                // Write everything that is ready, in order.
                writing: while next < items.count {
                    let item = items[next]
                    switch item.action {
                    case .reuse(let staged):
                        try output.write(try previous.line(of: staged))
                        result.reused += 1
                    case .keep(let staged):
                        try output.write(try previous.line(of: staged))
                        result.kept += 1
                    case .duplicate(let first):
                        try rejects.reject(item.file, reason: "duplicate_id",
                                           message: "track id \(item.file.id) is already taken by \(first)", code: 0)
                    case .compute:
                        guard let outcome = ready.removeValue(forKey: next) else { break writing }
                        written += 1
                        switch outcome {
                        case .document(let line, let seconds, let omitted):
                            try output.write(line)
                            result.computed += 1
                            result.audioSeconds += seconds
                            if omitted { result.framesOmitted += 1 }
                        case .rejected(let reason, let message, let code):
                            logger.warning("rejected \(item.file.relativePath): \(reason): \(message)")
                            try rejects.reject(item.file, reason: reason, message: message, code: code)
                        }
                    }
                    next += 1
                }
                if next == items.count { break }
                // SIGTERM / SIGINT: the files in flight finish, nothing new starts, nothing is committed.
                try Task.checkCancellation()

                // Launch up to `workers` files, no further ahead than the window.
                while inFlight < workers, launched < computeIndices.count, launched - written < window {
                    let index = computeIndices[launched]
                    let file = items[index].file
                    group.addTask {
                        let outcome = try pool.withExtractor { extractor in
                            try Self.process(file, extractor: extractor, frames: frames)
                        }
                        return (index, outcome)
                    }
                    launched += 1
                    inFlight += 1
                }
                guard let (index, outcome) = try await group.next() else { break }
                inFlight -= 1
                ready[index] = outcome
                computeDone += 1
                progress.update(done: computeDone)

                let now = Date()
                if progressInterval > 0, !progress.isEnabled, now.timeIntervalSince(lastProgress) >= progressInterval {
                    lastProgress = now
                    let elapsed = now.timeIntervalSince(start)
                    let rate = Double(computeDone) / elapsed
                    let remaining = rate > 0 ? Double(computeIndices.count - computeDone) / rate : 0
                    let line = String(format: "progress: %d/%d files computed (%.0f %%), %.1f files/s, eta %.0f s",
                                       computeDone, computeIndices.count,
                                       100 * Double(computeDone) / Double(max(1, computeIndices.count)),
                                       rate, remaining)
                    logger.info("\(line)")
                }
            }
        }
        result.wallSeconds = Date().timeIntervalSince(start)
        return result
    }

    /// Extracts one file; decoder failures become rejects, anything else fails the job.
    static func process(_ file: AudioFileEntry, extractor: FeatureExtractor, frames: Bool) throws -> Outcome {
        var features: TrackFeatures
        do {
            features = try extractor.extract(fileAt: URL(fileURLWithPath: file.absolutePath), keepFrames: frames)
        } catch let error as AudioDecodeError {
            return .rejected(reason: error.kind.rawValue, message: error.message, code: error.code)
        } catch let error as FeatureExtractionError {
            if case .resampler(let message) = error {
                return .rejected(reason: "resampler", message: message, code: 0)
            }
            if case .spill = error {
                // The machine's problem (a full or missing disk), not the file's: stop the run.
                throw JobError(.unavailable, "\(file.relativePath): \(error) (tracks over 6.3 minutes keep their frames in --spill-dir, default $TMPDIR; give it a directory with free space)")
            }
            throw error
        }
        let omitted = features.frames != nil && !FeaturesDocument.keepsFrames(nFrames: features.nFrames, requested: true)
        if omitted { features.frames = nil }
        let document = FeaturesDocument.make(id: file.id, file: file, features: features)
        return .document(line: try FeaturesDocument.line(document), audioSeconds: features.source.durationSeconds,
                         framesOmitted: omitted)
    }
}
