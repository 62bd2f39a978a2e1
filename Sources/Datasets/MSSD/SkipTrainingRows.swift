import DocumentStore
import Foundation
import NormalizeStage
import Pipeline
import Staging
import Tabular

/// MSSD's `etl-normalize`: staged plays joined with staged spotify_tracks
/// (`track_id_clean = _id`) → `staging/skip_training.jsonl`, one skip-prediction training row per
/// play (Schemas/mssd/skip_training_row.schema.json), and `staging/skip_scaler.json`.
///
/// Every session lies wholly in one split (`HashSplit` of its `session_id`). The track features
/// are scaled with a scaler fitted on the training split's plays only (each play counts, as in
/// Benchmarks/pandas_mssd.py). What cannot become a row is reported, never dropped: a play whose
/// track has no features, and every play of a session whose positions are not 1…n, whose
/// `session_length` is not its number of plays, or whose plays are not contiguous in the staged
/// order, go to `quarantine/<run>/skip_training.rejects.csv` with the reason; tracks no play names
/// are listed in `unplayed_tracks.csv` there. All are counted in the summary.
///
/// Memory: the tracks (a row number per id and their values), one session's plays, and the set
/// of session ids (to find a session staged in two places). The staged plays are parsed once, by
/// a survey (checks, counts of training plays per track, from which the scaler is fitted) which
/// keeps them in a `PlaySpill` (a temporary file); the write reads that back, and so does a
/// recount, needed only when a session turns out not to be contiguous after its first rows counted.
public enum SkipTrainingRows {
    public static let rowsFile = "skip_training.jsonl"
    public static let scalerFile = "skip_scaler.json"
    public static let rejectsFile = "skip_training.rejects.csv"
    public static let unplayedTracksFile = "unplayed_tracks.csv"
    public static let playsFile = "plays.jsonl"
    public static let tracksFile = "spotify_tracks.jsonl"
    public static let splitDescription = "fnv1a64(session_id) mod 10: 0-7 training, 8 validation, 9 test"

    /// The scaled track columns of a training row, in order (the scaler's features).
    public static var scaledTrackColumns: [String] { SpotifyTrackTable.scaledNames }

