import CSoxr

/// Mono float32 resampling with libsoxr at `soxr_quality_spec(SOXR_HQ, 0)`, which is what
/// librosa's default `res_type="soxr_hq"` runs (through python-soxr).
///
/// Streams: feed chunks with `process`, then `finish` flushes soxr (NULL input) and applies
/// librosa's length rule `ceil(n · out/in)` (`librosa.resample(fix=True)`: zero-pad or trim).
/// The output equals `soxr_oneshot` on the whole signal (tested), so memory stays bounded.
/// Owns the `soxr_t` and its output buffer; not thread-safe.
public final class StreamingResampler {
    public let inputRate: Double
    public let outputRate: Double

    private let soxr: soxr_t
    private let output: UnsafeMutablePointer<Float>
    private let outputCapacity = 16_384
    private var inputFrames = 0
    private var emittedFrames = 0
    /// Output soxr produced beyond `ceil(inputFrames · ratio)`; only possible in theory (soxr lags
    /// its input), kept so the final trim to librosa's length is exact in every case.
    private var heldBack: [Float] = []

    public init(inputRate: Double, outputRate: Double) throws(FeatureExtractionError) {
        guard inputRate > 0, outputRate > 0, inputRate.isFinite, outputRate.isFinite else {
            throw .resampler("invalid rates \(inputRate) -> \(outputRate)")
        }
        self.inputRate = inputRate
        self.outputRate = outputRate
        var ioSpec = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I)
        var qualitySpec = soxr_quality_spec(UInt(SOXR_HQ), 0)
        var runtimeSpec = soxr_runtime_spec(1)
        var error: soxr_error_t? = nil
        guard let soxr = soxr_create(inputRate, outputRate, 1, &error, &ioSpec, &qualitySpec, &runtimeSpec),
              error == nil else {
            throw .resampler(Self.message(error) + " (soxr_create \(inputRate) -> \(outputRate))")
        }
        self.soxr = soxr
        self.output = .allocate(capacity: outputCapacity)
    }

    deinit {
        soxr_delete(soxr)
        output.deallocate()
    }

    /// librosa's output length: `int(np.ceil(n * (float(target_sr) / orig_sr)))`, float64 as numpy.
    public static func outputLength(inputFrames: Int, inputRate: Double, outputRate: Double) -> Int {
        Int((Double(inputFrames) * (outputRate / inputRate)).rounded(.up))
    }

    /// Resamples `input`; `sink` receives the output produced so far, possibly in several pieces.
    public func process(_ input: UnsafeBufferPointer<Float>,
                        into sink: (UnsafeBufferPointer<Float>) -> Void) throws(FeatureExtractionError) {
        guard var next = input.baseAddress, !input.isEmpty else { return }
        var remaining = input.count
        inputFrames += input.count
        let allowed = Self.outputLength(inputFrames: inputFrames, inputRate: inputRate, outputRate: outputRate)
        // soxr consumes only as much input as fits its output buffer: loop until all is taken.
        while remaining > 0 {
            var consumed = 0
            var produced = 0
            let error = soxr_process(soxr, next, remaining, &consumed, output, outputCapacity, &produced)
            guard error == nil else { throw .resampler(Self.message(error)) }
            emit(UnsafeBufferPointer(start: output, count: produced), allowed: allowed, into: sink)
            next += consumed
            remaining -= consumed
        }
    }

    /// Flushes soxr and pads or trims to `ceil(n · out/in)`; the resampler is then `reset()`.
    public func finish(into sink: (UnsafeBufferPointer<Float>) -> Void) throws(FeatureExtractionError) {
        let target = Self.outputLength(inputFrames: inputFrames, inputRate: inputRate, outputRate: outputRate)
        while true {
            var produced = 0
            let error = soxr_process(soxr, nil, 0, nil, output, outputCapacity, &produced)
            guard error == nil else { throw .resampler(Self.message(error)) }
            if produced == 0 { break }
            emit(UnsafeBufferPointer(start: output, count: produced), allowed: target, into: sink)
        }
        if emittedFrames < target {
            let zeros = [Float](repeating: 0, count: target - emittedFrames)
            zeros.withUnsafeBufferPointer { sink($0) }
            emittedFrames = target
        }
        try reset()
    }

    /// Ready for a new signal with the same rates (cheaper than creating a new soxr_t).
    public func reset() throws(FeatureExtractionError) {
        let error = soxr_clear(soxr)
        guard error == nil else { throw .resampler(Self.message(error)) }
        inputFrames = 0
        emittedFrames = 0
        heldBack.removeAll(keepingCapacity: true)
    }

    private func emit(_ chunk: UnsafeBufferPointer<Float>, allowed: Int,
                      into sink: (UnsafeBufferPointer<Float>) -> Void) {
        if !heldBack.isEmpty || emittedFrames + chunk.count > allowed {
            heldBack.append(contentsOf: chunk)
            let count = min(heldBack.count, allowed - emittedFrames)
            if count > 0 {
                heldBack.withUnsafeBufferPointer { sink(UnsafeBufferPointer(rebasing: $0[0..<count])) }
                heldBack.removeFirst(count)
                emittedFrames += count
            }
            return
        }
        if !chunk.isEmpty { sink(chunk) }
        emittedFrames += chunk.count
    }

    /// `soxr_oneshot` on a whole signal, with librosa's length rule: the reference the streaming
    /// path is checked against (the golden README measured it bit-identical to `librosa.load`).
    public static func oneShot(_ input: [Float], inputRate: Double, outputRate: Double) throws(FeatureExtractionError) -> [Float] {
        let target = outputLength(inputFrames: input.count, inputRate: inputRate, outputRate: outputRate)
        var ioSpec = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I)
        var qualitySpec = soxr_quality_spec(UInt(SOXR_HQ), 0)
        var runtimeSpec = soxr_runtime_spec(1)
        var result = [Float](repeating: 0, count: target + 1024)
        var produced = 0
        let error: soxr_error_t? = input.withUnsafeBufferPointer { source in
            result.withUnsafeMutableBufferPointer { destination in
                var consumed = 0
                return soxr_oneshot(inputRate, outputRate, 1, source.baseAddress, source.count, &consumed,
                                    destination.baseAddress, destination.count, &produced,
                                    &ioSpec, &qualitySpec, &runtimeSpec)
            }
        }
        guard error == nil else { throw .resampler(message(error)) }
        result.removeLast(result.count - produced)
        if result.count < target {
            result.append(contentsOf: repeatElement(0, count: target - result.count))
        } else {
            result.removeLast(result.count - target)
        }
        return result
    }

    private static func message(_ error: soxr_error_t?) -> String {
        guard let error else { return "unknown libsoxr error" }
        return String(cString: error)
    }
}
