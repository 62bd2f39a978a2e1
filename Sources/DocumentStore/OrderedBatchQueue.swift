import Dispatch
import Synchronization

/// Processes batches (of rows, BSON documents, export lines) on up to `workers` threads, the
/// caller's among them, and hands them back to the caller in the order they were submitted, always
/// on the caller's thread. At most `workers + queued` batches are in flight, so memory stays
/// bounded. With `workers` ≤ 1 each batch is processed at once on the caller's thread.
///
/// `workers − 1` threads take the oldest waiting batch; the caller, instead of blocking on the
/// batch it must deliver next, processes waiting batches itself. So no more than `workers` threads
/// are busy: a thread per worker besides the caller put three busy threads on two CPUs, and
/// batches dealt to the threads in turn left one idle while the other had two queued.
///
/// Worker threads are serial dispatch queues running one loop each: blocks on a global
/// concurrent queue share GCD's pool of one thread per CPU with Swift concurrency, where the
/// calling job already holds one, so on two CPUs they ran on one thread.
public final class OrderedBatchQueue<Batch: AnyObject & Sendable> {
    private let capacity: Int
    private let process: @Sendable (Batch) -> Void
    /// Batches handed over, oldest first, until delivered.
    private var inFlight: [Entry] = []
    private let waiting = Waiting()
    private let threadsDone = DispatchGroup()
    private let threads: Int

    /// A batch and the signal of its completion.
    private final class Entry: Sendable {
        let batch: Batch
        let done = DispatchSemaphore(value: 0)
        init(_ batch: Batch) { self.batch = batch }
    }

    /// Batches no thread has taken yet, shared by the threads and the caller.
    private final class Waiting: Sendable {
        let entries = Mutex<(list: [Entry], stopping: Bool)>(([], false))
        /// One signal per batch added (and per thread at the end); a thread that wakes to find
        /// the list empty (the caller took the batch) waits again.
        let added = DispatchSemaphore(value: 0)

        func add(_ entry: Entry) {
            entries.withLock { $0.list.append(entry) }
            added.signal()
        }

        /// The oldest waiting batch, taken off the list.
        func take() -> Entry? {
            entries.withLock { $0.list.isEmpty ? nil : $0.list.removeFirst() }
        }

        /// The threads' loop: process batches until `stop`.
        func serve(_ process: @Sendable (Batch) -> Void) {
            while true {
                added.wait()
                if let entry = take() {
                    process(entry.batch)
                    entry.done.signal()
                } else if entries.withLock({ $0.stopping }) {
                    return
                }
            }
        }

        func stop(threads: Int) {
            entries.withLock { $0.stopping = true }
            for _ in 0..<threads { added.signal() }
        }
    }

    public init(workers: Int, queued: Int = 0, label: String, process: @escaping @Sendable (Batch) -> Void) {
        capacity = max(1, workers) + max(0, queued)
        self.process = process
        threads = max(0, workers - 1)
        for index in 0..<threads {
            let waiting = self.waiting
            DispatchQueue(label: "\(label).\(index)").async(group: threadsDone) { waiting.serve(process) }
        }
    }

    deinit {
        // Dropped before `drain` (a delivery threw): batches no thread has taken are not processed;
        // the ones being processed are waited for, so no thread writes into a batch afterwards.
        while let entry = waiting.take() { entry.done.signal() }
        for entry in inFlight { entry.done.wait() }
        waiting.stop(threads: threads)
        threadsDone.wait()
    }

    /// Processes `batch`; `deliver` receives it (and, first, any older batch that is done) once
    /// processed. The caller must not touch `batch` until it is delivered.
    public func submit(_ batch: Batch, deliver: (Batch) throws -> Void) throws {
        guard threads > 0 else {
            process(batch)
            try deliver(batch)
            return
        }
        let entry = Entry(batch)
        inFlight.append(entry)
        waiting.add(entry)
        // Deliver what is done (its output written early, its batch free for reuse), then, when
        // the queue is full, wait for the oldest, helping with the waiting batches meanwhile.
        while try deliverOldest(deliver, waitingForIt: false) {}
        while inFlight.count > capacity { _ = try deliverOldest(deliver, waitingForIt: true) }
    }

    /// Waits for every batch in flight and delivers them in order.
    public func drain(deliver: (Batch) throws -> Void) throws {
        while try deliverOldest(deliver, waitingForIt: true) {}
    }

    /// Delivers the oldest batch in flight once it is processed (`waitingForIt`; else only if it
    /// already is). False when there was none to deliver. The batch leaves `inFlight` before
    /// `deliver` runs, so a delivery that throws leaves no consumed signal for `deinit` to wait on.
    private func deliverOldest(_ deliver: (Batch) throws -> Void, waitingForIt: Bool) throws -> Bool {
        guard let oldest = inFlight.first else { return false }
        if waitingForIt {
            finish(oldest)
        } else if oldest.done.wait(timeout: .now()) != .success {
            return false
        }
        inFlight.removeFirst()
        try deliver(oldest.batch)
        return true
    }

    /// Returns once `entry` is processed, processing waiting batches on this thread meanwhile.
    /// Consumes the entry's signal.
    private func finish(_ entry: Entry) {
        while entry.done.wait(timeout: .now()) != .success {
            guard let next = waiting.take() else {
                entry.done.wait()
                return
            }
            process(next.batch)
            next.done.signal()
        }
    }
}
