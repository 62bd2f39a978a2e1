import Foundation

/// Turns an audio file into librosa-compatible MFCC, spectral centroid and zero-crossing-rate
/// features in one streaming pass: decode → downmix → resample → frame → FFT → mel → dB, keeping
/// per frame only the mel row in dB (nMels floats), the centroid and the crossing count. The 80 dB
/// floor and the DCT run at the end, because the floor is relative to the whole clip's maximum.
///
/// Memory is bounded whatever the track's length: up to `residentFrameLimit` frames (6 minutes of
/// audio at the defaults, ≈ 8.6 MB) are kept in memory; a longer track's frames go to an unlinked
/// temporary file in `spillDirectory` and are read back once, sequentially, at the end (with
/// bit-identical results, tested).
///
/// The same features as pure functions of a whole signal, written plainly the way librosa
/// defines them, are `mfcc`, `spectralCentroid`, `zeroCrossingRate` and `summaryStatistics`
/// (WholeSignalFeatures.swift); tests hold this extractor to them.
///
/// Holds an FFT plan, scratch buffers and cached resamplers: create one per worker thread and
/// reuse it for many files. Not thread-safe (and deliberately not `Sendable`).
public final class FeatureExtractor {
    public let parameters: FeatureParameters

    /// A file that decodes to fewer than `(1 − truncationTolerance) ×` the frames its header
    /// announces is rejected as `.truncated`: libsndfile ends a cut-off FLAC or MP3 without any
    /// error, and features of the first seconds of a track would pass for the whole track.
    /// The margin absorbs MP3 headers that over-report slightly (9,727,207 frames announced for 9,718,848 decoded: 0.09 %). `nil`
    /// accepts whatever decodes.
    public var truncationTolerance: Double? = 0.02

    private let spectrum: PowerSpectrum
    private let window: UnsafeMutablePointer<Float>
    private let power: UnsafeMutablePointer<Float>
    private let dctScratch: UnsafeMutablePointer<Float>
    private let mfccRow: UnsafeMutablePointer<Float>
    private let readBuffer: UnsafeMutableBufferPointer<Float>
    private let melFilterbank: MelFilterbank
    private let dct: DiscreteCosineTransform.Kernel
    private let centroid: SpectralCentroid
    private let framer: FrameAssembler
    /// One soxr stream per native rate seen (typically 44.1 and 48 kHz), reset between files.
    private var resamplers: [Int: StreamingResampler] = [:]

    /// Frames longer tracks keep in memory before spilling to a temporary file (16 384 frames:
    /// 6.3 minutes at 22 050 Hz / hop 512, ≈ 8.6 MB). Results do not depend on it.
    public var residentFrameLimit: Int {
        get { frames.residentRecords }
        set { rebuildSpools(residentFrames: newValue) }
    }
    /// Where spilled frames go (an unlinked file, so nothing is left behind); nil: the system
    /// temporary directory (`TMPDIR`, else /tmp).
    public var spillDirectory: URL? {
        didSet {
            frames.spillDirectory = spillDirectory
            results.spillDirectory = spillDirectory
        }
    }
    public static let defaultResidentFrameLimit = 16_384

    /// Per-track frame records: the mel row in dB, then the centroid and the crossing count.
    private var frames: RecordSpool
    /// Only for spilled tracks: per frame the MFCC row, centroid and crossing count.
    private var results: RecordSpool
    private let layout: RecordLayout
    /// Largest mel value (dB) of the track so far: the reference of the 80 dB floor.
    private var maximumDecibels = -Float.infinity
    /// A spill failure inside the (non-throwing) frame callbacks, thrown when the track ends.
    private var pendingError: FeatureExtractionError?

    /// Byte offsets inside the two kinds of records (`RecordSpool` stores raw bytes).
    struct RecordLayout {
        let nMels: Int, nMFCC: Int
        /// Frame record: nMels floats, centroid (Double), crossings (Int32).
        let frameCentroid: Int, frameCrossings: Int, frameBytes: Int
        /// Result record: nMFCC floats, centroid (Double), crossings (Int32).
        let resultCentroid: Int, resultCrossings: Int, resultBytes: Int

