import Foundation

/// Turns an audio file into librosa-compatible MFCC, spectral centroid and zero-crossing-rate
/// features in one streaming pass: decode → downmix → resample → frame → FFT → mel, keeping per
/// frame only the mel powers (nMels floats), the centroid and the crossing count. The log/80 dB
/// floor and the DCT run at the end, because the floor is relative to the whole clip's maximum.
///
/// Holds an FFT plan, scratch buffers and cached resamplers: create one per worker thread and
/// reuse it for many files. Not thread-safe (and deliberately not `Sendable`).
public final class FeatureExtractor {
    public let parameters: FeatureParameters

    /// A file that decodes to fewer than `(1 − truncationTolerance) ×` the frames its header
    /// announces is rejected as `.truncated`: libsndfile ends a cut-off FLAC or MP3 without any
    /// error, and features of the first seconds of a track would pass for the whole track.
    /// The margin absorbs MP3 headers that over-report slightly (DESIGN.md: 0.09 %). `nil`
    /// accepts whatever decodes.
    public var truncationTolerance: Double? = 0.02

    private let spectrum: PowerSpectrum
    private let window: UnsafeMutablePointer<Float>
    private let power: UnsafeMutablePointer<Float>
    private let melRow: UnsafeMutablePointer<Float>
    private let dctScratch: UnsafeMutablePointer<Double>
    private let readBuffer: UnsafeMutableBufferPointer<Float>
    private let melFilterbank: MelFilterbank
    private let dct: DiscreteCosineTransform
    private let centroid: SpectralCentroid
    private let framer: FrameAssembler
    /// One soxr stream per native rate seen (typically 44.1 and 48 kHz), reset between files.
    private var resamplers: [Int: StreamingResampler] = [:]

    // Per-track accumulation (mel rows already in dB), reused across files when small.
    private var melFrames: [Float] = []
    private var centroids: [Double] = []
    private var crossingCounts: [Int32] = []
    /// Largest mel value (dB) of the track so far: the reference of the 80 dB floor.
    private var maximumDecibels = -Float.infinity

    private static let readChunkFrames = 16_384
    /// Above this many retained floats, per-track arrays are released after the track.
    private static let retainedCapacityLimit = 1 << 20

    public init(parameters: FeatureParameters = .librosaDefaults) throws {
        try parameters.validate()
        self.parameters = parameters
        spectrum = try PowerSpectrum(size: parameters.nFFT)
        window = .allocate(capacity: parameters.nFFT)
        window.initialize(from: periodicHannWindow(length: parameters.nFFT), count: parameters.nFFT)
        melFilterbank = MelFilterbank(sampleRate: parameters.sampleRate, nFFT: parameters.nFFT,
                                      melCount: parameters.nMels)
        power = .allocate(capacity: melFilterbank.paddedBinCount)
        power.initialize(repeating: 0, count: melFilterbank.paddedBinCount)
        melRow = .allocate(capacity: parameters.nMels)
        melRow.initialize(repeating: 0, count: parameters.nMels)
        dctScratch = .allocate(capacity: parameters.nMels)
        dctScratch.initialize(repeating: 0, count: parameters.nMels)
        readBuffer = .allocate(capacity: Self.readChunkFrames)
        readBuffer.initialize(repeating: 0)
        dct = DiscreteCosineTransform(inputCount: parameters.nMels, outputCount: parameters.nMFCC)
        centroid = SpectralCentroid(sampleRate: parameters.sampleRate, nFFT: parameters.nFFT)
        framer = FrameAssembler(frameLength: parameters.nFFT, hopLength: parameters.hopLength)
    }

    deinit {
        window.deallocate()
        power.deallocate()
        melRow.deallocate()
        dctScratch.deallocate()
        readBuffer.deallocate()
    }

    // MARK: - Public entry points

