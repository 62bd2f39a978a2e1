import DocumentStore
import Foundation

/// The MongoDB server the tests use: `MONGODB_URI` when set (a real MongoDB works), otherwise the
/// local MongoDB-compatible server, started once per test process by `Jobs/local-mongo.sh` and
/// stopped by it when this process exits (its watchdog follows our pid).
public enum TestServer {
    public static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    private static let started: Result<String, TestServerError> = {
        if let uri = ProcessInfo.processInfo.environment["MONGODB_URI"], !uri.isEmpty { return .success(uri) }
        return Result { () throws(TestServerError) in try launch() }
    }()

    /// The server's URI; the first call starts the local server (about a second).
    public static func uri() throws -> String {
        try started.get()
    }

    /// A fresh database name per test, so tests never see each other's documents.
    public static func uniqueDatabaseName(_ prefix: String = "musicetl_test") -> String {
        prefix + "_" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
    }

    public static func connection() throws -> MongoConnection {
        try MongoConnection(uri: uri(), appName: "musicetl-tests")
    }

    /// Drops a test database (best effort: the server may be gone in a failure test).
    public static func dropDatabase(_ name: String) {
        guard let client = try? connection().client() else { return }
        _ = try? client.runCommand(["dropDatabase": 1], database: name, idempotent: true)
    }

    private static func launch() throws(TestServerError) -> String {
        let stateDirectory = FileManager.default.temporaryDirectory
            .appendingPathComponent("musicetl-test-server-\(getpid())").path
        // posix_spawn + waitpid rather than Foundation.Process: the script leaves the server and its
        // watchdog running, and Process.waitUntilExit was seen to hang on such a child here.
        let arguments = ["/bin/bash", packageRoot.appendingPathComponent("Jobs/local-mongo.sh").path, "start",
                         "--state-dir", stateDirectory, "--watch-pid", String(getpid())]
        let status = try spawnAndWait(arguments)
        let uri = ((try? String(contentsOfFile: stateDirectory + "/uri", encoding: .utf8)) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard status == 0, uri.hasPrefix("mongodb://") else {
            throw TestServerError(message: "Jobs/local-mongo.sh start failed (status \(status)); see \(stateDirectory)/server.log")
        }
        return uri
    }
}

/// A server of one test's own (for tests that stop or kill it), stopped when the value goes away.
public final class PrivateTestServer {
    public let uri: String
    public let pid: pid_t
    private let stateDirectory: String

    /// Starts a server; with `storage`, its data lives in that directory and survives a restart.
    public init(storage: String? = nil, port: Int? = nil) throws {
        let stateDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("musicetl-private-\(UUID().uuidString)").path
        self.stateDirectory = stateDirectory
        var arguments = ["/bin/bash", TestServer.packageRoot.appendingPathComponent("Jobs/local-mongo.sh").path, "start",
                         "--state-dir", stateDirectory, "--watch-pid", String(getpid())]
        if let storage { arguments += ["--storage", storage] }
        if let port { arguments += ["--port", String(port)] }
        let status = try spawnAndWait(arguments)
        let read = { (name: String) in
            ((try? String(contentsOfFile: stateDirectory + "/" + name, encoding: .utf8)) ?? "")
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard status == 0, let pid = pid_t(read("pid")) else {
            throw TestServerError(message: "private server did not start (status \(status)); see \(stateDirectory)/server.log")
        }
        uri = read("uri")
        self.pid = pid
    }

    /// The port the server listens on.
    public var port: Int { Int(uri.split(separator: ":").last?.prefix(while: \.isNumber) ?? "") ?? 0 }

    /// SIGKILL, as a crash would; waits until the process is gone.
    public func kill() {
        _ = Glibc.kill(pid, SIGKILL)
        for _ in 0..<100 where Glibc.kill(pid, 0) == 0 { usleep(50_000) }
    }

    deinit {
        kill()
        try? FileManager.default.removeItem(atPath: stateDirectory)
    }
}

/// Runs a command with stdin and stdout on /dev/null (stderr inherited) and returns its exit status.
private func spawnAndWait(_ arguments: [String]) throws(TestServerError) -> Int32 {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    let argv = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, arguments[0], &actions, nil, argv, environ)
    guard spawned == 0 else {
        throw TestServerError(message: "cannot run \(arguments.joined(separator: " ")): \(String(cString: strerror(spawned)))")
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    // WIFEXITED / WEXITSTATUS are macros Swift cannot import.
    return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
}

public struct TestServerError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// The job executables built next to the test bundle, run as a user would run them.
public enum JobProcess {
    public struct Outcome: Sendable {
        public var status: Int32
        public var standardOutput: String
        public var standardError: String
        public var seconds: Double
        /// The last line on stderr: every job ends with its one-line summary.
        public var lastLine: String {
            standardError.split(separator: "\n").last.map(String.init) ?? ""
        }
    }

    public static var productsDirectory: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    }

    public static func run(_ job: String, _ arguments: [String], environment: [String: String] = [:]) throws -> Outcome {
        try start(job, arguments, environment: environment).wait()
    }

    /// Starts a job without waiting for it.
    public static func start(_ job: String, _ arguments: [String], environment: [String: String] = [:]) throws -> Running {
        let process = Process()
        process.executableURL = productsDirectory.appendingPathComponent(job)
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment
        environment.forEach { merged[$0.key] = $0.value }
        merged["MUSICETL_SCHEMAS"] = TestServer.packageRoot.appendingPathComponent("Schemas").path
        // libmongoc's load-time shared-memory counters: tests kill jobs, which leaves their
        // /dev/shm/mongoc-<pid> behind, and a later job given the same pid then warns on stderr.
        merged["MONGOC_DISABLE_SHM"] = "1"
        process.environment = merged
        // Both streams go to files: reading two pipes in turn can deadlock when one fills up.
        let scratch = TemporaryDirectory()
        let outputURL = scratch.url.appendingPathComponent("stdout"), errorURL = scratch.url.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: outputURL)
        process.standardError = try FileHandle(forWritingTo: errorURL)
        process.standardInput = FileHandle.nullDevice
        let running = Running(process: process, scratch: scratch, outputURL: outputURL, errorURL: errorURL)
        try process.run()
        return running
    }

    public final class Running {
        let process: Process
        let scratch: TemporaryDirectory
        let outputURL: URL, errorURL: URL
        let start = Date()

        init(process: Process, scratch: TemporaryDirectory, outputURL: URL, errorURL: URL) {
            self.process = process
            self.scratch = scratch
            self.outputURL = outputURL
            self.errorURL = errorURL
        }

        public var pid: Int32 { process.processIdentifier }

        public func wait() -> Outcome {
            process.waitUntilExit()
            return Outcome(status: process.terminationStatus,
                           standardOutput: (try? String(contentsOf: outputURL, encoding: .utf8)) ?? "",
                           standardError: (try? String(contentsOf: errorURL, encoding: .utf8)) ?? "",
                           seconds: Date().timeIntervalSince(start))
        }
    }
}

/// A scratch directory removed when the value goes away.
public final class TemporaryDirectory {
    public let url: URL
    public var path: String { url.path }

    public init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("musicetl-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}
