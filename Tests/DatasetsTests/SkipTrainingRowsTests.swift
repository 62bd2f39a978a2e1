import DocumentStore
import Foundation
import NormalizeStage
import Pipeline
import Testing
import TestSupport

@testable import Datasets

/// Staged MSSD documents in the shape etl-extract stages them (Schemas/mssd/*.schema.json).
enum StagedMSSD {
    static let day = Int64(86_400_000)
    /// 2018-07-16, a Monday.
    static let monday = Int64(17_728) * day

    static func play(_ session: String, _ position: Int, length: Int, track: String, skipped: Bool = false,
                     paused: Bool = false, date: Int64 = monday) -> Document {
        ["_id": .string("\(session):\(position)"), "session_id": .string(session),
         "session_position": .integer(position), "session_length": .integer(length),
         "track_id_clean": .string(track), "skip_1": false, "skip_2": .bool(skipped), "skip_3": .bool(skipped),
         "not_skipped": .bool(!skipped), "context_switch": 0, "no_pause_before_play": .integer(paused ? 0 : 1),
         "short_pause_before_play": .integer(paused ? 1 : 0), "long_pause_before_play": 0,
         "hist_user_behavior_n_seekfwd": 2, "hist_user_behavior_n_seekback": 1,
         "hist_user_behavior_is_shuffle": true, "hour_of_day": 13, "date": .dateTime(date), "premium": false,
         "context_type": "radio", "hist_user_behavior_reason_start": "fwdbtn", "hist_user_behavior_reason_end": "trackdone"]
    }

    /// Every scaled number of the track is `value`; released in `year`.
    static func track(_ id: String, value: Double, year: Int = 2000, mode: String = "major") -> Document {
        var document: Document = ["_id": .string(id), "release_year": .integer(year), "key": 5, "mode": .string(mode),
                                  "time_signature": 4]
        for name in SkipTrainingRows.scaledTrackColumns { document.append(name, .double(value)) }
        return document
    }

    /// A whole session of `length` plays of `track`.
    static func session(_ id: String, length: Int, track: String, skippedAt: Set<Int> = []) -> [Document] {
        (1...length).map { play(id, $0, length: length, track: track, skipped: skippedAt.contains($0)) }
    }

    static func stage(plays: [Document], tracks: [Document], in work: TemporaryDirectory, playsFile: String = "plays.jsonl") throws {
        try write(plays, to: work.url.appendingPathComponent("staging/metadata/\(playsFile)"))
        try write(tracks, to: work.url.appendingPathComponent("staging/metadata/spotify_tracks.jsonl"))
    }

    static func write(_ documents: [Document], to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let text = try documents.map { try BSONDocument($0).jsonLine() + "\n" }.joined()
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    static func read(_ url: URL) throws -> [Document] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map { try BSONDocument(json: String($0)).document() }
    }

    /// Session ids whose hash split is `split` (FNV-1a 64 mod 10).
    static func sessions(in split: String, count: Int, prefix: String = "s") -> [String] {
        var found: [String] = []
        var index = 0
        while found.count < count {
            let id = "\(prefix)\(index)"
            if HashSplit.split(forID: id) == split { found.append(id) }
            index += 1
        }
        return found
    }

    struct Run {
        var status: Pipeline.ExitStatus
        var summary: JobSummary
        var rows: [Document]
        var scaler: Document?
        var quarantine: URL?
    }

    /// Runs the derivation in `work` as etl-normalize does.
    static func derive(_ work: TemporaryDirectory, options: NormalizeOptions = NormalizeOptions(),
                       dryRun: Bool = false) async throws -> Run {
        let common = try CommonOptions.parse(["--work-dir", work.path, "--quiet"] + (dryRun ? ["--dry-run"] : []))
        let runID = RunID.make()
        let (status, summary) = await JobRunner.run(job: "etl-normalize", options: common, runID: runID) { context in
            try await SkipTrainingRows.run(options, context: context)
        }
        let rowsURL = work.url.appendingPathComponent("staging/skip_training.jsonl")
        let scalerURL = work.url.appendingPathComponent("staging/skip_scaler.json")
        let rows = FileManager.default.fileExists(atPath: rowsURL.path) ? try read(rowsURL) : []
        let scaler = FileManager.default.fileExists(atPath: scalerURL.path) ? try read(scalerURL).first : nil
        let quarantine = WorkDirectory(work.path).quarantine(runID: runID)
        return Run(status: status, summary: summary, rows: rows, scaler: scaler,
                   quarantine: FileManager.default.fileExists(atPath: quarantine.path) ? quarantine : nil)
    }
}

