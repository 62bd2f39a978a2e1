import Foundation
import Testing
import Pipeline
import TestSupport
@testable import ExtractStage

/// `GroupedIDCheck`, the duplicate check of composed ids (`<session>:<position>`): what it holds,
/// what it finds in a file, and the merge that finds a group in two files.
@Suite struct GroupedIDCheckTests {
    static func check() throws -> GroupedIDCheck {
        try GroupedIDCheck(separator: ":", spillDirectory: FileManager.default.temporaryDirectory.path)
    }

    /// A spill directory that cannot be made (under a regular file): a failure (exit 1, like a full
    /// disk) saying what the file is for, not a bare file-system error.
    @Test func aSpillDirectoryThatCannotBeMadeFailsSayingWhatFor() throws {
        do {
            _ = try GroupedIDCheck(separator: ":", spillDirectory: "/dev/null/runs")
            Issue.record("the check was made under /dev/null")
        } catch let error as JobError {
            #expect(error.status == .failure)
            #expect(error.message.contains("the duplicate check's list of sessions"))
            #expect(error.message.contains("/dev/null/runs"))
        }
    }

    @Test func holdsOnlyTheCurrentGroupWhateverTheRows() throws {
        let check = try Self.check()
        var line = 1
        var mostRetained = 0
        for session in 0..<20_000 {
            for position in 1...(10 + session % 11) {
                line += 1
                #expect(try check.admit("0_\(100_000_000 + session):\(position)", line: line) == .first)
                mostRetained = max(mostRetained, check.retainedMembers)
            }
        }
        // 20,000 sessions, about 300,000 plays: the check holds one session's positions.
        #expect(mostRetained == 20)
        #expect(try check.groupInTwoFiles() == nil)
    }

    @Test func aPositionAgainInItsSessionIsADuplicateOfItsFirstLine() throws {
        let check = try Self.check()
        #expect(try check.admit("a:1", line: 2) == .first)
        #expect(try check.admit("a:2", line: 3) == .first)
        #expect(try check.admit("a:1", line: 4) == .duplicate(firstLine: 2))
        // A group may hold the separator: the member is the last part.
        #expect(try check.admit("b:x:1", line: 5) == .first)
        #expect(try check.admit("b:x:1", line: 6) == .duplicate(firstLine: 5))
        #expect(try check.admit("b:x:2", line: 7) == .first)
    }

    @Test func aSessionThatComesBackOrDescendsIsOutOfOrder() throws {
        let check = try Self.check()
        #expect(try check.admit("a:1", line: 2) == .first)
        #expect(try check.admit("b:1", line: 3) == .first)
        // a again after b: the file is not grouped by session; the check names the session before it.
        #expect(try check.admit("a:2", line: 4) == .outOfOrder(group: "a", previousGroup: "b", line: 3))
        // Below the one before it, by bytes ("B" < "a"), though never seen: not in ascending order.
        #expect(try check.admit("B:1", line: 5) == .outOfOrder(group: "B", previousGroup: "b", line: 3))
        // Each file starts afresh.
        try check.startNextFile()
        #expect(try check.admit("B:1", line: 2) == .first)
    }

    @Test func aSessionInTwoFilesIsFoundNamingBoth() throws {
        let check = try Self.check()
        for (line, id) in ["a:1", "c:1", "e:1"].enumerated() { #expect(try check.admit(id, line: line + 2) == .first) }
        try check.startNextFile()
        for (line, id) in ["b:1", "d:1"].enumerated() { #expect(try check.admit(id, line: line + 2) == .first) }
        try check.startNextFile()
        // A session split across files (other positions) is in two files too.
        for (line, id) in ["b:7", "c:2", "f:1"].enumerated() { #expect(try check.admit(id, line: line + 2) == .first) }
        #expect(try check.groupInTwoFiles() == GroupedIDCheck.Conflict(group: "b", first: .init(file: 1, line: 2), again: .init(file: 2, line: 2)))
    }

    /// Many files of random sorted sessions (long keys, so records straddle the merge's read
    /// buffers), with or without one session planted in two of them, against the sets themselves.
    @Test func theMergeAgreesWithTheSets() throws {
        var random = SplitMix64(seed: 12_08)
        for round in 0..<6 {
            let check = try Self.check()
            let files = 2 + Int(random.next() % 30)
            var sessions: [[String]] = (0..<files).map { file in
                (0..<Int(random.next() % 400)).map { _ in "\(file)_" + String(repeating: "x", count: Int(random.next() % 300)) + String(random.next()) }
            }
            var planted = false
            if round % 2 == 1 {
                // Two distinct files, the first one with a session to plant.
                let from = Int(random.next() % UInt64(files)), to = (from + 1 + Int(random.next() % UInt64(files - 1))) % files
                if sessions[from].isEmpty { sessions[from].append("\(from)_planted") }
                sessions[to].append(sessions[from][Int(random.next() % UInt64(sessions[from].count))])
                planted = true
            }
            var firstLines: [String: [GroupedIDCheck.Location]] = [:]
            for (file, ids) in sessions.enumerated() {
                if file > 0 { try check.startNextFile() }
                for (index, session) in Set(ids).sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
                    #expect(try check.admit(session + ":1", line: index + 2) == .first)
                    firstLines[session, default: []].append(.init(file: file, line: index + 2))
                }
            }
            let expected = firstLines.filter { $0.value.count > 1 }
                .min { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
                .map { GroupedIDCheck.Conflict(group: $0.key, first: $0.value[0], again: $0.value[1]) }
            #expect((expected != nil) == planted, "round \(round)")
            #expect(try check.groupInTwoFiles() == expected, "round \(round)")
        }
    }
}
