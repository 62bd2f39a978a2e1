import Foundation

/// Cuts a streamed mono signal into analysis frames without ever holding the whole signal.
///
/// Frame t covers samples [t·hop − n/2, t·hop + n/2) of the signal (librosa `center=True`), so a
/// signal of length L gives 1 + L // hop frames. librosa pads differently for its two consumers,
/// and both are handled here:
/// - the spectral frame is zero-padded beyond both ends (`stft(pad_mode="constant")`); interior
///   frames are passed as pointers into the buffer of recent samples, no copy;
/// - the zero-crossing count uses edge padding, the first/last sample repeated
///   (`zero_crossing_rate(center=True)`). Frames overlap 4×, so for interior frames the count is
///   assembled from per-hop-block counts computed once per block.
final class FrameAssembler {
    let frameLength: Int
    let hopLength: Int
    private let halfFrame: Int

    /// Samples [bufferStart, bufferStart + bufferCount) of the signal.
    private let buffer: UnsafeMutablePointer<Float>
    private let capacity: Int
    private var bufferStart = 0
    private var bufferCount = 0
    private var received = 0
    private var firstSample: Float = 0
    private(set) var nextFrame = 0

    private let spectralScratch: UnsafeMutablePointer<Float>
    private let zeroCrossingScratch: UnsafeMutablePointer<Float>

    /// Crossings per hop block b: pairs (i−1, i) with i in [b·hop, (b+1)·hop), i ≥ 1. A ring of
    /// the blocks one frame spans; only when frames are whole multiples of the hop.
    private let blocksPerFrame: Int?
    private var blockCrossings: [Int]
    private var blocksComputed = 0

    init(frameLength: Int, hopLength: Int, chunkCapacity: Int = 16_384) {
        self.frameLength = frameLength
        self.hopLength = hopLength
        self.halfFrame = frameLength / 2
        // After emitting every complete frame, fewer than `frameLength` samples are still needed
        // (plus the one before them, for the first crossing pair).
        self.capacity = frameLength + 1 + max(chunkCapacity, hopLength)
        self.buffer = .allocate(capacity: capacity)
        self.spectralScratch = .allocate(capacity: frameLength)
        self.zeroCrossingScratch = .allocate(capacity: frameLength)
        let aligned = frameLength % hopLength == 0 && halfFrame % hopLength == 0
        self.blocksPerFrame = aligned ? frameLength / hopLength : nil
        self.blockCrossings = [Int](repeating: 0, count: aligned ? frameLength / hopLength : 0)
    }

    deinit {
        buffer.deallocate()
        spectralScratch.deallocate()
        zeroCrossingScratch.deallocate()
    }

    /// Number of frames for a signal of `length` samples.
    static func frameCount(length: Int, hopLength: Int) -> Int { 1 + length / hopLength }

    func reset() {
        bufferStart = 0
        bufferCount = 0
        received = 0
        firstSample = 0
        nextFrame = 0
        blocksComputed = 0
    }

    /// Appends samples and hands out every frame that is now complete, in order:
    /// `frame(spectral, crossings)` gets a pointer to `frameLength` zero-padded samples and the
    /// frame's zero-crossing count.
    func append(_ samples: UnsafeBufferPointer<Float>, frame: (UnsafePointer<Float>, Int) -> Void) {
        guard let source = samples.baseAddress else { return }
        var offset = 0
        while offset < samples.count {
            compact()
            let taken = min(capacity - bufferCount, samples.count - offset)
            (buffer + bufferCount).update(from: source + offset, count: taken)
            if received == 0 { firstSample = source[offset] }
            bufferCount += taken
            received += taken
            offset += taken
            // A frame is complete once its right edge is inside the received signal.
            while nextFrame * hopLength + halfFrame <= received {
                emit(frame: nextFrame, to: frame)
                nextFrame += 1
            }
        }
    }

    /// The signal has ended: hands out the remaining frames (padded at the end). Returns the
    /// total number of frames, 1 + length // hop (0 for an empty signal).
    @discardableResult
    func finish(frame: (UnsafePointer<Float>, Int) -> Void) -> Int {
        guard received > 0 else { return 0 }
        let total = Self.frameCount(length: received, hopLength: hopLength)
        while nextFrame < total {
            emit(frame: nextFrame, to: frame)
            nextFrame += 1
        }
        return total
    }

    private func emit(frame index: Int, to consumer: (UnsafePointer<Float>, Int) -> Void) {
        let start = index * hopLength - halfFrame
        let end = start + frameLength
        if start >= 0, end <= received {
            let interior = UnsafePointer(buffer + (start - bufferStart))
            consumer(interior, interiorCrossings(frameStart: start, frame: interior))
            return
        }
        // Overhangs an end: assemble both paddings. Samples before the signal are 0 (spectral)
        // or the first sample (zero crossings); after it (only at `finish`), 0 or the last sample.
        let lastSample = bufferCount > 0 ? buffer[bufferCount - 1] : firstSample
        for i in 0..<frameLength {
            let position = start + i
            if position < 0 {
                spectralScratch[i] = 0
                zeroCrossingScratch[i] = firstSample
            } else if position >= received {
                spectralScratch[i] = 0
                zeroCrossingScratch[i] = lastSample
            } else {
                let sample = buffer[position - bufferStart]
                spectralScratch[i] = sample
                zeroCrossingScratch[i] = sample
            }
        }
        consumer(UnsafePointer(spectralScratch),
                 ZeroCrossingRate.crossingCount(zeroCrossingScratch, count: frameLength))
    }

    /// Crossings of pairs (i−1, i), start < i < start + frameLength, of an unpadded frame: the
    /// sum of the blocks it spans minus the pair (start−1, start), which belongs to the first
    /// block but not to the frame.
    private func interiorCrossings(frameStart start: Int, frame: UnsafePointer<Float>) -> Int {
        guard let blocksPerFrame else { return ZeroCrossingRate.crossingCount(frame, count: frameLength) }
        let firstBlock = start / hopLength
        let lastBlock = firstBlock + blocksPerFrame - 1
        // Blocks before this frame's first were never needed (edge frames count directly).
        if blocksComputed < firstBlock { blocksComputed = firstBlock }
        while blocksComputed <= lastBlock {
            let blockStart = blocksComputed * hopLength
            // Pairs ending at blockStart ..< blockStart + hop, i.e. samples from blockStart − 1.
            let from = max(blockStart - 1, 0)
            let pointer = buffer + (from - bufferStart)
            blockCrossings[blocksComputed % blocksPerFrame] =
                ZeroCrossingRate.crossingCount(pointer, count: blockStart + hopLength - from)
            blocksComputed += 1
        }
        var total = 0
        for block in firstBlock...lastBlock { total += blockCrossings[block % blocksPerFrame] }
        if start >= 1 {
            let limit = -ZeroCrossingRate.threshold
            let previous = buffer[start - 1 - bufferStart], first = frame[0]
            if (previous < limit) != (first < limit) { total -= 1 }
        }
        return total
    }

    /// Drops samples no future frame needs, moving the rest to the front of the buffer.
    private func compact() {
        // Keep one sample before the next frame: the crossing pair that straddles its start.
        let neededFrom = max(0, nextFrame * hopLength - halfFrame - 1)
        let drop = min(neededFrom - bufferStart, bufferCount)
        guard drop > 0 else { return }
        bufferCount -= drop
        // Overlapping move (memmove semantics).
        if bufferCount > 0 {
            UnsafeMutableRawPointer(buffer).copyMemory(from: buffer + drop,
                                                       byteCount: bufferCount * MemoryLayout<Float>.stride)
        }
        bufferStart += drop
    }
}
