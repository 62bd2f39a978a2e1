/// Why a file could not be turned into audio samples. Carries the decoder's own message and code
/// (libsndfile's `sf_strerror` / `sf_error`) so a quarantine record says what actually went wrong.
public struct AudioDecodeError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        /// There is no regular file to read at the path (missing, a directory, a FIFO, no permission).
        case unreadable
        /// The file is there but no decoder takes it (empty, not audio, a malformed header):
        /// the message is the decoder's reason.
        case undecodable
        /// The file opened but decoded to zero sample frames.
        case empty
        /// Decoding stopped with an error after some data (a damaged or cut-off stream).
        case truncated
        /// The header announces something the pipeline cannot use (e.g. a sample rate of 0).
        case unsupported
        /// The decoder produced NaN or infinite samples; librosa rejects such buffers too.
        case nonFiniteSamples
    }

    public var kind: Kind
    public var path: String
    /// The decoder's message (`sf_strerror`), or ours when the decoder reported no error.
    public var message: String
    /// libsndfile's error code (`sf_error`, e.g. 1 = unrecognised format); 0 when not from libsndfile.
    public var code: Int

    public init(kind: Kind, path: String, message: String, code: Int = 0) {
        self.kind = kind
        self.path = path
        self.message = message
        self.code = code
    }

    public var description: String {
        "\(kind.rawValue): \(path): \(message)" + (code != 0 ? " (libsndfile error \(code))" : "")
    }
}

/// Failures of the DSP machinery itself (not of an input file): bad parameters, a resampler or an
/// FFT plan that could not be created.
public enum FeatureExtractionError: Error, CustomStringConvertible, Sendable, Equatable {
    case invalidParameters(String)
    /// libsoxr's error string (`soxr_error_t`).
    case resampler(String)
    case fftPlan(String)
    case outOfMemory(String)
    /// The temporary file of a long track's frames could not be created, written or read back.
    case spill(String)

    public var description: String {
        switch self {
        case .invalidParameters(let message): "invalid feature parameters: \(message)"
        case .resampler(let message): "libsoxr: \(message)"
        case .fftPlan(let message): "FFTW: \(message)"
        case .outOfMemory(let message): "out of memory: \(message)"
        case .spill(let message): "frame spill: \(message)"
        }
    }
}