@Suite struct SkipTrainingRowsTests {
    @Test func rowsHoldTheLabelSessionContextAndTrackColumnsInSchemaOrder() async throws {
        let work = TemporaryDirectory()
        let session = try #require(StagedMSSD.sessions(in: "training", count: 1).first)
        let plays = [
            StagedMSSD.play(session, 1, length: 3, track: "t_a", skipped: true, paused: true),
            StagedMSSD.play(session, 2, length: 3, track: "t_b", date: StagedMSSD.monday + 6 * StagedMSSD.day),
            StagedMSSD.play(session, 3, length: 3, track: "t_a", skipped: true),
        ]
        try StagedMSSD.stage(plays: plays, tracks: [StagedMSSD.track("t_a", value: 1, year: 2010, mode: "minor"),
                                                     StagedMSSD.track("t_b", value: 4, year: 2018)], in: work)
        let run = try await StagedMSSD.derive(work)
        #expect(run.status == .ok, "\(run.summary.problem ?? "")")
        #expect(run.rows.count == 3)
        let schemaURL = TestServer.packageRoot.appendingPathComponent("Schemas/mssd/skip_training_row.schema.json")
        let schema = try EntitySchema(path: schemaURL.path)
        #expect(run.rows.allSatisfy { $0.keys == schema.properties.map(\.name) }, "row fields are the schema's, in its order")
        let first = try #require(run.rows.first), second = run.rows[1], third = run.rows[2]
        #expect(first["_id"] == .string("\(session):1") && first["split"] == "training")
        #expect(first["is_skipped"]?.int64Value == 1 && second["is_skipped"]?.int64Value == 0)
        #expect(first["previous_skipped"] == .null)
        #expect(second["previous_skipped"]?.int64Value == 1 && third["previous_skipped"]?.int64Value == 0)
        #expect(first["is_paused_before_play"]?.int64Value == 1 && second["is_paused_before_play"]?.int64Value == 0)
        #expect(first["hist_user_behavior_is_shuffle"]?.int64Value == 1 && first["premium"]?.int64Value == 0)
        #expect(first["day_of_week"]?.int64Value == 0 && second["day_of_week"]?.int64Value == 6, "Monday = 0, Sunday = 6")
        #expect(first["track_age"]?.int64Value == 8 && second["track_age"]?.int64Value == 0)
        #expect(first["mode"] == "minor" && first["key"]?.int64Value == 5 && first["time_signature"]?.int64Value == 4)
        #expect(first["context_type"] == "radio" && first["hist_user_behavior_reason_start"] == "fwdbtn")
        #expect(first["skip_1"] == nil && first["skip_3"] == nil && first["not_skipped"] == nil, "the label's sources stay out")
        // Training plays: t_a twice (1), t_b once (4): mean 2, population std sqrt(2).
        let scaled = try #require(first["energy"]?.doubleValue)
        #expect(abs(scaled - (1 - 2) / 2.0.squareRoot()) < 1e-12)
        #expect(abs((second["energy"]?.doubleValue ?? 0) - (4 - 2) / 2.0.squareRoot()) < 1e-12)
        let scaler = try #require(run.scaler)
        #expect(first["scaler_version"] == scaler["_id"])
        #expect(scaler[path: "fitted_on.rows"]?.int64Value == 3)
        #expect(scaler[path: "fitted_on.split_source"] == .string(SkipTrainingRows.splitDescription))
        #expect(abs((scaler[path: "features.energy.mean"]?.doubleValue ?? 0) - 2) < 1e-12)
        #expect(run.summary[count: "rows written"] == 3 && run.summary[count: "fitted on"] == 3)
    }

