import DocumentStore
import NormalizeStage
import Tabular

/// Writes skip-prediction training rows as staging lines (`JSONLineEncoder`, through
/// `BSONBuilder`), in the column order of Schemas/mssd/skip_training_row.schema.json: the play's
/// columns are built for each play; the track's (mode, key, time_signature and the scaled
/// numbers) depend on the track alone, so each played track's are encoded once, up front, and
/// appended to the line of each of its plays.
struct TrainingRowWriter {
    private enum Keys {
        static let id = BSONKey("_id"), sessionID = BSONKey("session_id"), split = BSONKey("split")
        static let isSkipped = BSONKey("is_skipped"), position = BSONKey("session_position")
        static let length = BSONKey("session_length"), previousSkipped = BSONKey("previous_skipped")
        static let contextSwitch = BSONKey("context_switch"), paused = BSONKey("is_paused_before_play")
        static let seeksForward = BSONKey("hist_user_behavior_n_seekfwd")
        static let seeksBack = BSONKey("hist_user_behavior_n_seekback")
        static let shuffle = BSONKey("hist_user_behavior_is_shuffle"), premium = BSONKey("premium")
        static let hourOfDay = BSONKey("hour_of_day"), dayOfWeek = BSONKey("day_of_week")
        static let trackAge = BSONKey("track_age"), contextType = BSONKey("context_type")
        static let reasonStart = BSONKey("hist_user_behavior_reason_start")
        static let reasonEnd = BSONKey("hist_user_behavior_reason_end")
        static let scalerVersion = BSONKey("scaler_version")
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
        builder.reset()
        try builder.append(Keys.id, string: play.id)
        try builder.append(Keys.sessionID, string: play.sessionID)
        try builder.append(Keys.split, string: split)
        try builder.append(Keys.isSkipped, int64: Int64(play.isSkipped))
        try builder.append(Keys.position, int64: Int64(play.position))
        try builder.append(Keys.length, int64: Int64(play.length))
        if let previousSkipped {
            try builder.append(Keys.previousSkipped, int64: Int64(previousSkipped))
        } else {
            try builder.appendNull(Keys.previousSkipped)
        }
        try builder.append(Keys.contextSwitch, int64: Int64(play.contextSwitch))
        try builder.append(Keys.paused, int64: Int64(1 - play.noPauseBeforePlay))
        try builder.append(Keys.seeksForward, int64: Int64(play.seeksForward))
        try builder.append(Keys.seeksBack, int64: Int64(play.seeksBack))
        try builder.append(Keys.shuffle, int64: play.shuffle ? 1 : 0)
        try builder.append(Keys.premium, int64: play.premium ? 1 : 0)
        try builder.append(Keys.hourOfDay, int64: Int64(play.hourOfDay))
        try builder.append(Keys.dayOfWeek, int64: dayOfWeek)
        try builder.append(Keys.trackAge, int64: year - releaseYears[track])
        try builder.append(Keys.contextType, string: play.contextType)
        try builder.append(Keys.reasonStart, string: play.reasonStart)
        try builder.append(Keys.reasonEnd, string: play.reasonEnd)
        try builder.append(Keys.scalerVersion, string: scalerVersion)
        try builder.appendJSONLine(to: &pending)
        pending[pending.count - 1] = UInt8(ascii: ",")  // the play's closing brace
        pending += trackMembers[trackMemberRanges[track]]
        pending += [UInt8(ascii: "}"), UInt8(ascii: "\n")]
        written += 1
        writtenBySplit[split, default: 0] += 1
        nonFinite += trackNonFinite[track]
        if pending.count >= 1 << 16 { try flush() }
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
