import CSndFile
import Foundation

/// Serialises `sf_open` (see `AudioFileReader.init`).
private let soundFileOpenLock = NSLock()

/// What the decoder found in a file, reported next to the features.
public struct AudioSourceInfo: Sendable, Hashable {
    /// "MP3", "FLAC", "OGG/VORBIS", "OGG/OPUS", "WAV", … (see `AudioFileReader.formatName`).
    public var format: String
    /// Native sample rate of the file (before resampling).
    public var sampleRate: Int
    public var channels: Int
    /// Sample frames actually decoded (read until `sf_readf_float` returned 0).
    public var decodedFrames: Int
    /// What the header announced (`SF_INFO.frames`); MP3s without gapless info over-report.
    public var announcedFrames: Int
    /// `decodedFrames / sampleRate`.
    public var durationSeconds: Double

    public init(format: String, sampleRate: Int, channels: Int, decodedFrames: Int, announcedFrames: Int) {
        self.format = format
        self.sampleRate = sampleRate
        self.channels = channels
        self.decodedFrames = decodedFrames
        self.announcedFrames = announcedFrames
        self.durationSeconds = sampleRate > 0 ? Double(decodedFrames) / Double(sampleRate) : 0
    }
}

/// Reads any format libsndfile decodes as float32, downmixed to mono by averaging the channels
/// (librosa's `to_mono`), in chunks so memory stays bounded whatever the file's length.
///
/// Owns the `SNDFILE*` and an interleaved scratch buffer; both are released in `deinit`.
/// Not thread-safe: one reader per thread.
public final class AudioFileReader {
    public let path: String
    public let format: String
    public let sampleRate: Int
    public let channels: Int
    /// The length the header announces: `SF_INFO.frames`, or for a PCM container whose data
    /// chunk claims more bytes than the file holds (libsndfile then clamps `SF_INFO.frames` to
    /// what is there), the frames of the claimed size. Never used to stop reading.
    public let announcedFrames: Int
    /// Mono frames handed out so far.
    public private(set) var framesRead = 0

    private let handle: OpaquePointer
    /// Interleaved samples straight from `sf_readf_float`, `chunkFrames * channels` floats.
    private let interleaved: UnsafeMutablePointer<Float>
    private let chunkFrames: Int
    private var reachedEnd = false

    /// - Parameter chunkFrames: frames per `sf_readf_float` call; the largest `read` size.
    public init(url: URL, chunkFrames: Int = 16_384) throws(AudioDecodeError) {
        let path = url.path
        self.path = path
        var info = SF_INFO()
        // A failed sf_open leaves its reason in libsndfile's process-global error state (read back
        // with a NULL handle), so concurrent opens would mix up each other's messages: open and
        // read that state under one lock. Decoding itself runs unlocked.
        let opened: Result<OpaquePointer, AudioDecodeError> = soundFileOpenLock.withLock {
            if let handle = sf_open(path, Int32(SFM_READ), &info) { return .success(handle) }
            return .failure(Self.openFailure(path: path, message: Self.libraryMessage(nil), code: Int(sf_error(nil))))
        }
        let handle: OpaquePointer
        switch opened {
        case .success(let opened): handle = opened
        case .failure(let error): throw error
        }
        guard info.channels > 0, info.samplerate > 0 else {
            sf_close(handle)
            throw AudioDecodeError(kind: .unsupported, path: path,
                                   message: "header announces \(info.channels) channels at \(info.samplerate) Hz")
        }
        self.handle = handle
        self.sampleRate = Int(info.samplerate)
        self.channels = Int(info.channels)
        self.announcedFrames = Self.headerFrames(handle, frames: Int(info.frames))
        self.format = Self.formatName(info.format)
        self.chunkFrames = max(1, chunkFrames)
        self.interleaved = .allocate(capacity: self.chunkFrames * Int(info.channels))
    }

    deinit {
        sf_close(handle)
        interleaved.deallocate()
    }

    /// Fills `output` with up to `min(output.count, chunkFrames)` mono samples; returns how many,
    /// 0 at the end of the stream. Vorbis can decode beyond ±1: values are passed through unclipped.
    public func read(into output: UnsafeMutableBufferPointer<Float>) throws(AudioDecodeError) -> Int {
        guard !reachedEnd, let destination = output.baseAddress, output.count > 0 else { return 0 }
        let wanted = min(output.count, chunkFrames)
        let got: Int
        if channels == 1 {
            got = Int(sf_readf_float(handle, destination, sf_count_t(wanted)))
        } else {
            got = Int(sf_readf_float(handle, interleaved, sf_count_t(wanted)))
            if got > 0 { Self.downmix(interleaved, channels: channels, frames: got, into: destination) }
        }
        if got <= 0 {
            reachedEnd = true
            try checkStreamError()
            return 0
        }
        // x * 0 is 0 for every finite x and NaN otherwise, so one sum flags any non-finite sample.
        var poison: Float = 0
        for i in 0..<got { poison += destination[i] * 0 }
        guard poison == 0 else {
            throw AudioDecodeError(kind: .nonFiniteSamples, path: path,
                                   message: "decoded samples contain NaN or infinity near frame \(framesRead)")
        }
        framesRead += got
        return got
    }