    public static func run(_ options: NormalizeOptions, context: JobContext) async throws -> JobSummary {
        if options.only != nil {
            throw JobError(.usage, "--only is not supported with --dataset mssd: a play's row depends on its whole session and the scaler on every training play; run etl-normalize --dataset mssd without --only")
        }
        let playFiles = try stagedPlayFiles(in: context.work)
        let tracksPath = context.work.metadataStaging.appendingPathComponent(tracksFile).path
        guard FileManager.default.fileExists(atPath: tracksPath) else {
            throw JobError(.unavailable, "\(tracksPath) is missing: run etl-extract --dataset mssd first")
        }
        let tracks = try SpotifyTrackTable(path: tracksPath)
        let spill = try PlaySpill(directory: context.work.staging)
        let survey = try PlaySurvey(playFiles: playFiles, tracks: tracks, spill: spill)

        var accumulator = FeatureScaler.Accumulator(width: SpotifyTrackTable.width)
        for row in 0..<tracks.count where survey.trainingPlays[row] > 0 {
            accumulator.add(Array(tracks.numbers(of: row)), weight: survey.trainingPlays[row])
        }
        let rejects = RejectedPlays(path: context.quarantineDirectory.appendingPathComponent(rejectsFile).path,
                                    writes: !context.options.dryRun)
        guard accumulator.rows > 0 else {
            // No scaler, so no rows: the plays that cannot be rows still go to quarantine with
            // their reasons, which are what the operator needs to see why.
            try spill.rewind()
            _ = try sortPlays(in: spill, survey: survey, tracks: tracks, rejects: rejects) { _, _, _, _ in }
            try rejects.commit()
            var message = "no training plays to fit the scaler on: \(survey.sessions) staged sessions, \(survey.rejectedSessions.count) of them quarantined, none of the others in the training split (\(splitDescription)) with a play whose track has features"
            if rejects.count > 0 && !context.options.dryRun { message += "; the \(rejects.count) plays that are not rows, with the reason: \(rejects.path)" }
            if survey.rejectedSessions.values.contains(where: { $0.hasPrefix(PlaySurvey.notContiguous) }) {
                message += "; the plays of a session must be grouped together (one session's rows one after another, as in the MSSD logs)"
            }
            throw JobError(.dataError, message)
        }
        let scaler = accumulator.scaler(options.method ?? .zscore)
        let scalerPath = context.work.staging.appendingPathComponent(scalerFile).path
        // A refit to the same parameters is the same scaler: it keeps the run that first fitted
        // it, so a re-run writes the same bytes.
        let scalerDocument = try NormalizeStage.scalerDocument(scaler, names: SpotifyTrackTable.scaledNames,
                                                               splitSource: splitDescription) {
            PersistedScaler.fittingRun(path: scalerPath, version: $0) ?? context.runID
        }
        let version = scalerDocument["_id"]?.stringValue ?? ""

        let rowsPath = context.work.staging.appendingPathComponent(rowsFile).path
        var rows = try TrainingRowWriter(tracks: tracks, playedTracks: survey.playedTracks, scaler: scaler,
                                         scalerVersion: version,
                                         output: context.options.dryRun ? nil : try AtomicFileWriter(path: rowsPath))
        try spill.rewind()
        let (rejectedForSession, withoutTrack) = try sortPlays(in: spill, survey: survey, tracks: tracks, rejects: rejects) {
            try rows.write($0, track: $1, split: $2, previousSkipped: $3)
        }

        let unplayed = (0..<tracks.count).filter { !survey.playedTracks[$0] }
        if !context.options.dryRun {
            // The scaler first: a crash before the rows leaves the old rows, never rows that name
            // a scaler_version no file holds.
            let scalerWriter = try StagingWriter(path: scalerPath)
            try scalerWriter.write(scalerDocument)
            try scalerWriter.commit()
            try rows.commit()
            try rejects.commit()
            if !unplayed.isEmpty {
                let writer = try CSVWriter(path: context.quarantineDirectory.appendingPathComponent(unplayedTracksFile).path)
                try writer.writeRecord(["track_id", "reason"])
                for row in unplayed { try writer.writeRecord([tracks.ids[row], "no staged play names it"]) }
                try writer.commit()
            }
        }
        context.logger.info("scaler \(scaler.method.rawValue) version \(version) fitted on \(scaler.fittedRows) training plays; \(rows.written) rows written (\(rows.writtenBySplit.map { "\($0.value) \($0.key)" }.sorted().joined(separator: ", "))); \(rows.nonFinite) non-finite values left missing (null)")
        if rejects.count > 0 {
            context.logger.warning("\(rejects.count) plays are not training rows (\(withoutTrack) without track features, \(rejectedForSession) of \(survey.rejectedSessions.count) quarantined sessions): \(rejects.path)")
        }
        if !unplayed.isEmpty {
            context.logger.warning("\(unplayed.count) spotify tracks are named by no staged play: \(context.quarantineDirectory.path)/\(unplayedTracksFile)")
        }
        var summary = JobSummary()
        summary.count("rows written", rows.written)
        summary.count("sessions", survey.sessions)
        summary.count("fitted on", scaler.fittedRows)
        summary.count("plays without track features", withoutTrack)
        summary.count("sessions quarantined", survey.rejectedSessions.count)
        summary.count("plays of quarantined sessions", rejectedForSession)
        summary.count("tracks never played", unplayed.count)
        summary.count("non-finite left missing", rows.nonFinite)
        if !context.options.dryRun { summary.outputs = [rowsPath, scalerPath] }
        return summary
    }

    /// Reads the spilled sessions: the plays of quarantined sessions and those whose track has no
    /// features go to `rejects`; every other play to `row` (with its track's row, its session's
    /// split and whether the play before it in the session was skipped), in session order.
    /// Returns the rejects of each kind.
    private static func sortPlays(in spill: PlaySpill, survey: PlaySurvey, tracks: SpotifyTrackTable, rejects: RejectedPlays,
                                  row: (StagedPlay, Int, String, Int?) throws -> Void) throws -> (ofSessions: Int, withoutTrack: Int) {
        var session: [StagedPlay] = []
        var rejectedForSession = 0, withoutTrack = 0
        while try spill.nextSession(into: &session) {
            if let problem = survey.rejectedSessions[session[0].sessionID] {
                for play in session { try rejects.reject(play, reason: problem) }
                rejectedForSession += session.count
                continue
            }
            session.sort { $0.position < $1.position }
            let split = HashSplit.split(forID: session[0].sessionID)
            for (index, play) in session.enumerated() {
                guard let track = tracks.rowOfID[play.trackID] else {
                    try rejects.reject(play, reason: "track \(play.trackID) has no spotify_tracks row")
                    withoutTrack += 1
                    continue
                }
                try row(play, track, split, index == 0 ? nil : session[index - 1].isSkipped)
            }
        }
        return (rejectedForSession, withoutTrack)
    }

