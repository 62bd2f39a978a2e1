#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A spill file failed: `path` is the file (or, when it could not be made, its directory),
/// `message` the operation and the system's reason.
public struct SpillFileError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }
}

/// Bytes set aside for a later pass, in an anonymous temporary file: created with `mkstemp` in
/// a chosen directory and unlinked at once, so it never outlives the process (not after a crash
/// or Ctrl-C either) and no other process can open it. Bytes are appended, then read back in
/// order from the start (`rewind`, as often as needed; appending may go on in between).
/// Owns the descriptor; `deinit` closes it, which frees the space.
public final class AnonymousSpillFile {
    /// The name the file was created under, for messages (it is unlinked at once).
    public let path: String
    /// Bytes appended so far.
    public private(set) var size = 0
    private let descriptor: Int32
    private let io: SpillFileIO
    /// Where the next `read` starts.
    private var readOffset = 0

    /// A file `<directory>/<prefix>XXXXXX`, unlinked before this returns.
    public convenience init(directory: String, prefix: String) throws(SpillFileError) {
        try self.init(directory: directory, prefix: prefix, io: .system)
    }

    init(directory: String, prefix: String, io: SpillFileIO) throws(SpillFileError) {
        var template = Array("\(directory)/\(prefix)XXXXXX".utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { buffer -> Int32 in
            guard let base = buffer.baseAddress else { return -1 }
            let descriptor = mkstemp(base)
            // Close-on-exec: a child process (a tool a job starts) must not hold the space.
            if descriptor >= 0 { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
            return descriptor
        }
        guard descriptor >= 0 else {
            throw SpillFileError(path: directory, message: "cannot create a temporary file: \(Self.systemError())")
        }
        let path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // Unlinked right away: the space is released when the descriptor closes, however we exit.
        if unlink(path) != 0 {
            let reason = Self.systemError()
            close(descriptor)
            throw SpillFileError(path: path, message: "unlink: \(reason)")
        }
        self.path = path
        self.descriptor = descriptor
        self.io = io
    }

    deinit {
        close(descriptor)
    }

    /// Appends every byte of `bytes` (a write the system splits or a signal interrupts is resumed).
    public func append(_ bytes: UnsafeRawBufferPointer) throws(SpillFileError) {
        guard var next = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let written = io.write(descriptor, next, remaining, size)
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else {
                throw SpillFileError(path: path, message: "write at byte \(size): \(written == 0 ? "nothing written" : Self.systemError())")
            }
            next += written
            remaining -= written
            size += written
        }
    }

    public func append(_ bytes: [UInt8]) throws(SpillFileError) {
        try bytes.withUnsafeBytes { buffer in Result { () throws(SpillFileError) in try append(buffer) } }.get()
    }

    /// The next `read` starts at the first byte.
    public func rewind() {
        readOffset = 0
    }

    /// Fills `buffer` with the next bytes in order; the count read, short of `buffer.count` only
    /// at the end of the file (0: every byte was read).
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SpillFileError) -> Int {
        let done = try read(into: buffer, at: readOffset)
        readOffset += done
        return done
    }

    /// Fills `buffer` with the bytes from `offset` on, leaving the next `read`'s place alone (for
    /// several readers of one file); the count read, short of `buffer.count` only at the end of the file.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(SpillFileError) -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var done = 0
        while done < buffer.count && offset + done < size {
            let got = io.read(descriptor, base + done, min(buffer.count - done, size - offset - done), offset + done)
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else {
                throw SpillFileError(path: path, message: "read at byte \(offset + done) of \(size): \(got == 0 ? "unexpected end of file" : Self.systemError())")
            }
            done += got
        }
        return done
    }

    private static func systemError() -> String {
        String(cString: strerror(errno))
    }
}

/// The two system calls a spill file makes, positional (descriptor, memory, count, file offset),
/// so that a test can interrupt or split them as a signal or the kernel may.
struct SpillFileIO {
    var write: (Int32, UnsafeRawPointer, Int, Int) -> Int
    var read: (Int32, UnsafeMutableRawPointer, Int, Int) -> Int

    static var system: SpillFileIO {
        SpillFileIO(write: { pwrite($0, $1, $2, off_t($3)) }, read: { pread($0, $1, $2, off_t($3)) })
    }
}
