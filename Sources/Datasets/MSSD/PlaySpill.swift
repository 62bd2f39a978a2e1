import Foundation
import Pipeline
import Tabular

/// The staged plays as the survey parsed them, session by session, in a compact binary form in an
/// `AnonymousSpillFile` (unlinked at once, so it never outlives the process): the later passes
/// read these back instead of parsing the JSON again. Memory stays flat (one buffer); the file
/// holds about a third of the staged bytes.
///
/// A session is its play count, then each play: its integers as 8 bytes each, then its strings
/// as a 4-byte length and the UTF-8 bytes.
final class PlaySpill {
    private let file: AnonymousSpillFile
    private var buffer: [UInt8] = []
    /// Reading: the next unread byte of `buffer`, and whether the file is exhausted.
    private var readPosition = 0
    private var endOfFile = false
    private var reading = false

    private static let bufferBytes = 1 << 20

    init(directory: URL) throws {
        do throws(SpillFileError) {
            file = try AnonymousSpillFile(directory: directory.path, prefix: ".plays-spill.")
        } catch {
            throw JobError(.unavailable, error.description)
        }
        buffer.reserveCapacity(Self.bufferBytes)
    }

    // MARK: Writing

    func append(session: [StagedPlay]) throws {
        precondition(!reading, "append after rewind")
        appendInteger(session.count)
        for play in session {
            appendInteger(play.position)
            appendInteger(play.length)
            appendInteger(play.contextSwitch)
            appendInteger(play.noPauseBeforePlay)
            appendInteger(play.seeksForward)
            appendInteger(play.seeksBack)
            appendInteger(play.hourOfDay)
            appendInteger(Int(play.date))
            appendInteger(play.line)
            appendInteger((play.notSkipped ? 1 : 0) | (play.shuffle ? 2 : 0) | (play.premium ? 4 : 0))
            appendString(play.id)
            appendString(play.sessionID)
            appendString(play.trackID)
            appendString(play.contextType)
            appendString(play.reasonStart)
            appendString(play.reasonEnd)
            appendString(play.fileName)
        }
        if buffer.count >= Self.bufferBytes { try flush() }
    }

    private func appendInteger(_ value: Int) {
        withUnsafeBytes(of: Int64(value).littleEndian) { buffer.append(contentsOf: $0) }
    }

    private func appendString(_ value: String) {
        var value = value
        value.withUTF8 { bytes in
            withUnsafeBytes(of: UInt32(bytes.count).littleEndian) { buffer.append(contentsOf: $0) }
            buffer.append(contentsOf: bytes)
        }
    }

    private func flush() throws {
        do throws(SpillFileError) {
            try file.append(buffer)
        } catch {
            throw JobError(.unavailable, error.description)
        }
        buffer.removeAll(keepingCapacity: true)
    }

    // MARK: Reading

    /// Ends the writing (the first call) and starts reading from the first session.
    func rewind() throws {
        if !reading {
            try flush()
            reading = true
        }
        file.rewind()
        buffer.removeAll(keepingCapacity: true)
        readPosition = 0
        endOfFile = false
    }

    /// Replaces `session` with the next session's plays as appended; false at the end.
    func nextSession(into session: inout [StagedPlay]) throws -> Bool {
        precondition(reading, "nextSession before rewind")
        session.removeAll(keepingCapacity: true)
        guard try available(8) else { return false }
        let count = readInteger()
        for _ in 0..<count {
            var play = StagedPlay()
            try need(80)
            play.position = readInteger()
            play.length = readInteger()
            play.contextSwitch = readInteger()
            play.noPauseBeforePlay = readInteger()
            play.seeksForward = readInteger()
            play.seeksBack = readInteger()
            play.hourOfDay = readInteger()
            play.date = Int64(readInteger())
            play.line = readInteger()
            let flags = readInteger()
            play.notSkipped = flags & 1 != 0
            play.shuffle = flags & 2 != 0
            play.premium = flags & 4 != 0
            play.id = try readString()
            play.sessionID = try readString()
            play.trackID = try readString()
            play.contextType = try readString()
            play.reasonStart = try readString()
            play.reasonEnd = try readString()
            play.fileName = try readString()
            session.append(play)
        }
        return true
    }

    private func readInteger() -> Int {
        let value = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: readPosition, as: Int64.self) }
        readPosition += 8
        return Int(Int64(littleEndian: value))
    }

    private func readString() throws -> String {
        try need(4)
        let length = buffer.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: readPosition, as: UInt32.self))) }
        readPosition += 4
        try need(length)
        let value = buffer.withUnsafeBufferPointer {
            String(decoding: UnsafeBufferPointer(rebasing: $0[readPosition ..< readPosition + length]), as: UTF8.self)
        }
        readPosition += length
        return value
    }

    private func need(_ count: Int) throws {
        guard try available(count) else {
            throw JobError(.unavailable, "\(file.path) (the plays' unlinked temporary file) ends inside a record")
        }
    }

    /// Whether `count` unread bytes are in the buffer, reading more from the file if needed;
    /// false when the file ends first.
    private func available(_ count: Int) throws -> Bool {
        if buffer.count - readPosition >= count { return true }
        buffer.removeSubrange(0 ..< readPosition)
        readPosition = 0
        while buffer.count < count, !endOfFile {
            let start = buffer.count
            let chunk = max(Self.bufferBytes, count - start)
            buffer += repeatElement(0, count: chunk)
            let got: Int
            do {
                got = try buffer.withUnsafeMutableBytes { try file.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[start...])) }
            } catch let error as SpillFileError {
                throw JobError(.unavailable, error.description)
            }
            buffer.removeSubrange((start + got)...)
            if got < chunk { endOfFile = true }
        }
        return buffer.count >= count
    }
}