    /// `plays.jsonl`, or every shard of one `--shard` layout in shard order (sessions are never
    /// split across shards, so each shard holds whole sessions).
    static func stagedPlayFiles(in work: WorkDirectory) throws -> [String] {
        let files = StagedCollections.files(named: playsFile, in: work)
        guard !files.isEmpty else {
            throw JobError(.unavailable, "\(work.metadataStaging.path)/\(playsFile) is missing: run etl-extract --dataset mssd first")
        }
        let names = files.map { ($0 as NSString).lastPathComponent }
        if names == [playsFile] { return files }
        var shards: [(index: Int, count: Int, path: String)] = []
        for (name, path) in zip(names, files) {
            guard let shard = playShard(name) else {
                throw JobError(.dataError, "staged plays mix \(playsFile) with shards (\(names.joined(separator: ", "))): remove the stale files or re-run etl-extract --dataset mssd")
            }
            shards.append((shard.index, shard.count, path))
        }
        let count = shards[0].count
        let indexes = shards.map(\.index).sorted()
        guard shards.allSatisfy({ $0.count == count }), indexes == Array(1...max(count, 1)) else {
            throw JobError(.dataError, "staged plays are not every shard of one layout (\(names.joined(separator: ", "))): the training rows and the scaler need all plays; run etl-extract --dataset mssd for the missing shards")
        }
        return shards.sorted { $0.index < $1.index }.map(\.path)
    }

    /// K and N of `plays.shard-K-of-N.jsonl`.
    static func playShard(_ name: String) -> (index: Int, count: Int)? {
        let prefix = "plays.shard-", suffix = ".jsonl"
        guard name.hasPrefix(prefix), name.hasSuffix(suffix), name.count > prefix.count + suffix.count else { return nil }
        let parts = name.dropFirst(prefix.count).dropLast(suffix.count).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[1] == "of", let index = Int(parts[0]), let count = Int(parts[2]) else { return nil }
        return (index, count)
    }
}

/// The first read of the plays: which sessions cannot become rows (and why), which tracks are
/// played, and how many training plays each track has (the scaler's weights).
struct PlaySurvey {
    var sessions = 0
    var rejectedSessions: [String: String] = [:]
    var playedTracks: [Bool]
    var trainingPlays: [Int]

    /// Parses the staged plays once; `spill` gets every session read, for the passes after.
    init(playFiles: [String], tracks: SpotifyTrackTable, spill: PlaySpill) throws {
        playedTracks = Array(repeating: false, count: tracks.count)
        trainingPlays = Array(repeating: 0, count: tracks.count)
        var seenSessions = Set<String>()
        var firstRowsCounted = false
        let reader = StagedPlayReader(paths: playFiles)
        var session: [StagedPlay] = []
        while try reader.nextSession(into: &session) {
            try spill.append(session: session)
            let sessionID = session[0].sessionID
            for play in session {
                if let track = tracks.rowOfID[play.trackID] { playedTracks[track] = true }
            }
            guard seenSessions.insert(sessionID).inserted else {
                // Its first rows may have counted: they are uncounted below.
                if rejectedSessions[sessionID] == nil { firstRowsCounted = true }
                if rejectedSessions[sessionID]?.hasPrefix(Self.notContiguous) != true {
                    rejectedSessions[sessionID] = "\(Self.notContiguous) (its plays start again at \(session[0].location))"
                }
                continue
            }
            sessions += 1
            if let problem = sessionShapeProblem(session) {
                rejectedSessions[sessionID] = problem
                continue
            }
            countTrainingPlays(session, tracks: tracks)
        }
        if firstRowsCounted {
            trainingPlays = Array(repeating: 0, count: tracks.count)
            try spill.rewind()
            while try spill.nextSession(into: &session) {
                if rejectedSessions[session[0].sessionID] == nil { countTrainingPlays(session, tracks: tracks) }
            }
        }
    }

    static let notContiguous = "the session's plays are not contiguous in the staged order"

    private mutating func countTrainingPlays(_ session: [StagedPlay], tracks: SpotifyTrackTable) {
        guard HashSplit.split(forID: session[0].sessionID) == "training" else { return }
        for play in session {
            if let track = tracks.rowOfID[play.trackID] { trainingPlays[track] += 1 }
        }
    }
}

/// `skip_training.rejects.csv`: the plays that are not training rows, with the reason. Created on
/// the first reject only.
final class RejectedPlays {
    let path: String
    /// False for a dry run: counted, not written.
    private let writes: Bool
    private var writer: CSVWriter?
    private(set) var count = 0

    init(path: String, writes: Bool) {
        self.path = path
        self.writes = writes
    }

    func reject(_ play: StagedPlay, reason: String) throws {
        count += 1
        guard writes else { return }
        if writer == nil {
            let writer = try CSVWriter(path: path)
            try writer.writeRecord(["_id", "session_id", "session_position", "track_id_clean", "reason", "staged_at"])
            self.writer = writer
        }
        try writer?.writeRecord([play.id, play.sessionID, String(play.position), play.trackID, reason, play.location])
    }

    func commit() throws {
        try writer?.commit()
    }
}
