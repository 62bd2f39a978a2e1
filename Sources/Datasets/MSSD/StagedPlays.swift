import DocumentStore
import Foundation
import Pipeline

/// One staged play (Schemas/mssd/play.schema.json): the fields a training row takes, and where it
/// is staged.
struct StagedPlay {
    var id = ""
    var sessionID = ""
    var position = 0
    var length = 0
    var trackID = ""
    var notSkipped = false
    var contextSwitch = 0
    var noPauseBeforePlay = 0
    var seeksForward = 0
    var seeksBack = 0
    var shuffle = false
    var hourOfDay = 0
    /// Midnight UTC of the play's day, in milliseconds since the Unix epoch.
    var date: Int64 = 0
    var premium = false
    var contextType = ""
    var reasonStart = ""
    var reasonEnd = ""
    /// The staged file's name and the play's line in it.
    var fileName = ""
    var line = 0

    /// `plays.jsonl:12`.
    var location: String { "\(fileName):\(line)" }

    var isSkipped: Int { notSkipped ? 0 : 1 }
}

/// The staged plays, one session at a time: the files in order (`plays.jsonl` or its shards in
/// shard order), a session being the consecutive plays of one `session_id`. Holds one session.
final class StagedPlayReader {
    private let paths: [String]
    private var fileIndex = 0
    private var reader: JSONLinesReader?
    private var fileName = ""
    /// The first play of the next session, read while finding the end of the current one.
    private var pending: StagedPlay?
    private let matcher = StagedFieldMatcher(Field.allCases.map(\.name))

    /// Every field of a staged play (all are required), in staged (schema) order.
    private enum Field: Int, CaseIterable {
        case id, sessionID, position, length, trackID, skip1, skip2, skip3, notSkipped, contextSwitch,
             noPauseBeforePlay, shortPauseBeforePlay, longPauseBeforePlay, seeksForward, seeksBack, shuffle,
             hourOfDay, date, premium, contextType, reasonStart, reasonEnd

        var name: StaticString {
            switch self {
            case .id: "_id"
            case .sessionID: "session_id"
            case .position: "session_position"
            case .length: "session_length"
            case .trackID: "track_id_clean"
            case .skip1: "skip_1"
            case .skip2: "skip_2"
            case .skip3: "skip_3"
            case .notSkipped: "not_skipped"
            case .contextSwitch: "context_switch"
            case .noPauseBeforePlay: "no_pause_before_play"
            case .shortPauseBeforePlay: "short_pause_before_play"
            case .longPauseBeforePlay: "long_pause_before_play"
            case .seeksForward: "hist_user_behavior_n_seekfwd"
            case .seeksBack: "hist_user_behavior_n_seekback"
            case .shuffle: "hist_user_behavior_is_shuffle"
            case .hourOfDay: "hour_of_day"
            case .date: "date"
            case .premium: "premium"
            case .contextType: "context_type"
            case .reasonStart: "hist_user_behavior_reason_start"
            case .reasonEnd: "hist_user_behavior_reason_end"
            }
        }
    }

    init(paths: [String]) {
        self.paths = paths
    }

    /// Replaces `session` with the next session's plays in staged order; false at the end.
    func nextSession(into session: inout [StagedPlay]) throws -> Bool {
        session.removeAll(keepingCapacity: true)
        guard let first = try pending ?? nextPlay() else { return false }
        pending = nil
        session.append(first)
        while let play = try nextPlay() {
            guard play.sessionID == first.sessionID else {
                pending = play
                break
            }
            session.append(play)
        }
        return true
    }

    private func nextPlay() throws -> StagedPlay? {
        while true {
            if reader == nil {
                guard fileIndex < paths.count else { return nil }
                reader = try JSONLinesReader(path: paths[fileIndex])
                fileName = (paths[fileIndex] as NSString).lastPathComponent
                fileIndex += 1
            }
            guard let reader else { return nil }
            if let document = try reader.next() {
                return try play(document, path: reader.path, line: reader.lineNumber)
            }
            self.reader = nil
        }
    }

    private func play(_ document: BSONDocument, path: String, line: Int) throws -> StagedPlay {
        var play = StagedPlay()
        play.fileName = fileName
        play.line = line
        var seen = FieldSet()
        let matcher = matcher
        try document.withBorrowed { borrowed in
            guard matcher.start(borrowed) else { throw stagedShapeError(path, line: line, "corrupt document") }
            while matcher.reader.next() {
                guard let index = matcher.currentIndex(), let field = Field(rawValue: index) else { continue }
                seen.insert(index)
                func bad(_ type: String) -> JobError {
                    stagedShapeError(path, line: line, "field \(matcher.name(index)) is not \(type)")
                }
                func string() throws -> String {
                    guard let value = matcher.string else { throw bad("a string") }
                    return value
                }
                func integer() throws -> Int {
                    guard let value = matcher.integer else { throw bad("an integer") }
                    return Int(value)
                }
                func bool() throws -> Bool {
                    guard let value = matcher.bool else { throw bad("a boolean") }
                    return value
                }
                switch field {
                case .id: play.id = try string()
                case .sessionID: play.sessionID = try string()
                case .position: play.position = try integer()
                case .length: play.length = try integer()
                case .trackID: play.trackID = try string()
                case .skip1, .skip2, .skip3: _ = try bool()  // the label's detail: not in a training row
                case .notSkipped: play.notSkipped = try bool()
                case .contextSwitch: play.contextSwitch = try integer()
                case .noPauseBeforePlay: play.noPauseBeforePlay = try integer()
                case .shortPauseBeforePlay, .longPauseBeforePlay: _ = try integer()  // is_paused_before_play is 1 − no_pause
                case .seeksForward: play.seeksForward = try integer()
                case .seeksBack: play.seeksBack = try integer()
                case .shuffle: play.shuffle = try bool()
                case .hourOfDay: play.hourOfDay = try integer()
                case .date:
                    guard let date = matcher.dateTime else { throw bad("a date") }
                    play.date = date
                case .premium: play.premium = try bool()
                case .contextType: play.contextType = try string()
                case .reasonStart: play.reasonStart = try string()
                case .reasonEnd: play.reasonEnd = try string()
                }
            }
        }
        if let missing = seen.firstMissing(of: Field.allCases.count) {
            throw stagedShapeError(path, line: line, "play lacks field \(matcher.name(missing))")
        }
        return play
    }
}

/// Why a session's plays cannot be training rows as staged, or nil: its positions must be
/// 1…n, each once, where n is its number of staged plays and every play's `session_length`.
/// (A session staged in two runs of rows is found by the caller, which sees them all.)
func sessionShapeProblem(_ session: [StagedPlay]) -> String? {
    let count = session.count
    if let play = session.first(where: { $0.length != count }) {
        return "session_length \(play.length) (at \(play.location)) differs from the session's \(count) staged plays"
    }
    var seen = [Bool](repeating: false, count: count + 1)
    for play in session {
        guard play.position >= 1, play.position <= count else {
            return "session_position \(play.position) (at \(play.location)) is outside 1…\(count)"
        }
        if seen[play.position] {
            return "session_position \(play.position) is staged twice (again at \(play.location))"
        }
        seen[play.position] = true
    }
    return nil
}
