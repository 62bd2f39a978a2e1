/// The analysis settings. The defaults are librosa 0.11's, which `../shared/golden/` arbitrates.
///
/// Only the settings that change the numbers are here; the rest of the recipe (periodic Hann
/// window, `center=True` zero padding, Slaney mel scale and area norm, fmin 0 / fmax sr/2,
/// `top_db` 80, orthonormal DCT-II, soxr HQ) is fixed and covered by `extractorVersion`.
public struct FeatureParameters: Sendable, Hashable, Codable, CustomStringConvertible {
    public var sampleRate: Int
    public var nFFT: Int
    public var hopLength: Int
    public var nMels: Int
    public var nMFCC: Int

    public init(sampleRate: Int = 22_050, nFFT: Int = 2048, hopLength: Int = 512,
                nMels: Int = 128, nMFCC: Int = 20) {
        self.sampleRate = sampleRate
        self.nFFT = nFFT
        self.hopLength = hopLength
        self.nMels = nMels
        self.nMFCC = nMFCC
    }

    public static let librosaDefaults = FeatureParameters()

    /// Version of the extraction recipe. Bump it whenever the numbers an extractor produces for
    /// the same parameters can change (a different window, FFT planning flag, padding rule…): a
    /// changed version makes `etl-features` recompute stored documents.
    public static let extractorVersion = "audiofeatures-1.2.1+librosa-0.11"

    /// The canonical text the hash is taken over: fixed key order, so it is stable across runs,
    /// machines and Swift versions (unlike `hashValue`, which is seeded per process).
    public var canonicalDescription: String {
        "sample_rate=\(sampleRate);n_fft=\(nFFT);hop_length=\(hopLength);n_mels=\(nMels);n_mfcc=\(nMFCC)"
            + ";window=hann-periodic;center=constant;mel=slaney;fmin=0;fmax=sr/2;top_db=80;amin=1e-10"
            + ";dct=2-ortho;zcr_threshold=1e-10;resampler=soxr-hq"
    }

    /// FNV-1a 64-bit of `canonicalDescription`, as 16 lowercase hex digits.
    public var paramsHash: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in canonicalDescription.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    public var description: String { canonicalDescription }

    /// Rejects settings the DSP cannot honour, before any file is touched.
    func validate() throws(FeatureExtractionError) {
        guard sampleRate > 0 else { throw .invalidParameters("sampleRate must be positive, got \(sampleRate)") }
        guard nFFT >= 4, nFFT % 2 == 0 else { throw .invalidParameters("nFFT must be even and >= 4, got \(nFFT)") }
        guard hopLength > 0 else { throw .invalidParameters("hopLength must be positive, got \(hopLength)") }
        guard nMels > 0 else { throw .invalidParameters("nMels must be positive, got \(nMels)") }
        guard nMFCC > 0, nMFCC <= nMels else {
            throw .invalidParameters("nMFCC must be in 1...nMels (\(nMels)), got \(nMFCC)")
        }
    }
}

/// Kept as a top-level entry point too, since callers record it next to `paramsHash`.
public enum AudioFeatures {
    public static var extractorVersion: String { FeatureParameters.extractorVersion }
}
