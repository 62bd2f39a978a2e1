import Foundation
import Pipeline
import Tabular

/// The duplicate check of composed ids (`x-compose`: MSSD's `<session_id>:<session_position>`),
/// in memory that does not grow with the rows. An id is a group (every part but the last: the
/// session) and a member (the last part: the position). The input keeps the order MSSD's log
/// files have: in each file the rows of one group are consecutive and the groups ascend (by
/// bytes), and a group is in one file only. So the check holds only the current group's members
/// (a session's few dozen positions); each group's key and first line go to a spill file, one
/// ascending run per file, and `groupInTwoFiles()` merges the runs (memory: one small buffer per
/// file) to find a group that is in two files.
///
/// Locations are file indexes (in reading order) and physical lines; the caller names the files.
final class GroupedIDCheck {
    struct Location: Equatable {
        var file: Int
        var line: Int
    }

    enum Admission: Equatable {
        /// The id's first sight.
        case first
        /// The member was seen before in this group, at `line` of the same file.
        case duplicate(firstLine: Int)
        /// The group is not above the one before it in this file (which starts at `line`): the
        /// file is not grouped in ascending order, and a group seen before may come back unnoticed.
        case outOfOrder(group: String, previousGroup: String, line: Int)
    }

    /// A group whose rows are in two files: its first line in each.
    struct Conflict: Equatable {
        var group: String
        var first: Location
        var again: Location
    }

    let separator: String
    private var file = 0
    private var group: String?
    private var groupLine = 0
    /// The current group's members and their lines.
    private var members: [String: Int] = [:]
    private let runs: GroupRuns

    /// The entries the check holds in memory: the current group's members.
    var retainedMembers: Int { members.count }

    /// `spillDirectory` holds the groups' runs (an unlinked file, gone when the check is).
    init(separator: String, spillDirectory: String) throws {
        self.separator = separator
        runs = try Self.spilling(in: spillDirectory) { try GroupRuns(directory: spillDirectory) }
    }

    /// The runs' file failing (a full disk, a read-only staging directory) fails the extract (exit
    /// 1, as any full disk does), saying what the file was for: its own name is gone (it is unlinked).
    private static func spilling<T>(in directory: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as JobError {
            throw error
        } catch {
            throw JobError(.failure, "the duplicate check's list of sessions (a temporary file in \(directory)): \(error)")
        }
    }

    /// Rows of the next input file follow.
    func startNextFile() throws {
        try Self.spilling(in: runs.directory) { try runs.endRun() }
        file += 1
        group = nil
        members.removeAll(keepingCapacity: true)
    }

    func admit(_ id: String, line: Int) throws -> Admission {
        let split = id.range(of: separator, options: .backwards)
        let groupKey = split.map { id[..<$0.lowerBound] } ?? ""
        let member = split.map { String(id[$0.upperBound...]) } ?? id
        if group.map({ !$0.utf8.elementsEqual(groupKey.utf8) }) ?? true {
            if let group, !group.utf8.lexicographicallyPrecedes(groupKey.utf8) {
                return .outOfOrder(group: String(groupKey), previousGroup: group, line: groupLine)
            }
            group = String(groupKey)
            groupLine = line
            members.removeAll(keepingCapacity: true)
            try Self.spilling(in: runs.directory) { try runs.append(group: groupKey, line: line) }
        }
        if let firstLine = members[member] { return .duplicate(firstLine: firstLine) }
        members[member] = line
        return .first
    }

    /// After the last file: the first group (in key order) whose rows are in two files, or nil.
    func groupInTwoFiles() throws -> Conflict? {
        try Self.spilling(in: runs.directory) {
            try runs.endRun()
            return try runs.firstKeyInTwoRuns()
        }
    }
}

/// Ascending runs of (group key, line) records in one anonymous spill file, one run per input
/// file, and their merge. A record is the key's byte count (4 bytes), the line (8 bytes) and the key.
private final class GroupRuns {
    let directory: String
    private let file: AnonymousSpillFile
    private var pending: [UInt8] = []
    /// Where each finished run ends; the current run starts at the last end (or 0).
    private var runEnds: [Int] = []
    private static let flushBytes = 1 << 16
    private static let readBytes = 1 << 14

    init(directory: String) throws {
        self.directory = directory
        // The staging directory of a first run is made by its first file; this may come before.
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        file = try AnonymousSpillFile(directory: directory, prefix: ".group-runs.")
    }

