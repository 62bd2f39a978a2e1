import ArgumentParser
import Datasets
import DocumentStore
import Foundation
import Logging
import Pipeline

/// A job: an argument-parsing command whose work is `execute` (for a stage: build its options,
/// call its `run`), run under `JobRunner` (logging, summary line, exit status).
public protocol JobCommand: AsyncParsableCommand {
    static var jobName: String { get }
    var common: CommonOptions { get }
    func execute(_ context: JobContext) async throws -> JobSummary
}

extension JobCommand {
    public func run() async throws {
        let dataset = try Datasets.named(common.dataset)
        let (status, _) = await JobRunner.run(job: Self.jobName, options: common, datasetDirectory: Datasets.directory(of: dataset)) {
            try await execute($0)
        }
        if status != .ok { throw ExitCode(status.rawValue) }
    }
}

extension JobContext {
    /// The dataset `--dataset` names (known: `runJob` refuses another name before the job starts).
    var dataset: any Dataset {
        get throws { try Datasets.named(options.dataset) }
    }
}

/// Where MongoDB is: `--mongodb-uri`, else `MONGODB_URI`, else a local server on the default port.
public struct MongoOptions: ParsableArguments, Sendable {
    @Option(name: .long, help: "MongoDB connection string (default: $MONGODB_URI, else mongodb://127.0.0.1:27017/?directConnection=true).")
    public var mongodbUri: String?

    @Option(name: .long, help: "Database name (default: $MUSICETL_DB, else musicetl).")
    public var db: String?

    public init() {}

    /// These options as the configuration layer takes them, in `--help` order.
    public static let configurableArguments: [ConfigurableArgument] = [
        ConfigurableArgument(key: "mongodb-uri", isFlag: false),
        ConfigurableArgument(key: "db", isFlag: false),
    ]

    public var uri: String {
        mongodbUri ?? ProcessInfo.processInfo.environment["MONGODB_URI"] ?? MongoTarget.defaultURI
    }

    public var database: String {
        db ?? MongoTarget.databaseFromEnvironment
    }

    /// The server and database these flags (else the environment, else the defaults) name.
    public var target: MongoTarget { MongoTarget(uri: uri, database: database) }

    /// Connects and pings, so an absent server fails the job at once with exit 69.
    func connect(job: String, logger: Logger) throws -> MongoConnection {
        try target.connect(job: job, logger: logger)
    }
}

/// The body of every `Jobs/<name>/main.swift`. Called in a generic context so that Swift picks
/// `AsyncParsableCommand`'s asynchronous `main()`, not the synchronous one.
///
/// Before ArgumentParser parses, the configuration is merged into the argument list: each key
/// not given on the command line but set in a `MUSICETL_*` variable or the `--config` file is
/// appended as `--key=value` (see `Configuration`), so every `@Option` keeps its parsing and
/// validation. A bad file, an unknown key or a value of the wrong type exits 64 with one line.
public func runJob<Command: AsyncParsableCommand & ConfigurableCommand>(_ command: Command.Type) async {
    let arguments = Array(CommandLine.arguments.dropFirst())
    // Help, version and completion scripts need no configuration (and must work with a bad one).
    let plain: Set = ["--help", "-h", "help", "--version", "--experimental-dump-help"]
    if arguments.prefix(while: { $0 != "--" })
        .contains(where: { plain.contains($0) || $0.hasPrefix("--generate-completion-script") }) {
        await command.main(arguments)
        return
    }
    let job = command.configuration.commandName ?? "etl"
    let environment = ProcessInfo.processInfo.environment
    let resolution: Resolution
    do throws(ConfigurationError) {
        let configuration = try Configuration.load(arguments: arguments, environment: environment)
        try configuration.validate(jobs: JobCatalog.arguments)
        resolution = try configuration.resolve(arguments, for: command.configurableArguments,
                                               tables: [JobCatalog.table(of: command)],
                                               computedDefaults: JobCatalog.computedDefaults)
        ProcessConfiguration.current = configuration
    } catch {
        let json = Configuration.givenKeys(in: arguments).contains("log-format")
            ? arguments.contains("--log-format=json") || zip(arguments, arguments.dropFirst()).contains { $0 == ("--log-format", "json") }
            : environment["MUSICETL_LOG_FORMAT"] == "json"
        exitWithUsageError(job: job, message: error.message, json: json, usage: nil)
    }
    let json = resolution.setting("log-format")?.value == "json"
    let printConfig = Configuration.givenKeys(in: arguments).contains("print-config")
    // Shown even when the arguments do not parse: seeing what came from where is how one finds out why.
    if printConfig {
        print(resolution.rendered(job: job), terminator: "")
        if command == NightlyCommand.self { printStepConfigurations() }
    }

    var parsed: ParsableCommand
    do {
        parsed = try command.parseAsRoot(resolution.arguments)
    } catch {
        let code = command.exitCode(for: error)
        guard code == .validationFailure else { command.exit(withError: error) }
        if printConfig {
            let note = "\(job): note: a run with these values would fail: " + resolution.annotate(command.message(for: error))
            FileHandle.standardError.write(Data((note + "\n").utf8))
            command.exit()
        }
        let usage = "Usage: " + command.usageString() + "\n  See '\(job) --help' for more help."
        exitWithUsageError(job: job, message: resolution.annotate(command.message(for: error)), json: json, usage: usage)
    }
    // A dataset name is checked here, once for every job: the flag's value is free text to the
    // parser (the list of datasets lives above the runtime that parses it).
    if let dataset = resolution.setting("dataset")?.value, Datasets.all.allSatisfy({ $0.name != dataset }) {
        let message = resolution.annotate("--dataset \(dataset): no such dataset (known: \(Datasets.names.joined(separator: ", ")))")
        if printConfig {
            FileHandle.standardError.write(Data("\(job): note: a run with these values would fail: \(message)\n".utf8))
            command.exit()
        }
        exitWithUsageError(job: job, message: message, json: json,
                           usage: "Usage: " + command.usageString() + "\n  See '\(job) --help' for more help.")
    }
    if printConfig { command.exit() }
    // The job runs in a task that SIGTERM / SIGINT (or the nightly's lost lease) cancel (see `Interruption`).
    Interruption.install()
    let running = Task { [parsed] in
        var parsed = parsed
        if var asyncCommand = parsed as? AsyncParsableCommand {
            try await asyncCommand.run()
        } else {
            try parsed.run()
        }
    }
    Interruption.onStop { running.cancel() }
    do {
        try await running.value
    } catch {
        command.exit(withError: error)
    }
}

