import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// SIGTERM and SIGINT: a job stops cleanly instead of dying where it stands. The nightly's lease
/// lost to another holder stops it the same way (`stop`), with its own status and message.
///
/// The first signal cancels the job's task (cancellation reaches every child task: the lease
/// renewer, the features workers) and the steps stop at their next batch boundary
/// (`Task.checkCancellation`: features between files, load between bulk writes; the nightly between
/// steps); each running job then writes its ledger entry with status `interrupted` and its summary
/// line, the nightly releases its MongoDB lease, and the process exits 143 (SIGTERM) or 130 (SIGINT).
/// A step still running `gracePeriod` seconds after the signal (a long blocking call, a step without
/// batch boundaries), or a second signal, abandons the run: the same entries and summary lines are
/// written from here, the leases released, and the process exits. Abandoning is safe because every
/// staged file is replaced by a rename and every load is idempotent; the work-dir lock goes with
/// the process.
public enum Interruption {
    /// Seconds a job has after the signal (or `stop`) to reach a batch boundary.
    public static let gracePeriod: Double = 10

    /// A job run in progress: how to record it as interrupted if it is abandoned.
    struct ActiveRun: Sendable {
        var id: Int
        var abandon: @Sendable (JobError) -> Void
    }

    /// Why the run stops: the error every job still running reports, and the signal, if one did it.
    struct Stop: Sendable {
        var error: JobError
        var signal: Int32?
    }

    struct State: Sendable {
        /// Nil while the run may go on; the first reason only (a later one abandons, or is moot).
        var stop: Stop?
        var cancel: [@Sendable () -> Void] = []
        var runs: [ActiveRun] = []
        var nextRunID = 0
        var leases: [ObjectIdentifier: Lease] = [:]
        var abandoning = false
    }

    private static let state = Mutex(State())
    private static let queue = DispatchQueue(label: "musicetl.signals")
    /// The write end of the pipe the signal handler reports to (-1 until `install`).
    private static let wakeup = Atomic<Int32>(-1)

    /// Takes over SIGTERM and SIGINT for this process (once), and ignores SIGPIPE. The handler is
    /// in place when this returns, so no signal finds the default action (death). It only writes
    /// the signal number to a pipe (async-signal-safe); a thread reading the pipe does the rest.
    public static func install() {
        guard wakeup.load(ordering: .acquiring) < 0 else { return }
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { return }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        guard wakeup.compareExchange(expected: -1, desired: ends[1], ordering: .acquiringAndReleasing).exchanged else {
            close(ends[0]); close(ends[1])
            return
        }
        let input = ends[0]
        Thread.detachNewThread {
            var number: UInt8 = 0
            while true {
                let count = read(input, &number, 1)
                if count < 0 && errno == EINTR { continue }
                guard count == 1 else { return }
                received(Int32(number))
            }
        }
        for number in [SIGTERM, SIGINT] { handle(number) }
        // A reader that goes away (`etl-export --out - | head`, a log piped to a pager that quits)
        // makes writes fail with EPIPE, which the job reports and ends on with its summary line,
        // instead of killing it where it stands (exit 141, no summary, temporaries left behind).
        ignoreBrokenPipes()
    }

    /// Reports `number` to the pipe from inside the signal handler.
    fileprivate static func report(_ number: Int32) {
        var byte = UInt8(truncatingIfNeeded: number)
        _ = write(wakeup.load(ordering: .relaxed), &byte, 1)
    }

    /// Calls `cancel` when the run is to stop (at once when it already is).
    public static func onStop(_ cancel: @escaping @Sendable () -> Void) {
        let already = state.withLock { state -> Bool in
            state.cancel.append(cancel)
            return state.stop != nil
        }
        if already { cancel() }
    }

    /// "SIGTERM", "SIGINT".
    public static func name(of signal: Int32) -> String {
        switch signal {
        case SIGTERM: "SIGTERM"
        case SIGINT: "SIGINT"
        default: "signal \(signal)"
        }
    }

