#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Pipeline

/// The staged plays as the survey parsed them, session by session, in a compact binary form in an
/// anonymous temporary file (created with `mkstemp`, unlinked at once, so it never outlives the
/// process): the later passes read these back instead of parsing the JSON again. Memory stays
/// flat (one buffer); the file holds about a third of the staged bytes.
///
/// A session is its play count, then each play: its integers as 8 bytes each, then its strings
/// as a 4-byte length and the UTF-8 bytes.
final class PlaySpill {
    private let descriptor: Int32
    private let directory: String
    private var buffer: [UInt8] = []
    /// Reading: the next unread byte of `buffer`, and whether the file is exhausted.
    private var readPosition = 0
    private var endOfFile = false
    private var reading = false

    private static let bufferBytes = 1 << 20

    init(directory: URL) throws {
        var template = Array(directory.appendingPathComponent(".plays-spill.XXXXXX").path.utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { buffer -> Int32 in
            guard let base = buffer.baseAddress else { return -1 }
            return mkstemp(base)
        }
        guard descriptor >= 0 else {
            throw JobError(.unavailable, "mkstemp in \(directory.path): \(String(cString: strerror(errno)))")
        }
        let path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // Unlinked right away: the space is released when the descriptor closes, however we exit.
        if unlink(path) != 0 {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw JobError(.unavailable, "unlink \(path): \(reason)")
        }
        self.descriptor = descriptor
        self.directory = directory.path
        buffer.reserveCapacity(Self.bufferBytes)
    }

    deinit {
        close(descriptor)
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
        try buffer.withUnsafeBytes { bytes in
            guard var next = bytes.baseAddress else { return }
            var remaining = bytes.count
            while remaining > 0 {
                let written = write(descriptor, next, remaining)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw JobError(.unavailable, "write to the temporary file in \(directory): \(String(cString: strerror(errno)))")
                }
                next += written
                remaining -= written
            }
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
        guard lseek(descriptor, 0, SEEK_SET) == 0 else {
            throw JobError(.unavailable, "seek in the temporary file in \(directory): \(String(cString: strerror(errno)))")
        }
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
            throw JobError(.unavailable, "the temporary file in \(directory) ends inside a record")
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
            let got = buffer.withUnsafeMutableBytes { bytes -> Int in
                guard let base = bytes.baseAddress else { return 0 }
                return read(descriptor, base + start, chunk)
            }
            if got < 0 {
                buffer.removeSubrange(start...)
                if errno == EINTR { continue }
                throw JobError(.unavailable, "read from the temporary file in \(directory): \(String(cString: strerror(errno)))")
            }
            buffer.removeSubrange((start + got)...)
            if got == 0 { endOfFile = true }
        }
        return buffer.count >= count
    }
}