    @Test func everySessionLiesInOneSplitAndTheScalerIgnoresValidationAndTestPlays() async throws {
        func stage(_ work: TemporaryDirectory, heldOutValue: Double, heldOutPlays: Int) throws {
            var plays: [Document] = []
            for (index, id) in StagedMSSD.sessions(in: "training", count: 12).enumerated() {
                plays += StagedMSSD.session(id, length: 2 + index % 4, track: index % 2 == 0 ? "t_low" : "t_high", skippedAt: [2])
            }
            for id in StagedMSSD.sessions(in: "validation", count: 3) + StagedMSSD.sessions(in: "test", count: 3) {
                plays += StagedMSSD.session(id, length: heldOutPlays, track: "t_held_out")
            }
            try StagedMSSD.stage(plays: plays, tracks: [StagedMSSD.track("t_low", value: -1), StagedMSSD.track("t_high", value: 3),
                                                         StagedMSSD.track("t_held_out", value: heldOutValue)], in: work)
        }
        let work = TemporaryDirectory()
        try stage(work, heldOutValue: 50, heldOutPlays: 3)
        let run = try await StagedMSSD.derive(work)
        #expect(run.status == .ok, "\(run.summary.problem ?? "")")
        var splitOfSession: [String: Set<String>] = [:]
        for row in run.rows {
            splitOfSession[row["session_id"]?.stringValue ?? "", default: []].insert(row["split"]?.stringValue ?? "")
        }
        #expect(splitOfSession.count == 18 && splitOfSession.values.allSatisfy { $0.count == 1 })
        #expect(run.rows.allSatisfy { $0["split"]?.stringValue == HashSplit.split(forID: $0["session_id"]?.stringValue ?? "") })
        #expect(Set(splitOfSession.values.map { $0.first ?? "" }) == ["training", "validation", "test"])

        // Other validation/test values and numbers of plays: the same scaler, to the bit.
        let other = TemporaryDirectory()
        try stage(other, heldOutValue: -1e9, heldOutPlays: 7)
        let otherRun = try await StagedMSSD.derive(other)
        #expect(otherRun.status == .ok)
        let scaler = try #require(run.scaler), otherScaler = try #require(otherRun.scaler)
        #expect(scaler["_id"] == otherScaler["_id"] && scaler["features"] == otherScaler["features"])
        #expect(scaler[path: "fitted_on.rows"] == otherScaler[path: "fitted_on.rows"])
    }

    @Test func playsWithoutTrackFeaturesAndUnplayedTracksAreQuarantinedAndCounted() async throws {
        let work = TemporaryDirectory()
        let session = try #require(StagedMSSD.sessions(in: "training", count: 1).first)
        let plays = [
            StagedMSSD.play(session, 1, length: 3, track: "t_a"),
            StagedMSSD.play(session, 2, length: 3, track: "t_missing", skipped: true),
            StagedMSSD.play(session, 3, length: 3, track: "t_a"),
        ]
        try StagedMSSD.stage(plays: plays, tracks: [StagedMSSD.track("t_a", value: 1), StagedMSSD.track("t_never", value: 2)], in: work)
        let run = try await StagedMSSD.derive(work)
        #expect(run.status == .ok)
        #expect(run.rows.map { $0["_id"]?.stringValue } == ["\(session):1", "\(session):3"])
        #expect(run.rows.last?["previous_skipped"]?.int64Value == 1, "the previous play counts even when it has no track features")
        #expect(run.summary[count: "plays without track features"] == 1 && run.summary[count: "tracks never played"] == 1)
        let quarantine = try #require(run.quarantine)
        let rejects = try String(contentsOf: quarantine.appendingPathComponent(SkipTrainingRows.rejectsFile), encoding: .utf8)
        #expect(rejects.contains("\(session):2,\(session),2,t_missing,track t_missing has no spotify_tracks row,plays.jsonl:2"), "\(rejects)")
        let unplayed = try String(contentsOf: quarantine.appendingPathComponent(SkipTrainingRows.unplayedTracksFile), encoding: .utf8)
        #expect(unplayed == "track_id,reason\nt_never,no staged play names it\n")
    }