    /// librosa's `to_mono` is `np.mean(y, axis=0)` in float32: the channel sum, then a division by
    /// the channel count (exact halving for stereo).
    static func downmix(_ source: UnsafePointer<Float>, channels: Int, frames: Int,
                        into destination: UnsafeMutablePointer<Float>) {
        if channels == 2 {
            for i in 0..<frames { destination[i] = (source[2 * i] + source[2 * i + 1]) / 2 }
            return
        }
        let divisor = Float(channels)
        for i in 0..<frames {
            let frame = source + i * channels
            var sum = frame[0]
            for c in 1..<channels { sum += frame[c] }
            destination[i] = sum / divisor
        }
    }

    private func checkStreamError() throws(AudioDecodeError) {
        let code = Int(sf_error(handle))
        guard code != SF_ERR_NO_ERROR else { return }
        throw AudioDecodeError(kind: framesRead == 0 ? .undecodable : .truncated, path: path,
                               message: Self.libraryMessage(handle) + " (after \(framesRead) frames)", code: code)
    }

    /// Why `sf_open` failed. A file that is there but that no decoder takes is `undecodable`
    /// (libsndfile's generic "File does not exist or is not a regular file" is replaced by what
    /// is true); a path with no regular file behind it is `unreadable`.
    static func openFailure(path: String, message: String, code: Int) -> AudioDecodeError {
        var status = stat()
        guard stat(path, &status) == 0 else {
            return AudioDecodeError(kind: .unreadable, path: path, message: String(cString: strerror(errno)), code: code)
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            return AudioDecodeError(kind: .unreadable, path: path, message: "not a regular file", code: code)
        }
        if status.st_size == 0 {
            return AudioDecodeError(kind: .undecodable, path: path, message: "the file is empty (0 bytes)", code: code)
        }
        let said = message.hasPrefix("File does not exist")
            ? "no decoder recognises its content (\(status.st_size) bytes)" : message
        return AudioDecodeError(kind: .undecodable, path: path, message: said, code: code)
    }

    /// The frames the header announces (see `announcedFrames`). libsndfile logs a data chunk
    /// that claims more than the file holds as `data : 3175200000 (should be 88200)` (`SSND`
    /// for AIFF, and so on); the claimed length is `frames × claimed / present` bytes.
    static func headerFrames(_ handle: OpaquePointer, frames: Int) -> Int {
        var log = [CChar](repeating: 0, count: 16 << 10)
        let length = Int(sf_command(handle, Int32(SFC_GET_LOG_INFO), &log, Int32(log.count)))
        guard length > 0, frames > 0 else { return frames }
        let text = String(decoding: log.prefix(min(length, log.count)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return max(frames, claimedFrames(log: text, frames: frames))
    }

    /// `claimedFrames` of a libsndfile log: the largest ratio of a data chunk's claimed to
    /// present size, times `frames`. Container lines (RIFF, FORM, RF64) are not the audio data.
    static func claimedFrames(log: String, frames: Int) -> Int {
        var claimed = frames
        for line in log.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":"), let open = line.range(of: "(should be ") else { continue }
            let label = line[..<colon].trimmingCharacters(in: .whitespaces).uppercased()
            guard !["RIFF", "RIFX", "RF64", "FORM", "RIFF/WAVE"].contains(label) else { continue }
            let stated = line[line.index(after: colon)..<open.lowerBound].trimmingCharacters(in: .whitespaces)
            let present = line[open.upperBound...].prefix { $0.isNumber }
            guard let stated = Double(stated), let present = Double(present), present > 0, stated > present else { continue }
            claimed = max(claimed, Int((Double(frames) * stated / present).rounded()))
        }
        return claimed
    }

    private static func libraryMessage(_ handle: OpaquePointer?) -> String {
        guard let text = sf_strerror(handle) else { return "unknown libsndfile error" }
        return String(cString: text)
    }

    /// Short container/codec name for the feature document's `source.format`.
    static func formatName(_ format: Int32) -> String {
        let major = Int(format) & SF_FORMAT_TYPEMASK
        let subtype = Int(format) & SF_FORMAT_SUBMASK
        switch major {
        case SF_FORMAT_WAV, SF_FORMAT_WAVEX: return "WAV"
        case SF_FORMAT_RF64: return "RF64"
        case SF_FORMAT_W64: return "W64"
        case SF_FORMAT_FLAC: return "FLAC"
        case SF_FORMAT_MPEG:
            return subtype == SF_FORMAT_MPEG_LAYER_III ? "MP3" : "MPEG"
        case SF_FORMAT_OGG:
            switch subtype {
            case SF_FORMAT_VORBIS: return "OGG/VORBIS"
            case SF_FORMAT_OPUS: return "OGG/OPUS"
            default: return "OGG"
            }
        default:
            var info = SF_FORMAT_INFO()
            info.format = Int32(major)
            let status = sf_command(nil, Int32(SFC_GET_FORMAT_INFO), &info, Int32(MemoryLayout<SF_FORMAT_INFO>.size))
            if status == 0, let ext = info.extension {
                return String(cString: ext).uppercased()
            }
            return String(format: "SF_FORMAT_0x%06X", major)
        }
    }
}
