import ArgumentParser
import DocumentStore
import Foundation
import Synchronization

/// One long option or flag of a command, as the configuration layer sees it. Each options type
/// declares its own (`CommonOptions.configurableArguments`, the commands' lists), and a test
/// checks every command's list against its `--help`.
public struct ConfigurableArgument: Sendable, Equatable {
    /// The long name, without dashes: `work-dir`.
    public var key: String
    /// A boolean `@Flag` (no value on the command line).
    public var isFlag: Bool
    /// The default as ArgumentParser prints it, nil when the option has none (an optional).
    public var defaultValue: String?
    /// The values an enumerated option accepts (`text`, `json`).
    public var allowedValues: [String]?

    public init(key: String, isFlag: Bool, defaultValue: String? = nil, allowedValues: [String]? = nil) {
        self.key = key
        self.isFlag = isFlag
        self.defaultValue = defaultValue
        self.allowedValues = allowedValues
    }

    enum ValueKind { case boolean, integer, number, string, any }

    /// What a value must look like, from the flag kind and the default's shape.
    var valueKind: ValueKind {
        if isFlag { return .boolean }
        guard let defaultValue else { return .any }
        if Int(defaultValue) != nil { return .integer }
        if Double(defaultValue) != nil { return .number }
        return .string
    }
}

/// Where an effective value came from.
public enum SettingSource: Sendable, Equatable, CustomStringConvertible {
    case flag
    case environment(String)
    case file(path: String, line: Int, table: String?)
    case `default`

    public var description: String {
        switch self {
        case .flag: "flag"
        case .environment(let name): "env \(name)"
        case .file(let path, let line, let table): "file \(path):\(line)" + (table.map { " [\($0)]" } ?? "")
        case .default: "default"
        }
    }
}

/// One key's effective value and its source.
public struct Setting: Sendable, Equatable {
    public var argument: ConfigurableArgument
    /// nil: not set anywhere and no default.
    public var value: String?
    public var source: SettingSource
    public var key: String { argument.key }
}

/// Configuration for a job: command-line flags, then `MUSICETL_*` environment variables, then
/// the `--config` file (a `[job]` table before the top level), then the built-in defaults.
///
/// It works on the argument list before ArgumentParser sees it: every key not given on the
/// command line but set in the environment or the file is appended as `--key=value`, so each
/// `@Option` and its validation stay exactly as they are.
public struct Configuration: Sendable {
    public var file: ConfigurationFile?
    /// How the file was named (`--config`, `MUSICETL_CONFIG`), for `--print-config`.
    public var fileOrigin: String?
    public var environment: [String: String]

    /// Keys chosen for one run only: never taken from the environment or the file (a stray
    /// `MUSICETL_FORCE=1` in a crontab must not recompute every night).
    public static let perRunKeys: Set<String> = ["config", "print-config", "only", "from", "dry-run", "force"]
    /// `MUSICETL_*` variables that are no key: the config file's path (read by `load`), and those
    /// of the scripts and tests (`Jobs/package.sh`, `Jobs/install.sh`, `Jobs/local-mongo.sh`, the
    /// export check's size), which a job started from them inherits.
    public static let variablesOtherThanKeys: Set<String> = [
        "MUSICETL_CONFIG", "MUSICETL_VERSION", "MUSICETL_MONGO_VENV", "MUSICETL_TRAIN_CHECK_ROWS",
    ]
    /// Keys of which the command line gives at most one: given one, the others are not filled in.
    public static let exclusiveKeys: [Set<String>] = [["quiet", "verbose"]]

    public init(file: ConfigurationFile?, fileOrigin: String? = nil, environment: [String: String]) {
        self.file = file
        self.fileOrigin = fileOrigin
        self.environment = environment
    }

    /// Finds and reads the config file: `--config PATH` on the command line, else `MUSICETL_CONFIG`.
    public static func load(arguments: [String], environment: [String: String]) throws(ConfigurationError) -> Configuration {
        var path: String?
        var origin: String?
        var index = 0
        while index < arguments.count, arguments[index] != "--" {
            let argument = arguments[index]
            if argument == "--config" {
                guard index + 1 < arguments.count else { throw ConfigurationError("--config needs a file path") }
                path = arguments[index + 1]
                origin = "--config"
                index += 1
            } else if argument.hasPrefix("--config=") {
                path = String(argument.dropFirst("--config=".count))
                origin = "--config"
            }
            index += 1
        }
        if path == nil, let fromEnvironment = environment["MUSICETL_CONFIG"], !fromEnvironment.isEmpty {
            path = fromEnvironment
            origin = "env MUSICETL_CONFIG"
        }
        let file = try path.map { (path: String) throws(ConfigurationError) in try ConfigurationFile(path: path) }
        return Configuration(file: file, fileOrigin: origin, environment: environment)
    }