    @Test func sessionsOfTheWrongShapeAreQuarantinedWholeWithTheirReason() async throws {
        let work = TemporaryDirectory()
        let ids = StagedMSSD.sessions(in: "training", count: 6)
        var plays = StagedMSSD.session(ids[0], length: 2, track: "t_a")
        // Length says 3, two plays staged.
        plays += [StagedMSSD.play(ids[1], 1, length: 3, track: "t_a"), StagedMSSD.play(ids[1], 2, length: 3, track: "t_a")]
        // Position 2 twice (a duplicate key), no position 3.
        plays += [StagedMSSD.play(ids[2], 1, length: 3, track: "t_a"), StagedMSSD.play(ids[2], 2, length: 3, track: "t_a"),
                  StagedMSSD.play(ids[2], 2, length: 3, track: "t_b")]
        // Split in two runs of rows, with another session between: its first run alone looks whole.
        plays += [StagedMSSD.play(ids[3], 1, length: 2, track: "t_b"), StagedMSSD.play(ids[3], 2, length: 2, track: "t_b")]
        plays += StagedMSSD.session(ids[4], length: 2, track: "t_a")
        plays += [StagedMSSD.play(ids[3], 3, length: 3, track: "t_b")]
        // Positions in another order than staged: sorted, not quarantined.
        plays += [StagedMSSD.play(ids[5], 2, length: 2, track: "t_a"), StagedMSSD.play(ids[5], 1, length: 2, track: "t_a", skipped: true)]
        try StagedMSSD.stage(plays: plays, tracks: [StagedMSSD.track("t_a", value: 1), StagedMSSD.track("t_b", value: 100)], in: work)
        let run = try await StagedMSSD.derive(work)
        #expect(run.status == .ok)
        #expect(run.rows.map { $0["_id"]?.stringValue ?? "" } == ["\(ids[0]):1", "\(ids[0]):2", "\(ids[4]):1", "\(ids[4]):2",
                                                                  "\(ids[5]):1", "\(ids[5]):2"])
        #expect(run.rows.last?["previous_skipped"]?.int64Value == 1)
        #expect(run.summary[count: "sessions quarantined"] == 3 && run.summary[count: "plays of quarantined sessions"] == 8)
        #expect(run.summary[count: "sessions"] == 6)
        let rejects = try String(contentsOf: try #require(run.quarantine).appendingPathComponent(SkipTrainingRows.rejectsFile), encoding: .utf8)
        let lines = rejects.split(separator: "\n")
        #expect(lines.count == 9)
        #expect(lines.filter { $0.hasPrefix("\(ids[1]):") }.allSatisfy { $0.contains("session_length 3 (at plays.jsonl:3) differs from the session's 2 staged plays") })
        #expect(lines.filter { $0.hasPrefix("\(ids[2]):") }.allSatisfy { $0.contains("session_position 2 is staged twice (again at plays.jsonl:7)") })
        let split = lines.filter { $0.hasPrefix("\(ids[3]):") }
        #expect(split.count == 3 && split.allSatisfy { $0.contains("not contiguous in the staged order (its plays start again at plays.jsonl:12)") })
        // Only t_a's training plays are fitted: ids[3]'s first run of t_b (100) was counted, then uncounted.
        #expect(run.scaler?[path: "features.energy.mean"]?.doubleValue == 1)
        #expect(run.scaler?[path: "fitted_on.rows"]?.int64Value == 6)
    }

    /// Shuffled logs: no session is contiguous, so none is a row and no scaler can be fitted. The
    /// run fails, but its rejects are in quarantine, named in the message with what to fix.
    @Test func whenEverySessionIsQuarantinedTheRejectsAreWrittenBeforeTheRunFails() async throws {
        let work = TemporaryDirectory()
        let ids = StagedMSSD.sessions(in: "training", count: 2)
        let first = StagedMSSD.session(ids[0], length: 2, track: "t_a"), second = StagedMSSD.session(ids[1], length: 2, track: "t_a")
        try StagedMSSD.stage(plays: [first[0], second[0], first[1], second[1]], tracks: [StagedMSSD.track("t_a", value: 1)], in: work)
        let run = try await StagedMSSD.derive(work)
        #expect(run.status == .dataError)
        let rejectsURL = try #require(run.quarantine).appendingPathComponent(SkipTrainingRows.rejectsFile)
        let lines = try String(contentsOf: rejectsURL, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 5 && lines.dropFirst().allSatisfy { $0.contains("not contiguous in the staged order") }, "\(lines)")
        let problem = run.summary.problem ?? ""
        #expect(problem.contains("2 staged sessions, 2 of them quarantined"), "\(problem)")
        #expect(problem.contains("the 4 plays that are not rows, with the reason: \(rejectsURL.path)"), "\(problem)")
        #expect(problem.contains("the plays of a session must be grouped together"), "\(problem)")
        #expect(run.rows.isEmpty && run.scaler == nil)
    }

    @Test func shardsAreReadInShardOrderAndAMixedLayoutIsRefused() async throws {
        let work = TemporaryDirectory()
        let ids = StagedMSSD.sessions(in: "training", count: 12)
        // Shard 10 sorts before shard 2 by name.
        for shard in 1...12 {
            try StagedMSSD.write(StagedMSSD.session(ids[shard - 1], length: 2, track: "t_a"),
                                 to: work.url.appendingPathComponent("staging/metadata/plays.shard-\(shard)-of-12.jsonl"))
        }
        try StagedMSSD.write([StagedMSSD.track("t_a", value: 1)], to: work.url.appendingPathComponent("staging/metadata/spotify_tracks.jsonl"))
        let run = try await StagedMSSD.derive(work)
        #expect(run.status == .ok)
        #expect(run.rows.compactMap { $0["session_id"]?.stringValue }.enumerated().allSatisfy { $0.element == ids[$0.offset / 2] })

        try StagedMSSD.write(StagedMSSD.session("stale", length: 2, track: "t_a"),
                             to: work.url.appendingPathComponent("staging/metadata/plays.jsonl"))
        let mixed = try await StagedMSSD.derive(work)
        #expect(mixed.status == .dataError && mixed.summary.problem?.contains("mix plays.jsonl with shards") == true)
        try FileManager.default.removeItem(at: work.url.appendingPathComponent("staging/metadata/plays.jsonl"))
        try FileManager.default.removeItem(at: work.url.appendingPathComponent("staging/metadata/plays.shard-7-of-12.jsonl"))
        let incomplete = try await StagedMSSD.derive(work)
        #expect(incomplete.status == .dataError && incomplete.summary.problem?.contains("not every shard of one layout") == true)
    }

    @Test func onlyIsRefusedAndMinMaxIsHonoured() async throws {
        let work = TemporaryDirectory()
        let id = try #require(StagedMSSD.sessions(in: "training", count: 1).first)
        try StagedMSSD.stage(plays: [StagedMSSD.play(id, 1, length: 2, track: "t_a"), StagedMSSD.play(id, 2, length: 2, track: "t_b")],
                             tracks: [StagedMSSD.track("t_a", value: 2), StagedMSSD.track("t_b", value: 6)], in: work)
        let only = try await StagedMSSD.derive(work, options: NormalizeOptions(only: ["\(id):1"]))
        #expect(only.status == .usage && only.summary.problem?.contains("--only is not supported with --dataset mssd") == true)
        #expect(only.rows.isEmpty)
        let minmax = try await StagedMSSD.derive(work, options: NormalizeOptions(method: .minmax))
        #expect(minmax.status == .ok)
        #expect(minmax.rows.map { $0["energy"]?.doubleValue } == [0, 1])
        #expect(minmax.scaler?["method"] == "minmax")
    }

    @Test func aDocumentOfAnotherShapeStopsTheRunNamingFileLineAndField() async throws {
        let work = TemporaryDirectory()
        var play = StagedMSSD.play("s", 1, length: 1, track: "t_a")
        play.append("ignored_extra", "fine")
        let broken = Document(StagedMSSD.play("s2", 1, length: 1, track: "t_a").fields.filter { $0.key != "date" })
        try StagedMSSD.stage(plays: [play, broken], tracks: [StagedMSSD.track("t_a", value: 1)], in: work)
        let run = try await StagedMSSD.derive(work)
        #expect(run.status == .dataError)
        #expect(run.summary.problem?.contains("plays.jsonl:2: play lacks field date") == true, "\(run.summary.problem ?? "")")
    }

    @Test func aRerunWritesTheSameBytes() async throws {
        let work = TemporaryDirectory()
        var plays: [Document] = []
        for id in StagedMSSD.sessions(in: "training", count: 4) + StagedMSSD.sessions(in: "test", count: 1) {
            plays += StagedMSSD.session(id, length: 3, track: id.hasSuffix("1") ? "t_a" : "t_b", skippedAt: [1])
        }
        try StagedMSSD.stage(plays: plays, tracks: [StagedMSSD.track("t_a", value: 0.25), StagedMSSD.track("t_b", value: 7.5)], in: work)
        let rows = work.url.appendingPathComponent("staging/skip_training.jsonl")
        let scaler = work.url.appendingPathComponent("staging/skip_scaler.json")
        #expect(try await StagedMSSD.derive(work).status == .ok)
        let first = (try Data(contentsOf: rows), try Data(contentsOf: scaler))
        #expect(try await StagedMSSD.derive(work).status == .ok)
        #expect(try Data(contentsOf: rows) == first.0 && (try Data(contentsOf: scaler)) == first.1)
    }

    @Test func aDryRunCountsAndWritesNothing() async throws {
        let work = TemporaryDirectory()
        let id = try #require(StagedMSSD.sessions(in: "training", count: 1).first)
        try StagedMSSD.stage(plays: [StagedMSSD.play(id, 1, length: 2, track: "t_a"), StagedMSSD.play(id, 2, length: 2, track: "t_gone")],
                             tracks: [StagedMSSD.track("t_a", value: 2), StagedMSSD.track("t_unplayed", value: 6)], in: work)
        let run = try await StagedMSSD.derive(work, dryRun: true)
        #expect(run.status == .ok)
        #expect(run.summary[count: "rows written"] == 1 && run.summary[count: "plays without track features"] == 1)
        #expect(run.rows.isEmpty && run.scaler == nil && run.quarantine == nil)
    }

    @Test func aTrackStagedTwiceStopsTheRun() async throws {
        let work = TemporaryDirectory()
        try StagedMSSD.stage(plays: [StagedMSSD.play("s", 1, length: 1, track: "t_a")],
                             tracks: [StagedMSSD.track("t_a", value: 2), StagedMSSD.track("t_b", value: 2), StagedMSSD.track("t_a", value: 3)],
                             in: work)
        let run = try await StagedMSSD.derive(work)
        #expect(run.status == .dataError)
        #expect(run.summary.problem?.contains("spotify_tracks.jsonl:3: track t_a is staged twice (first at line 1)") == true, "\(run.summary.problem ?? "")")
    }

    @Test func aWeightedAddEqualsRepeatedAdds() {
        var repeated = FeatureScaler.Accumulator(width: 2), weighted = FeatureScaler.Accumulator(width: 2)
        for (values, times) in [([1.0, -3.0], 3), ([4.5, 2.0], 1), ([-2.0, .nan], 5)] {
            for _ in 0..<times { repeated.add(values) }
            weighted.add(values, weight: times)
        }
        let a = repeated.scaler(.zscore), b = weighted.scaler(.zscore)
        #expect(a.fittedRows == b.fittedRows && a.fittedRows == 9)
        for index in 0..<2 {
            #expect(abs(a.offsets[index] - b.offsets[index]) < 1e-12 && abs(a.scales[index] - b.scales[index]) < 1e-12)
        }
    }
}