    func append(group: Substring, line: Int) throws {
        withUnsafeBytes(of: UInt32(group.utf8.count).littleEndian) { pending.append(contentsOf: $0) }
        withUnsafeBytes(of: Int64(line).littleEndian) { pending.append(contentsOf: $0) }
        pending.append(contentsOf: group.utf8)
        if pending.count >= Self.flushBytes { try flush() }
    }

    private func flush() throws {
        try file.append(pending)
        pending.removeAll(keepingCapacity: true)
    }

    func endRun() throws {
        try flush()
        runEnds.append(file.size)
    }

    /// Merges the runs, smallest key first (ties: the earlier run first), and stops at the first
    /// key that two runs hold.
    func firstKeyInTwoRuns() throws -> GroupedIDCheck.Conflict? {
        var cursors: [RunCursor] = []
        var start = 0
        for (run, end) in runEnds.enumerated() {
            let cursor = RunCursor(file: file, run: run, start: start, end: end, bufferBytes: Self.readBytes)
            if try cursor.advance() { cursors.append(cursor) }
            start = end
        }
        guard cursors.count > 1 else { return nil }
        var heap = CursorHeap(cursors)
        var previous: (key: [UInt8], location: GroupedIDCheck.Location)?
        while let smallest = heap.top {
            let location = GroupedIDCheck.Location(file: smallest.run, line: smallest.line)
            if let previous, previous.key == smallest.key {
                return GroupedIDCheck.Conflict(group: String(decoding: smallest.key, as: UTF8.self),
                                               first: previous.location, again: location)
            }
            previous = (smallest.key, location)
            if try smallest.advance() { heap.topChanged() } else { heap.removeTop() }
        }
        return nil
    }
}

/// Reads one run of `GroupRuns` record by record through a small buffer.
private final class RunCursor {
    let run: Int
    private(set) var key: [UInt8] = []
    private(set) var line = 0
    private let file: AnonymousSpillFile
    private var offset: Int
    private let end: Int
    private var buffer: [UInt8]
    private var bufferStart = 0
    private var bufferCount = 0

    init(file: AnonymousSpillFile, run: Int, start: Int, end: Int, bufferBytes: Int) {
        self.file = file
        self.run = run
        offset = start
        self.end = end
        buffer = [UInt8](repeating: 0, count: bufferBytes)
    }

    /// Reads the next record into `key` and `line`; false at the end of the run.
    func advance() throws -> Bool {
        guard offset < end else { return false }
        let header = try bytes(12)
        let count = header[0..<4].reversed().reduce(0) { $0 << 8 | Int($1) }
        line = header[4..<12].reversed().reduce(0) { $0 << 8 | Int($1) }
        key = try bytes(count)
        return true
    }

    /// The next `count` bytes of the run (a record may straddle the buffer's end).
    private func bytes(_ count: Int) throws -> [UInt8] {
        guard offset + count <= end else {
            throw JobError(.failure, "\(file.path): a record runs past its run's end at byte \(end)")
        }
        var result: [UInt8] = []
        result.reserveCapacity(count)
        while result.count < count {
            if offset >= bufferStart + bufferCount {
                bufferStart = offset
                bufferCount = try buffer.withUnsafeMutableBytes { buffer in
                    try file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<min(buffer.count, end - offset)]),
                                  at: offset)
                }
                guard bufferCount > 0 else {
                    throw JobError(.failure, "\(file.path): read at byte \(offset): unexpected end of file")
                }
            }
            let available = min(count - result.count, bufferStart + bufferCount - offset)
            result.append(contentsOf: buffer[(offset - bufferStart)..<(offset - bufferStart + available)])
            offset += available
        }
        return result
    }
}

/// A binary min-heap of cursors by (key, run).
private struct CursorHeap {
    private var items: [RunCursor]

    init(_ cursors: [RunCursor]) {
        items = cursors
        for index in stride(from: items.count / 2 - 1, through: 0, by: -1) { siftDown(index) }
    }

    var top: RunCursor? { items.first }

    /// The top cursor advanced: restores the order.
    mutating func topChanged() { siftDown(0) }

    mutating func removeTop() {
        items.swapAt(0, items.count - 1)
        items.removeLast()
        if !items.isEmpty { siftDown(0) }
    }

    private static func precedes(_ a: RunCursor, _ b: RunCursor) -> Bool {
        a.key == b.key ? a.run < b.run : a.key.lexicographicallyPrecedes(b.key)
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            var smallest = parent
            let left = 2 * parent + 1, right = left + 1
            if left < items.count && Self.precedes(items[left], items[smallest]) { smallest = left }
            if right < items.count && Self.precedes(items[right], items[smallest]) { smallest = right }
            guard smallest != parent else { return }
            items.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