    /// The error a run that is stopping reports (nil while it may go on), `doing` appended.
    public static func error(while doing: String? = nil) -> JobError? {
        guard let stop = state.withLock({ $0.stop }) else { return nil }
        return JobError(stop.error.status, stop.error.message + (doing.map { " " + $0 } ?? ""))
    }

    /// Stops the run as a first signal does, for a reason of its own (the nightly's MongoDB lease
    /// now another's): the running steps stop at their next batch boundary and report `error`, or
    /// are abandoned with it after the grace period. Nothing when the run is stopping already.
    public static func stop(_ error: JobError) {
        startStopping(Stop(error: error, signal: nil))
    }

    static func received(_ number: Int32) {
        let status: ExitStatus = number == SIGINT ? .interrupted : .terminated
        if let earlier = startStopping(Stop(error: JobError(status, "received \(name(of: number))"), signal: number)) {
            abandon(after: earlier.signal == nil ? "receiving \(name(of: number))" : "a second signal")
        }
    }

    /// Records `stop` as the reason and cancels the run; when it is stopping already, changes
    /// nothing and returns the earlier reason.
    @discardableResult
    private static func startStopping(_ stop: Stop) -> Stop? {
        let (earlier, cancel) = state.withLock { state -> (Stop?, [@Sendable () -> Void]) in
            if let earlier = state.stop { return (earlier, []) }
            state.stop = stop
            return (nil, state.cancel)
        }
        if let earlier { return earlier }
        cancel.forEach { $0() }
        queue.asyncAfter(deadline: .now() + gracePeriod) {
            abandon(after: String(format: "%.0f s without reaching a batch boundary", gracePeriod))
        }
        return nil
    }

    /// Records every running job as stopped (innermost first, so the outermost summary is the
    /// last line), releases the leases and exits.
    static func abandon(after reason: String) {
        let taken = state.withLock { state -> (runs: [ActiveRun], leases: [Lease], stop: Stop)? in
            if state.abandoning { return nil }
            state.abandoning = true
            let stop = state.stop ?? Stop(error: JobError(.terminated, "received SIGTERM"), signal: SIGTERM)
            return (state.runs.reversed(), Array(state.leases.values), stop)
        }
        guard let taken else { return }
        let error = JobError(taken.stop.error.status, "\(taken.stop.error.message); abandoned after \(reason)")
        for run in taken.runs { run.abandon(error) }
        for lease in taken.leases { lease.release() }
        // `_exit`, not `exit`: the job's task and worker threads are still running, and exit's
        // atexit handlers and static destructors would run under them. The summary and the
        // ledger entry are written; only the C streams need flushing.
        fflush(nil)
        _exit(error.status.rawValue)
    }

    /// Registers a running job; returns the id to end it with.
    static func begin(abandon: @escaping @Sendable (JobError) -> Void) -> Int {
        state.withLock { state in
            state.nextRunID += 1
            state.runs.append(ActiveRun(id: state.nextRunID, abandon: abandon))
            return state.nextRunID
        }
    }

    static func end(_ id: Int) {
        state.withLock { $0.runs.removeAll { $0.id == id } }
    }

    static func hold(_ lease: Lease) {
        state.withLock { $0.leases[ObjectIdentifier(lease)] = lease }
    }

    static func drop(_ lease: Lease) {
        state.withLock { $0.leases[ObjectIdentifier(lease)] = nil }
    }
}

/// Installs the handler (glibc's `signal` keeps it installed and restarts interrupted calls).
private func handle(_ number: Int32) {
    _ = signal(number) { Interruption.report($0) }
}

/// SIGPIPE ignored for the process: writes to a pipe without a reader fail with EPIPE instead.
/// At file scope, where `signal` is the C function.
private func ignoreBrokenPipes() {
    _ = signal(SIGPIPE, SIG_IGN)
}