    /// The environment variables for a key, first found wins: `MUSICETL_WORK_DIR`; the MongoDB
    /// URI also from the conventional `MONGODB_URI`.
    public static func environmentNames(for key: String) -> [String] {
        let name = "MUSICETL_" + key.uppercased().replacingOccurrences(of: "-", with: "_")
        return key == "mongodb-uri" ? [name, "MONGODB_URI"] : [name]
    }

    /// Checks every `MUSICETL_*` variable and every key of the file against the jobs that could
    /// use it, as strictly as each other: `jobs` maps a table name (`load`) to the arguments it
    /// accepts; variables and top-level keys may belong to any job. An empty variable counts as
    /// unset (as in `resolve`). `jobs` is only evaluated when there is something to check:
    /// describing every job's arguments took 13 ms of each job's start.
    public func validate(jobs: @autoclosure () -> [String: [ConfigurableArgument]]) throws(ConfigurationError) {
        let variables = environment.filter { name, value in
            name.hasPrefix("MUSICETL_") && !value.isEmpty && !Self.variablesOtherThanKeys.contains(name)
        }.keys.sorted()
        guard file != nil || !variables.isEmpty else { return }
        let jobs = jobs()
        let everything = jobs.values.flatMap { $0 }
        let knownKeys = Set(everything.map(\.key))
        for name in variables {
            let key = name.dropFirst("MUSICETL_".count).lowercased().replacingOccurrences(of: "_", with: "-")
            if Self.perRunKeys.contains(key) {
                throw ConfigurationError("\(name): \(key) is chosen per run: give --\(key) on the command line")
            }
            // The name as `resolve` reads it: MUSICETL_work_dir would be ignored there.
            guard knownKeys.contains(key), name == Self.environmentNames(for: key)[0] else {
                let nearest = knownKeys.contains(key) ? key : Self.closest(to: key, in: knownKeys.subtracting(Self.perRunKeys))
                let hint = nearest.map { "; did you mean \(Self.environmentNames(for: $0)[0])?" } ?? ""
                throw ConfigurationError("\(name) is not a setting of any job\(hint)")
            }
        }
        guard let file else { return }
        func check(_ entries: [String: ConfigurationFile.Entry], against arguments: [ConfigurableArgument],
                   table: String?) throws(ConfigurationError) {
            for (key, entry) in entries.sorted(by: { $0.value.line < $1.value.line }) {
                let place = "\(file.path):\(entry.line)"
                if Self.perRunKeys.contains(key), everything.contains(where: { $0.key == key }) || key == "config" {
                    throw ConfigurationError("\(place): \(key) is chosen per run: give --\(key) on the command line")
                }
                guard let argument = arguments.first(where: { $0.key == key }) else {
                    let scope = table.map { "[\($0)] (etl-\($0))" } ?? "any job"
                    let known = Set(arguments.map(\.key)).subtracting(Self.perRunKeys)
                    let hint = Self.closest(to: key, in: known).map { "; did you mean \($0)?" } ?? ""
                    throw ConfigurationError("\(place): unknown key \(key) for \(scope)\(hint)")
                }
                try Self.check(entry.value, for: argument, at: place)
            }
        }
        try check(file.topLevel, against: everything, table: nil)
        for (table, entries) in file.tables.sorted(by: { (file.tableLines[$0.key] ?? 0) < (file.tableLines[$1.key] ?? 0) }) {
            guard let arguments = jobs[table] else {
                throw ConfigurationError("\(file.path):\(file.tableLines[table] ?? 0): unknown table [\(table)]; tables are "
                    + jobs.keys.sorted().map { "[\($0)]" }.joined(separator: ", "))
            }
            try check(entries, against: arguments, table: table)
        }
    }