/// A usage or configuration error before the job starts: the usage text (text logs only), then
/// one summary line, the last on stderr, and exit 64.
private func exitWithUsageError(job: String, message: String, json: Bool, usage: String?) -> Never {
    let line = "\(job) \(ExitStatus.usage): \(message)"
    var text = ""
    if json {
        let object: [String: Any] = ["summary": line, "message": line, "level": "error", "job": job, "run_id": "",
                                     "status": "\(ExitStatus.usage)", "exit_code": Int(ExitStatus.usage.rawValue)]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        text = String(decoding: data, as: UTF8.self) + "\n"
    } else {
        if let usage { text = usage + "\n" }
        text += line + "\n"
    }
    FileHandle.standardError.write(Data(text.utf8))
    exit(ExitStatus.usage.rawValue)
}

/// `etl-nightly --print-config`: each step's own keys, as `[step]` tables.
private func printStepConfigurations() {
    guard let configuration = ProcessConfiguration.current else { return }
    let nightly = Set(NightlyCommand.configurableArguments.map(\.key)).union(["collection"])
    for command in JobCatalog.commands where command != NightlyCommand.self {
        let own = command.configurableArguments.filter { !nightly.contains($0.key) }
        guard let resolution = try? configuration.resolve([], for: own, tables: [JobCatalog.table(of: command), "nightly"],
                                                          computedDefaults: JobCatalog.computedDefaults)
        else { continue }
        print("\n[\(JobCatalog.table(of: command))]\n" + resolution.renderedSettings(), terminator: "")
    }
}

/// Every job's configurable arguments, by config-file table name (`etl-load` → `load`).
enum JobCatalog {
    static let commands: [any ConfigurableCommand.Type] = [
        ExtractCommand.self, FeaturesCommand.self, NormalizeCommand.self, LoadCommand.self, ExportCommand.self,
        NightlyCommand.self,
    ]

    static func table(of command: any ParsableCommand.Type) -> String {
        let name = command.configuration.commandName ?? ""
        return name.hasPrefix("etl-") ? String(name.dropFirst(4)) : name
    }

    /// `[nightly]` also takes any step's keys: they apply to its steps.
    static let arguments: [String: [ConfigurableArgument]] = {
        var catalog: [String: [ConfigurableArgument]] = [:]
        for command in commands { catalog[table(of: command)] = command.configurableArguments }
        var nightly = catalog["nightly"] ?? []
        for command in commands where table(of: command) != "nightly" {
            for argument in catalog[table(of: command)] ?? [] where !nightly.contains(where: { $0.key == argument.key }) {
                nightly.append(argument)
            }
        }
        catalog["nightly"] = nightly
        return catalog
    }()

    /// Defaults computed at run time, for `--print-config`.
    static var computedDefaults: [String: String] {
        ["mongodb-uri": MongoTarget.defaultURI, "db": MongoTarget.defaultDatabase,
         "jobs": String(max(1, ProcessInfo.processInfo.activeProcessorCount))]
    }
}