/// On a generated MSSD set, the rows equal Benchmarks/pandas_mssd.py's table (the reference
/// implementation): the same plays, split, label, session context and derived columns, and
/// scaled features within 1e-9 relative (Tests/python/compare_mssd_rows.py).
@Suite struct SkipTrainingRowsMatchPandasTests {
    @Test func rowsOfAGeneratedSetEqualPandas() async throws {
        let root = TestServer.packageRoot
        let python = root.appendingPathComponent(".venv-check/bin/python").path
        try #require(FileManager.default.isExecutableFile(atPath: python), "pandas is installed by Jobs/setup.sh into .venv-check")
        let work = TemporaryDirectory()
        let source = work.url.appendingPathComponent("mssd").path
        let pandasTable = work.url.appendingPathComponent("pandas.csv").path
        func runPython(_ arguments: [String]) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = arguments
            try process.run()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "\(arguments.first ?? "") failed (its stderr is above)")
        }
        // Two log files, lower-case booleans: the generator's other shapes.
        try runPython([root.appendingPathComponent("Benchmarks/generate_mssd.py").path, "--out", source,
                       "--sessions", "400", "--log-files", "2", "--booleans", "lower", "--seed", "24"])
        try runPython([root.appendingPathComponent("Tests/python/stage_mssd.py").path, source,
                       work.url.appendingPathComponent("staging/metadata").path])
        let run = try await StagedMSSD.derive(work)
        #expect(run.status == .ok, "\(run.summary.problem ?? "")")
        #expect(run.rows.count > 4000 && Set(run.rows.compactMap { $0["split"]?.stringValue }).count == 3)
        try runPython([root.appendingPathComponent("Benchmarks/pandas_mssd.py").path, source, "--out", pandasTable])
        try runPython([root.appendingPathComponent("Tests/python/compare_mssd_rows.py").path, pandasTable,
                       work.url.appendingPathComponent("staging/skip_training.jsonl").path])
    }
}
