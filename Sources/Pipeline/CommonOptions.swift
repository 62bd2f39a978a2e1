import ArgumentParser
import Foundation

/// The flags every job takes (README, "The jobs").
public struct CommonOptions: ParsableArguments, Sendable {
    @Option(name: .long, help: "Directory every job reads and writes under.")
    public var workDir: String = Self.defaultWorkDir

    @Flag(name: .long, help: "Read and validate everything, report what would be written, write nothing.")
    public var dryRun = false

    @Option(name: .long, help: "Only these ids (comma-separated).")
    public var only: String?

    @Flag(name: .long, help: "Recompute and rewrite even what looks unchanged.")
    public var force = false

    @Option(name: .long, help: "Log line format on stderr: text or json.")
    public var logFormat: LogFormat = .text

    @Flag(name: .long, help: "Only warnings, errors and the summary line.")
    public var quiet = false

    @Flag(name: .long, help: "Debug detail.")
    public var verbose = false

    @Option(name: .long, help: ArgumentHelp(
        "The dataset the job serves (fma, mssd): its input files, schemas (Schemas/<name>/ except fma's, at the root) and work dir (WORK/<name>/ except fma's, the root).",
        valueName: "name"))
    public var dataset: String = Self.defaultDataset

    @Option(name: .long, help: "The schemas directory (default: beside the executable, then /usr/share/musicetl/schemas; env MUSICETL_SCHEMAS).")
    public var schemas: String?

    @Option(name: .long, help: ArgumentHelp(
        "Config file (TOML): keys are the long flag names, [job] tables override the top level (default: $MUSICETL_CONFIG).",
        valueName: "file"))
    public var config: String?

    @Option(name: .long, help: ArgumentHelp(
        "This host's name in the work-dir lock, the MongoDB lease and the run ledger (default: the host name; set it where host names are not unique, e.g. containers).",
        valueName: "id"))
    public var hostId: String?

    @Flag(name: .long, help: "Print the effective configuration (flags > MUSICETL_* environment > config file > defaults) with each value's source, then exit.")
    public var printConfig = false

    public init() {}

    public static let defaultWorkDir = "./work"
    public static let defaultDataset = "fma"

    /// These options as the configuration layer takes them, in `--help` order.
    public static let configurableArguments: [ConfigurableArgument] = [
        ConfigurableArgument(key: "work-dir", isFlag: false, defaultValue: defaultWorkDir),
        ConfigurableArgument(key: "dry-run", isFlag: true),
        ConfigurableArgument(key: "only", isFlag: false),
        ConfigurableArgument(key: "force", isFlag: true),
        ConfigurableArgument(key: "log-format", isFlag: false, defaultValue: LogFormat.text.rawValue,
                             allowedValues: LogFormat.allCases.map(\.rawValue)),
        ConfigurableArgument(key: "quiet", isFlag: true),
        ConfigurableArgument(key: "verbose", isFlag: true),
        ConfigurableArgument(key: "dataset", isFlag: false, defaultValue: defaultDataset),
        ConfigurableArgument(key: "schemas", isFlag: false),
        ConfigurableArgument(key: "config", isFlag: false),
        ConfigurableArgument(key: "host-id", isFlag: false),
        ConfigurableArgument(key: "print-config", isFlag: true),
    ]

    /// `--host-id`, else the host name.
    public var host: String { hostId ?? ProcessInfo.processInfo.hostName }

    /// `--only` as a set of ids; nil when every id is wanted.
    public var onlyIDs: Set<String>? {
        guard let only else { return nil }
        return Set(only.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
    }

    /// `--only` as track ids compare: integers as numbers (`000002` → `2`), paths as given.
    public var onlyTrackIDs: Set<String>? { onlyIDs.map(OnlyIDs.normalized) }

    /// `--only` as integer track ids (the metadata's); an id that is not an integer selects nothing.
    public var onlyIntegerIDs: Set<Int64>? { onlyIDs.map { Set($0.compactMap { Int64($0) }) } }

    public func validate() throws {
        if quiet && verbose { throw ValidationError("--quiet and --verbose exclude each other") }
        if let hostId, hostId.isEmpty || hostId.contains(where: \.isWhitespace) {
            throw ValidationError("--host-id must be one word")
        }
        if let ids = onlyIDs, ids.isEmpty { throw ValidationError("--only needs at least one id") }
    }
}

extension LogFormat: ExpressibleByArgument {}

