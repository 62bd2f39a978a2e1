import Dispatch

/// Processes batches (of BSON documents, printed or formatted) on up to `workers` threads while the
/// caller fills the next one, and hands them back to the caller in the order they were submitted,
/// always on the caller's thread. At most `workers` batches are processed at a time and at most
/// `workers + queued` are in flight, so memory stays bounded; queued batches let a worker start the
/// next one at once while the caller is still busy delivering. With `workers` ≤ 1 each batch is
/// processed at once on the caller's thread.
public final class OrderedBatchQueue<Batch: AnyObject & Sendable> {
    private let workers: Int
    private let queued: Int
    /// Lets at most `workers` batches be processed at once.
    private let slots: DispatchSemaphore
    private let process: @Sendable (Batch) -> Void
    private let queue: DispatchQueue
    /// Batches handed to the workers, oldest first, each with the signal of its completion.
    private var inFlight: [(batch: Batch, done: DispatchSemaphore)] = []

    public init(workers: Int, queued: Int = 0, label: String, process: @escaping @Sendable (Batch) -> Void) {
        self.workers = workers
        self.queued = max(0, queued)
        slots = DispatchSemaphore(value: max(1, workers))
        self.process = process
        queue = DispatchQueue(label: label, attributes: .concurrent)
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
        let slots = self.slots
        queue.async {
            slots.wait()
            process(batch)
            slots.signal()
            done.signal()
        }
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