        init(nMels: Int, nMFCC: Int) {
            self.nMels = nMels
            self.nMFCC = nMFCC
            func roundUp(_ value: Int, _ multiple: Int) -> Int { (value + multiple - 1) / multiple * multiple }
            frameCentroid = roundUp(4 * nMels, 8)
            frameCrossings = frameCentroid + 8
            // 16-byte records keep every mel row 16-byte aligned for the SIMD loops.
            frameBytes = roundUp(frameCrossings + 4, 16)
            resultCentroid = roundUp(4 * nMFCC, 8)
            resultCrossings = resultCentroid + 8
            resultBytes = roundUp(resultCrossings + 4, 8)
        }
    }

    private static let readChunkFrames = 16_384

    public init(parameters: FeatureParameters = .librosaDefaults,
                residentFrameLimit: Int = FeatureExtractor.defaultResidentFrameLimit,
                spillDirectory: URL? = nil) throws {
        try parameters.validate()
        self.parameters = parameters
        spectrum = try PowerSpectrum(size: parameters.nFFT)
        window = .allocate(capacity: parameters.nFFT)
        window.initialize(from: periodicHannWindow(length: parameters.nFFT), count: parameters.nFFT)
        melFilterbank = MelFilterbank(sampleRate: parameters.sampleRate, nFFT: parameters.nFFT,
                                      melCount: parameters.nMels)
        power = .allocate(capacity: melFilterbank.paddedBinCount)
        power.initialize(repeating: 0, count: melFilterbank.paddedBinCount)
        let transform = DiscreteCosineTransform(inputCount: parameters.nMels, outputCount: parameters.nMFCC)
        dctScratch = .allocate(capacity: transform.scratchCount)
        dctScratch.initialize(repeating: 0, count: transform.scratchCount)
        mfccRow = .allocate(capacity: parameters.nMFCC)
        mfccRow.initialize(repeating: 0, count: parameters.nMFCC)
        readBuffer = .allocate(capacity: Self.readChunkFrames)
        readBuffer.initialize(repeating: 0)
        dct = transform.makeKernel()
        layout = RecordLayout(nMels: parameters.nMels, nMFCC: parameters.nMFCC)
        frames = RecordSpool(recordBytes: layout.frameBytes, residentRecords: residentFrameLimit,
                             spillDirectory: spillDirectory)
        results = RecordSpool(recordBytes: layout.resultBytes, residentRecords: residentFrameLimit,
                              spillDirectory: spillDirectory)
        self.spillDirectory = spillDirectory
        centroid = SpectralCentroid(sampleRate: parameters.sampleRate, nFFT: parameters.nFFT)
        framer = FrameAssembler(frameLength: parameters.nFFT, hopLength: parameters.hopLength)
    }

    deinit {
        window.deallocate()
        power.deallocate()
        dctScratch.deallocate()
        mfccRow.deallocate()
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
        return try finishTrack(source: source, samples: samples, keepFrames: keepFrames)
    }