    /// Features of one file. Throws `AudioDecodeError` for files that cannot be decoded (with
    /// libsndfile's reason) and `FeatureExtractionError` for resampler failures.
    public func extract(fileAt url: URL, keepFrames: Bool = false) throws -> TrackFeatures {
        beginTrack()
        defer { endTrack() }
        var samples = 0
        let source = try decode(fileAt: url, reserveFrames: true) { chunk in
            samples += chunk.count
            analyze(chunk)
        }
        return finishTrack(source: source, samples: samples, keepFrames: keepFrames)
    }

    /// Features of a mono signal already at `parameters.sampleRate` (the DSP stage alone, e.g.
    /// for benchmarks or audio that does not come from a file).
    public func extract(samples: [Float], source: AudioSourceInfo? = nil, keepFrames: Bool = false) -> TrackFeatures {
        beginTrack()
        defer { endTrack() }
        reserve(frames: FrameAssembler.frameCount(length: samples.count, hopLength: parameters.hopLength))
        samples.withUnsafeBufferPointer { analyze($0) }
        let info = source ?? AudioSourceInfo(format: "PCM", sampleRate: parameters.sampleRate, channels: 1,
                                             decodedFrames: samples.count, announcedFrames: samples.count)
        return finishTrack(source: info, samples: samples.count, keepFrames: keepFrames)
    }

    /// `librosa.load(path)`: the whole file decoded, downmixed and resampled to
    /// `parameters.sampleRate`, in memory. For tests and tools; `extract` never builds this array.
    public func load(fileAt url: URL) throws -> (samples: [Float], source: AudioSourceInfo) {
        var samples: [Float] = []
        let source = try decode(fileAt: url, reserveFrames: false) { samples.append(contentsOf: $0) }
        return (samples, source)
    }

    /// Decodes, downmixes and resamples a file, handing the mono 22 050 Hz signal to `body` in
    /// chunks (bounded memory). Returns what the decoder found.
    public func decode(fileAt url: URL,
                       _ body: (UnsafeBufferPointer<Float>) -> Void) throws -> AudioSourceInfo {
        try decode(fileAt: url, reserveFrames: false, body)
    }

    // MARK: - Streaming pipeline

    private func decode(fileAt url: URL, reserveFrames: Bool,
                        _ body: (UnsafeBufferPointer<Float>) -> Void) throws -> AudioSourceInfo {
        let reader = try AudioFileReader(url: url, chunkFrames: Self.readChunkFrames)
        let resampler = try resampler(from: reader.sampleRate)
        if reserveFrames {
            let expected = StreamingResampler.outputLength(
                inputFrames: max(0, reader.announcedFrames), inputRate: Double(reader.sampleRate),
                outputRate: Double(parameters.sampleRate))
            reserve(frames: FrameAssembler.frameCount(length: expected, hopLength: parameters.hopLength))
        }
        do {
            while true {
                let count = try reader.read(into: readBuffer)
                if count == 0 { break }
                let chunk = UnsafeBufferPointer(rebasing: readBuffer[0..<count])
                if let resampler { try resampler.process(chunk, into: body) } else { body(chunk) }
            }
            if reader.framesRead == 0 {
                throw AudioDecodeError(kind: .empty, path: reader.path, message: "no audio frames decoded"
                                       + " (header announced \(reader.announcedFrames))")
            }
            // SF_COUNT_MAX means "length unknown" (e.g. a streamed WAV): nothing to compare with.
            if let truncationTolerance, reader.announcedFrames > 0, reader.announcedFrames < Int(Int64.max),
               Double(reader.framesRead) < Double(reader.announcedFrames) * (1 - truncationTolerance) {
                throw AudioDecodeError(
                    kind: .truncated, path: reader.path,
                    message: "decoded \(reader.framesRead) of the \(reader.announcedFrames) frames the header announces"
                        + " (the stream ends early; libsndfile reported no error)")
            }
            try resampler?.finish(into: body)
        } catch {
            try? resampler?.reset()
            throw error
        }
        return AudioSourceInfo(format: reader.format, sampleRate: reader.sampleRate, channels: reader.channels,
                               decodedFrames: reader.framesRead, announcedFrames: reader.announcedFrames)
    }