    /// The arguments to parse (`arguments` plus `--key=value` for what the environment and the
    /// file set) and every key's effective value and source. `tables` are the file's tables to
    /// look in before the top level, most specific first (`["load"]`, or `["load", "nightly"]`
    /// for the load step of a nightly run).
    public func resolve(_ arguments: [String], for accepted: [ConfigurableArgument], tables: [String],
                        computedDefaults: [String: String] = [:]) throws(ConfigurationError) -> Resolution {
        let given = Self.givenKeys(in: arguments)
        var merged = arguments
        var settings: [Setting] = []
        for argument in accepted where argument.key != "config" && argument.key != "print-config" {
            let key = argument.key
            if given.contains(key) {
                settings.append(Setting(argument: argument, value: Self.commandLineValue(of: argument, in: arguments),
                                        source: .flag))
                continue
            }
            let excluded = Self.perRunKeys.contains(key)
                || Self.exclusiveKeys.contains { $0.contains(key) && !$0.intersection(given).isEmpty }
            var found: (value: String, source: SettingSource)?
            if !excluded {
                found = try environmentValue(for: argument)
                if found == nil { found = try fileValue(for: argument, tables: tables) }
            }
            if let found {
                if argument.isFlag {
                    if found.value == "true" { merged.append("--\(key)") }
                } else {
                    merged.append("--\(key)=\(found.value)")
                }
                settings.append(Setting(argument: argument, value: found.value, source: found.source))
            } else {
                let fallback = argument.isFlag ? (argument.defaultValue ?? "false") : argument.defaultValue ?? computedDefaults[key]
                settings.append(Setting(argument: argument, value: fallback, source: .default))
            }
        }
        return Resolution(arguments: merged, settings: settings, configuration: self)
    }

    private func environmentValue(for argument: ConfigurableArgument) throws(ConfigurationError) -> (value: String, source: SettingSource)? {
        for name in Self.environmentNames(for: argument.key) {
            guard let text = environment[name], !text.isEmpty else { continue }
            let value: String
            if argument.isFlag {
                switch text.lowercased() {
                case "1", "true", "yes", "on": value = "true"
                case "0", "false", "no", "off": value = "false"
                default: throw ConfigurationError("\(name)=\(text): expected true or false (1/0, yes/no)")
                }
            } else {
                value = text
                try Self.check(.string(text), for: argument, at: name, fromEnvironment: true)
            }
            return (value, .environment(name))
        }
        return nil
    }

    private func fileValue(for argument: ConfigurableArgument, tables: [String]) throws(ConfigurationError) -> (value: String, source: SettingSource)? {
        guard let file else { return nil }
        for table in tables {
            if let entry = file.tables[table]?[argument.key] {
                try Self.check(entry.value, for: argument, at: "\(file.path):\(entry.line)")
                return (entry.value.argumentText, .file(path: file.path, line: entry.line, table: table))
            }
        }
        if let entry = file.topLevel[argument.key] {
            try Self.check(entry.value, for: argument, at: "\(file.path):\(entry.line)")
            return (entry.value.argumentText, .file(path: file.path, line: entry.line, table: nil))
        }
        return nil
    }

    /// Refuses a value of the wrong type for the argument, naming where it came from.
    static func check(_ value: ConfigurationFile.Value, for argument: ConfigurableArgument, at place: String,
                      fromEnvironment: Bool = false) throws(ConfigurationError) {
        let key = argument.key
        let shown: String
        if case .string(let text) = value { shown = "\"\(text.prefix(40))\"" } else { shown = value.argumentText }
        func wrong(_ expected: String) -> ConfigurationError {
            ConfigurationError(fromEnvironment ? "\(place)=\(value.argumentText.prefix(40)): expected \(expected)"
                                              : "\(place): \(key) must be \(expected), not \(value.typeName) (\(shown))")
        }
        switch (argument.valueKind, value) {
        case (.boolean, .boolean), (.string, .string), (.any, .string), (.any, .integer), (.any, .float),
             (.integer, .integer), (.number, .integer), (.number, .float):
            break
        case (.integer, .string(let text)) where fromEnvironment && Int(text) != nil:
            break
        case (.number, .string(let text)) where fromEnvironment && Double(text) != nil:
            break
        case (.boolean, _): throw wrong("true or false")
        case (.integer, _): throw wrong("an integer")
        case (.number, _): throw wrong("a number")
        case (.string, _): throw wrong("a string in quotes")
        case (.any, _): throw wrong("a string or a number")
        }
        if let allowed = argument.allowedValues, !allowed.isEmpty, !allowed.contains(value.argumentText) {
            let choices = allowed.joined(separator: ", ")
            throw ConfigurationError(fromEnvironment ? "\(place)=\(value.argumentText.prefix(40)): expected one of \(choices)"
                                                    : "\(place): \(key) must be one of \(choices), not \(shown)")
        }
    }

    /// The long names given on the command line (up to a `--` terminator).
    public static func givenKeys(in arguments: [String]) -> Set<String> {
        var keys: Set<String> = []
        for argument in arguments {
            if argument == "--" { break }
            guard argument.hasPrefix("--") else { continue }
            keys.insert(String(argument.dropFirst(2).prefix { $0 != "=" }))
        }
        return keys
    }