    /// Features of a mono signal already at `parameters.sampleRate` (the DSP stage alone, e.g.
    /// for benchmarks or audio that does not come from a file).
    public func extract(samples: [Float], source: AudioSourceInfo? = nil,
                        keepFrames: Bool = false) throws(FeatureExtractionError) -> TrackFeatures {
        beginTrack()
        defer { endTrack() }
        reserve(frames: FrameAssembler.frameCount(length: samples.count, hopLength: parameters.hopLength))
        samples.withUnsafeBufferPointer { analyze($0) }
        let info = source ?? AudioSourceInfo(format: "PCM", sampleRate: parameters.sampleRate, channels: 1,
                                             decodedFrames: samples.count, announcedFrames: samples.count)
        return try finishTrack(source: info, samples: samples.count, keepFrames: keepFrames)
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

    /// One frame: window → FFT → |X|² → mel row (dB, written straight into the frame's record);
    /// |X| sums → centroid; and its crossing count.
    private func analyzeFrame(_ spectral: UnsafePointer<Float>, crossings: Int) {
        guard pendingError == nil else { return }
        let record: UnsafeMutableRawPointer
        do { record = try frames.nextRecord() } catch {
            pendingError = error
            return
        }
        AudioKernels.window(spectral, window, into: spectrum.input, count: parameters.nFFT)
        let moments = spectrum.compute(power: power)
        let mel = record.bindMemory(to: Float.self, capacity: parameters.nMels)
        melFilterbank.apply(power: power, into: mel)
        // To decibels now, while the row is in cache; only the clip-wide floor has to wait.
        let decibels = UnsafeMutableBufferPointer(start: mel, count: parameters.nMels)
        maximumDecibels = max(maximumDecibels, PowerToDecibels.convert(decibels))
        record.storeBytes(of: centroid.centroid(moments), toByteOffset: layout.frameCentroid, as: Double.self)
        record.storeBytes(of: Int32(crossings), toByteOffset: layout.frameCrossings, as: Int32.self)
        frames.commit()
    }

    // MARK: - Per-track state

    private func beginTrack() {
        framer.reset()
        frames.reset()
        results.reset()
        maximumDecibels = -.infinity
        pendingError = nil
    }

    private func endTrack() {
        framer.reset()
        // Closes (and so frees) any spill file now rather than at the next track.
        frames.reset()
        results.reset()
    }

    private func reserve(frames count: Int) {
        // Headers can lie (or be corrupt): the spool never holds more than its resident limit.
        frames.reserve(count + 4)
    }

    private func rebuildSpools(residentFrames: Int) {
        frames = RecordSpool(recordBytes: layout.frameBytes, residentRecords: residentFrames,
                             spillDirectory: spillDirectory)
        results = RecordSpool(recordBytes: layout.resultBytes, residentRecords: residentFrames,
                              spillDirectory: spillDirectory)
    }

    /// The 80 dB floor and the DCT of one frame record's mel row, into `output` (nMFCC floats).
    @inline(__always)
    private func cepstrum(ofFrame record: UnsafeMutableRawPointer, floorReference: Float,
                      into output: UnsafeMutablePointer<Float>) {
        let mel = record.assumingMemoryBound(to: Float.self)
        dct.apply(mel, floor: PowerToDecibels.floor(maximum: floorReference), into: output, scratch: dctScratch)
    }

    private func finishTrack(source: AudioSourceInfo, samples: Int,
                             keepFrames: Bool) throws(FeatureExtractionError) -> TrackFeatures {
        framer.finish { spectral, crossings in analyzeFrame(spectral, crossings: crossings) }
        if let pendingError { throw pendingError }
        let frameCount = frames.count
        let nMFCC = parameters.nMFCC
        let layout = self.layout
        let floorReference = maximumDecibels
        let zcrScale = Double(parameters.nFFT)

        guard frames.isSpilled else {
            // In memory (all but very long tracks): per-coefficient arrays, in-memory statistics.
            var mfcc = [Float](repeating: 0, count: nMFCC * frameCount)
            var centroids = [Double](repeating: 0, count: frameCount)
            var zcr = [Double](repeating: 0, count: frameCount)
            var t = 0
            try frames.forEachChunk { records, count throws(FeatureExtractionError) in
                for r in 0..<count {
                    let record = records + r * layout.frameBytes
                    self.cepstrum(ofFrame: record, floorReference: floorReference, into: mfccRow)
                    for k in 0..<nMFCC { mfcc[k * frameCount + t] = mfccRow[k] }
                    centroids[t] = record.load(fromByteOffset: layout.frameCentroid, as: Double.self)
                    zcr[t] = Double(record.load(fromByteOffset: layout.frameCrossings, as: Int32.self)) / zcrScale
                    t += 1
                }
            }
            let mfccStatistics = (0..<nMFCC).map { k in
                SummaryStatistics(of: mfcc[(k * frameCount)..<((k + 1) * frameCount)])
            }
            var perFrame: FrameFeatures?
            if keepFrames {
                perFrame = FrameFeatures(
                    mfcc: (0..<nMFCC).map { k in Array(mfcc[(k * frameCount)..<((k + 1) * frameCount)]) },
                    spectralCentroid: centroids, zcr: zcr)
            }
            return TrackFeatures(source: source, parameters: parameters, nSamples: samples, nFrames: frameCount,
                                 mfcc: mfccStatistics, spectralCentroid: SummaryStatistics(of: centroids),
                                 zcr: SummaryStatistics(of: zcr), frames: perFrame)
        }

        // Spilled: one sequential read of the frames into result records (which spill too), then
        // the statistics in passes over those, so memory stays bounded.
        try frames.forEachChunk { records, count throws(FeatureExtractionError) in
            for r in 0..<count {
                let record = records + r * layout.frameBytes
                let result = try results.nextRecord()
                let row = result.bindMemory(to: Float.self, capacity: nMFCC)
                self.cepstrum(ofFrame: record, floorReference: floorReference, into: row)
                result.storeBytes(of: record.load(fromByteOffset: layout.frameCentroid, as: Double.self),
                                  toByteOffset: layout.resultCentroid, as: Double.self)
                result.storeBytes(of: record.load(fromByteOffset: layout.frameCrossings, as: Int32.self),
                                  toByteOffset: layout.resultCrossings, as: Int32.self)
                results.commit()
            }
        }
        frames.reset()  // the frame file is no longer needed: free its space before the passes
        let columns = nMFCC + 2
        let row = UnsafeMutablePointer<Double>.allocate(capacity: columns)
        defer { row.deallocate() }
        let statistics = try SummaryStatistics.streaming(columns: columns, count: frameCount) {
            (body: (UnsafePointer<Double>) -> Void) throws(FeatureExtractionError) in
            try results.forEachChunk(maximumRecords: 4096) { records, count throws(FeatureExtractionError) in
                for r in 0..<count {
                    let record = records + r * layout.resultBytes
                    for k in 0..<nMFCC { row[k] = Double(record.load(fromByteOffset: 4 * k, as: Float.self)) }
                    row[nMFCC] = record.load(fromByteOffset: layout.resultCentroid, as: Double.self)
                    row[nMFCC + 1] = Double(record.load(fromByteOffset: layout.resultCrossings, as: Int32.self))
                        / zcrScale
                    body(row)
                }
            }
        }
        var perFrame: FrameFeatures?
        if keepFrames {
            // The caller asked for every frame in memory: linear in length by request.
            var mfcc = (0..<nMFCC).map { _ in [Float]() }
            var centroids = [Double](), zcr = [Double]()
            try results.forEachChunk { records, count throws(FeatureExtractionError) in
                for r in 0..<count {
                    let record = records + r * layout.resultBytes
                    for k in 0..<nMFCC { mfcc[k].append(record.load(fromByteOffset: 4 * k, as: Float.self)) }
                    centroids.append(record.load(fromByteOffset: layout.resultCentroid, as: Double.self))
                    zcr.append(Double(record.load(fromByteOffset: layout.resultCrossings, as: Int32.self)) / zcrScale)
                }
            }
            perFrame = FrameFeatures(mfcc: mfcc, spectralCentroid: centroids, zcr: zcr)
        }
        return TrackFeatures(source: source, parameters: parameters, nSamples: samples, nFrames: frameCount,
                             mfcc: Array(statistics[0..<nMFCC]), spectralCentroid: statistics[nMFCC],
                             zcr: statistics[nMFCC + 1], frames: perFrame)
    }
}
