import Dispatch

/// Processes batches (of rows, BSON documents, export lines) on up to `workers` threads while the
/// caller fills the next one, and hands them back to the caller in the order they were submitted,
/// always on the caller's thread. At most `workers + queued` batches are in flight, so memory stays
/// bounded; queued batches let a worker go on at once while the caller is still delivering. With
/// `workers` ≤ 1 each batch is processed at once on the caller's thread.
///
/// Each worker is a serial dispatch queue, and batches go to them in turn. Serial queues get
/// threads of their own; blocks on a global concurrent queue share GCD's pool of one thread per
/// CPU with Swift concurrency, where the calling job already holds one, so on two CPUs they ran
/// on one thread.
public final class OrderedBatchQueue<Batch: AnyObject & Sendable> {
    private let workers: Int
    private let queued: Int
    private let process: @Sendable (Batch) -> Void
    private let lanes: [DispatchQueue]
    private var nextLane = 0
    /// Batches handed to the workers, oldest first, each with the signal of its completion.
    private var inFlight: [(batch: Batch, done: DispatchSemaphore)] = []

    public init(workers: Int, queued: Int = 0, label: String, process: @escaping @Sendable (Batch) -> Void) {
        self.workers = workers
        self.queued = max(0, queued)
        self.process = process
        lanes = workers > 1 ? (0..<workers).map { DispatchQueue(label: "\(label).\($0)") } : []
    }

    deinit {
        // Never leave a worker writing into a batch nobody waits for.
        for entry in inFlight { entry.done.wait() }
    }

    /// Processes `batch`; `deliver` receives it (and, first, any older batch that is done) once
    /// processed. The caller must not touch `batch` until it is delivered.
    public func submit(_ batch: Batch, deliver: (Batch) throws -> Void) throws {
        guard workers > 1 else {
            process(batch)
            try deliver(batch)
            return
        }
        let done = DispatchSemaphore(value: 0)
        let process = self.process
        inFlight.append((batch, done))
        lanes[nextLane].async { process(batch); done.signal() }
        nextLane = (nextLane + 1) % lanes.count
        while inFlight.count > workers + queued { try deliverOldest(deliver) }
    }

    /// Waits for every batch in flight and delivers them in order.
    public func drain(deliver: (Batch) throws -> Void) throws {
        while !inFlight.isEmpty { try deliverOldest(deliver) }
    }

    private func deliverOldest(_ deliver: (Batch) throws -> Void) throws {
        let entry = inFlight.removeFirst()
        entry.done.wait()
        try deliver(entry.batch)
    }
}