    static func commandLineValue(of argument: ConfigurableArgument, in arguments: [String]) -> String? {
        if argument.isFlag { return "true" }
        var value: String?
        for (index, text) in arguments.enumerated() {
            if text == "--" { break }
            if text == "--\(argument.key)", index + 1 < arguments.count { value = arguments[index + 1] }
            if text.hasPrefix("--\(argument.key)=") { value = String(text.dropFirst(argument.key.count + 3)) }
        }
        return value
    }

    /// The known key nearest to a misspelt one (edit distance ≤ 2).
    static func closest(to key: String, in known: Set<String>) -> String? {
        func distance(_ a: [Character], _ b: [Character]) -> Int {
            if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
            var previous = Array(0...b.count)
            for i in 1...a.count {
                var current = [i] + Array(repeating: 0, count: b.count)
                for j in 1...b.count {
                    current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                }
                previous = current
            }
            return previous[b.count]
        }
        let scored = known.map { ($0, distance(Array(key), Array($0))) }.filter { $0.1 <= 2 }
        return scored.min { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }?.0
    }
}

/// The outcome of `Configuration.resolve`.
public struct Resolution: Sendable {
    /// The argument list for ArgumentParser.
    public var arguments: [String]
    public var settings: [Setting]
    let configuration: Configuration

    public func setting(_ key: String) -> Setting? { settings.first { $0.key == key } }

    /// `--print-config`: one `key = value  # source` line per key, valid TOML (unset keys are
    /// comments), with MongoDB passwords redacted.
    public func rendered(job: String) -> String {
        var lines = ["# \(job): effective configuration (flag > environment > config file > default)"]
        if let file = configuration.file {
            lines.append("# config file: \(file.path) (\(configuration.fileOrigin ?? "--config"))")
        } else {
            lines.append("# config file: none (--config FILE or MUSICETL_CONFIG)")
        }
        return MongoConnection.redactSecrets(in: lines.joined(separator: "\n")) + "\n" + renderedSettings()
    }

    /// The `key = value  # source` lines alone.
    public func renderedSettings() -> String {
        var lines: [String] = []
        let body = settings.map { setting -> (String, String) in
            guard let value = setting.value else { return ("# \(setting.key) is not set", "\(setting.source)") }
            return ("\(setting.key) = \(Self.literal(value, for: setting.argument))", "\(setting.source)")
        }
        let width = min(40, body.map(\.0.count).max() ?? 0)
        for (assignment, source) in body {
            lines.append(assignment.padding(toLength: max(width, assignment.count), withPad: " ", startingAt: 0) + "  # " + source)
        }
        return MongoConnection.redactSecrets(in: lines.joined(separator: "\n")) + "\n"
    }

    /// A value as TOML: booleans and numbers bare, the rest quoted.
    static func literal(_ value: String, for argument: ConfigurableArgument) -> String {
        switch argument.valueKind {
        case .boolean: return value
        case .integer where Int(value) != nil, .number where Double(value) != nil: return value
        case .any where Double(value) != nil && value.allSatisfy({ $0.isNumber || "-.eE+".contains($0) }): return value
        default:
            var escaped = ""
            for scalar in value.unicodeScalars {
                switch scalar {
                case "\"": escaped += "\\\""
                case "\\": escaped += "\\\\"
                case "\n": escaped += "\\n"
                case "\t": escaped += "\\t"
                case _ where scalar.value < 0x20: escaped += String(format: "\\u%04X", scalar.value)
                default: escaped.unicodeScalars.append(scalar)
                }
            }
            return "\"\(escaped)\""
        }
    }

    /// A parse or validation message about a value that came from the environment or the file,
    /// with that origin appended: `… (batch-size from musicetl.toml:3 [load])`.
    public func annotate(_ message: String) -> String {
        for setting in settings {
            switch setting.source {
            case .environment, .file:
                let flag = "--\(setting.key)"
                var rest = Substring(message)
                while let range = rest.range(of: flag) {
                    let after = rest[range.upperBound...].first
                    if after == nil || !(after!.isLetter || after!.isNumber || after! == "-") {
                        return message + " (\(setting.key) from \(setting.source))"
                    }
                    rest = rest[range.upperBound...]
                }
            case .flag, .default:
                continue
            }
        }
        return message
    }
}

/// The configuration of the running process, so the stages `etl-nightly` runs get their keys
/// from the same environment and file.
public enum ProcessConfiguration {
    private static let stored = Mutex<Configuration?>(nil)

    public static var current: Configuration? {
        get { stored.withLock { $0 } }
        set { stored.withLock { $0 = newValue } }
    }
}
