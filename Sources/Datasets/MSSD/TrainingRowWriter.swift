import DocumentStore
import NormalizeStage
import Tabular

/// Writes skip-prediction training rows as staging lines, in the column order of
/// Schemas/mssd/skip_training_row.schema.json: the play's columns (strings, integers, a null) are
/// printed for each play with `JSONLineEncoder`'s string and integer printers, as it prints them
/// from BSON; the track's (mode, key, time_signature and the scaled numbers) depend on the track
/// alone, so each played track's are encoded once, up front (`BSONBuilder`), and appended to the
/// line of each of its plays.
struct TrainingRowWriter {
    private enum Keys {
        static let mode = BSONKey("mode"), key = BSONKey("key"), timeSignature = BSONKey("time_signature")
        static let scaled = SpotifyTrackTable.scaledNames.map(BSONKey.init)
    }

    private let builder: BSONBuilder
    private let output: AtomicFileWriter?
    private let scalerVersion: String
    private let releaseYears: [Int64]
    /// The track columns of each played track as JSON members (`"mode":"minor","key":6,…`), back to back.
    private var trackMembers: [UInt8] = []
    private var trackMemberRanges: [Range<Int>] = []
    /// Per track, how many of its scaled values are not finite (written as null).
    private var trackNonFinite: [Int] = []
    /// Lines not yet handed to the output.
    private var pending: [UInt8] = []
    private(set) var written = 0
    private(set) var writtenBySplit: [String: Int] = [:]
    private(set) var nonFinite = 0

    init(tracks: SpotifyTrackTable, playedTracks: [Bool], scaler: FeatureScaler, scalerVersion: String,
         output: AtomicFileWriter?) throws {
        builder = try BSONBuilder()
        self.output = output
        self.scalerVersion = scalerVersion
        releaseYears = tracks.releaseYears
        var line: [UInt8] = []
        for row in 0..<tracks.count {
            guard playedTracks[row] else {
                trackMemberRanges.append(0..<0)
                trackNonFinite.append(0)
                continue
            }
            builder.reset()
            try builder.append(Keys.mode, string: tracks.modes[row])
            try builder.append(Keys.key, int64: tracks.keys[row])
            try builder.append(Keys.timeSignature, int64: tracks.timeSignatures[row])
            var missing = 0
            for (key, value) in zip(Keys.scaled, scaler.apply(Array(tracks.numbers(of: row)), nonFinite: &missing)) {
                if let value { try builder.append(key, double: value) } else { try builder.appendNull(key) }
            }
            line.removeAll(keepingCapacity: true)
            try builder.appendJSONLine(to: &line)
            // `{…}` without its braces: members to follow a play's own.
            let start = trackMembers.count
            trackMembers += line[1 ..< line.count - 1]
            trackMemberRanges.append(start..<trackMembers.count)
            trackNonFinite.append(missing)
        }
    }

    /// `previousSkipped`: `is_skipped` of the play before it in its session, nil for the first.
    mutating func write(_ play: StagedPlay, track: Int, split: String, previousSkipped: Int?) throws {
        let day = play.date >= 0 ? play.date / 86_400_000 : (play.date + 1) / 86_400_000 - 1
        let dayOfWeek = Int64(((day + 3) % 7 + 7) % 7)  // 1970-01-01 was a Thursday; Monday = 0
        let year = CivilDate.from(daysSinceEpoch: day).year
        // The play's members printed directly, as `JSONLineEncoder` prints them from BSON.
        func member(_ prefix: StaticString, _ value: Int64) {
            appendBytes(prefix)
            JSONLineEncoder.appendInteger(value, to: &pending)
        }
        func member(_ prefix: StaticString, _ value: String) {
            appendBytes(prefix)
            JSONLineEncoder.appendString(value, to: &pending)
        }
        member(#"{"_id":"#, play.id)
        member(#","session_id":"#, play.sessionID)
        member(#","split":"#, split)
        member(#","is_skipped":"#, Int64(play.isSkipped))
        member(#","session_position":"#, Int64(play.position))
        member(#","session_length":"#, Int64(play.length))
        if let previousSkipped {
            member(#","previous_skipped":"#, Int64(previousSkipped))
        } else {
            appendBytes(#","previous_skipped":null"#)
        }
        member(#","context_switch":"#, Int64(play.contextSwitch))
        member(#","is_paused_before_play":"#, Int64(1 - play.noPauseBeforePlay))
        member(#","hist_user_behavior_n_seekfwd":"#, Int64(play.seeksForward))
        member(#","hist_user_behavior_n_seekback":"#, Int64(play.seeksBack))
        member(#","hist_user_behavior_is_shuffle":"#, play.shuffle ? 1 : 0)
        member(#","premium":"#, play.premium ? 1 : 0)
        member(#","hour_of_day":"#, Int64(play.hourOfDay))
        member(#","day_of_week":"#, dayOfWeek)
        member(#","track_age":"#, year - releaseYears[track])
        member(#","context_type":"#, play.contextType)
        member(#","hist_user_behavior_reason_start":"#, play.reasonStart)
        member(#","hist_user_behavior_reason_end":"#, play.reasonEnd)
        member(#","scaler_version":"#, scalerVersion)
        pending.append(UInt8(ascii: ","))
        pending += trackMembers[trackMemberRanges[track]]
        pending += [UInt8(ascii: "}"), UInt8(ascii: "\n")]
        written += 1
        writtenBySplit[split, default: 0] += 1
        nonFinite += trackNonFinite[track]
        if pending.count >= 1 << 16 { try flush() }
    }

    private mutating func appendBytes(_ text: StaticString) {
        pending.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    private mutating func flush() throws {
        try output?.write(pending)
        pending.removeAll(keepingCapacity: true)
    }

    mutating func commit() throws {
        try flush()
        try output?.commit()
    }
}