    private func resampler(from rate: Int) throws -> StreamingResampler? {
        guard rate != parameters.sampleRate else { return nil }
        if let cached = resamplers[rate] { return cached }
        let created = try StreamingResampler(inputRate: Double(rate), outputRate: Double(parameters.sampleRate))
        resamplers[rate] = created
        return created
    }

    private func analyze(_ chunk: UnsafeBufferPointer<Float>) {
        framer.append(chunk) { spectral, crossings in analyzeFrame(spectral, crossings: crossings) }
    }

    /// One frame: window → FFT → |X|² → mel row (dB); |X| sums → centroid; and its crossing count.
    private func analyzeFrame(_ spectral: UnsafePointer<Float>, crossings: Int) {
        let n = parameters.nFFT
        let input = spectrum.input
        for i in 0..<n { input[i] = spectral[i] * window[i] }
        let moments = spectrum.compute(power: power)
        melFilterbank.apply(power: power, into: melRow)
        // To decibels now, while the row is in cache; only the clip-wide floor has to wait.
        let decibels = UnsafeMutableBufferPointer(start: melRow, count: parameters.nMels)
        maximumDecibels = max(maximumDecibels, PowerToDecibels.convert(decibels))
        melFrames.append(contentsOf: UnsafeBufferPointer(start: melRow, count: parameters.nMels))
        centroids.append(centroid.centroid(moments))
        crossingCounts.append(Int32(crossings))
    }

    // MARK: - Per-track state

    private func beginTrack() {
        framer.reset()
        melFrames.removeAll(keepingCapacity: true)
        centroids.removeAll(keepingCapacity: true)
        crossingCounts.removeAll(keepingCapacity: true)
        maximumDecibels = -.infinity
    }

    private func endTrack() {
        framer.reset()
        if melFrames.capacity > Self.retainedCapacityLimit {
            melFrames = []
            centroids = []
            crossingCounts = []
        }
    }

    private func reserve(frames: Int) {
        // Headers can lie (or be corrupt): never pre-allocate more than ~6 h of frames.
        let frames = min(frames + 4, 1_000_000)
        melFrames.reserveCapacity(frames * parameters.nMels)
        centroids.reserveCapacity(frames)
        crossingCounts.reserveCapacity(frames)
    }

    private func finishTrack(source: AudioSourceInfo, samples: Int, keepFrames: Bool) -> TrackFeatures {
        framer.finish { spectral, crossings in analyzeFrame(spectral, crossings: crossings) }
        let frameCount = centroids.count
        let nMels = parameters.nMels, nMFCC = parameters.nMFCC

        // The 80 dB floor relative to the whole clip's maximum, then the DCT.
        var mfcc = [Float](repeating: 0, count: nMFCC * frameCount)
        var coefficients = [Float](repeating: 0, count: nMFCC)
        melFrames.withUnsafeMutableBufferPointer { mel in
            PowerToDecibels.clamp(mel, maximum: maximumDecibels)
            guard let melBase = mel.baseAddress else { return }
            coefficients.withUnsafeMutableBufferPointer { row in
                guard let rowBase = row.baseAddress else { return }
                for t in 0..<frameCount {
                    dct.apply(melBase + t * nMels, into: rowBase, scratch: dctScratch)
                    for k in 0..<nMFCC { mfcc[k * frameCount + t] = rowBase[k] }
                }
            }
        }

        let zcr = crossingCounts.map { Double($0) / Double(parameters.nFFT) }
        let mfccStatistics = (0..<nMFCC).map { k in
            SummaryStatistics(of: mfcc[(k * frameCount)..<((k + 1) * frameCount)])
        }
        var frames: FrameFeatures?
        if keepFrames {
            frames = FrameFeatures(
                mfcc: (0..<nMFCC).map { k in Array(mfcc[(k * frameCount)..<((k + 1) * frameCount)]) },
                spectralCentroid: centroids, zcr: zcr)
        }
        return TrackFeatures(source: source, parameters: parameters, nSamples: samples, nFrames: frameCount,
                             mfcc: mfccStatistics, spectralCentroid: SummaryStatistics(of: centroids),
                             zcr: SummaryStatistics(of: zcr), frames: frames)
    }
}
