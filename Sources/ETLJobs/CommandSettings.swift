import ArgumentParser
import Pipeline

/// A command whose long options the configuration layer (flags > environment > file) knows:
/// `configurableArguments` lists them in `--help` order, declared beside the flags and checked
/// against `--help` by a test, so no option is configurable by accident or missing.
public protocol ConfigurableCommand: ParsableCommand {
    static var configurableArguments: [ConfigurableArgument] { get }
}

/// A command that runs one stage: its flags build the stage's options (`options`), and
/// `stageSettings` says which of those options the configuration may set and where each goes,
/// so `etl-nightly` gives a stage its configured values without parsing a command line.
public protocol StageCommand: JobCommand, ConfigurableCommand {
    associatedtype Options
    static var stageSettings: [StageSetting<Options>] { get }
}

/// One option of a stage's options that the configuration may set.
public struct StageSetting<Options> {
    public let argument: ConfigurableArgument
    /// Sets the option from its text; false when the text is not a value of the option's type.
    let apply: (inout Options, String) -> Bool

    /// An option with a default: the default is the options struct's (`defaults`).
    static func option<Value: ExpressibleByArgument>(_ key: String, _ path: WritableKeyPath<Options, Value>,
                                                     default defaults: Options) -> StageSetting {
        StageSetting(argument: ConfigurableArgument(key: key, isFlag: false,
                                                    defaultValue: defaults[keyPath: path].defaultValueDescription,
                                                    allowedValues: allowed(Value.self)),
                     apply: { options, text in set(&options, path, text) })
    }

    /// A required option: no default (the command line must give it).
    static func required<Value: ExpressibleByArgument>(_ key: String, _ path: WritableKeyPath<Options, Value>) -> StageSetting {
        StageSetting(argument: ConfigurableArgument(key: key, isFlag: false, allowedValues: allowed(Value.self)),
                     apply: { options, text in set(&options, path, text) })
    }

    /// An optional option: unset unless given.
    static func option<Value: ExpressibleByArgument>(_ key: String, _ path: WritableKeyPath<Options, Value?>) -> StageSetting {
        StageSetting(argument: ConfigurableArgument(key: key, isFlag: false, allowedValues: allowed(Value.self)),
                     apply: { options, text in
                         guard let value = Value(argument: text) else { return false }
                         options[keyPath: path] = value
                         return true
                     })
    }

    static func flag(_ key: String, _ path: WritableKeyPath<Options, Bool>) -> StageSetting {
        StageSetting(argument: ConfigurableArgument(key: key, isFlag: true), apply: { options, text in
            options[keyPath: path] = text == "true"
            return true
        })
    }

    private static func allowed<Value: ExpressibleByArgument>(_ type: Value.Type) -> [String]? {
        Value.allValueStrings.isEmpty ? nil : Value.allValueStrings
    }

    private static func set<Value: ExpressibleByArgument>(_ options: inout Options, _ path: WritableKeyPath<Options, Value>,
                                                          _ text: String) -> Bool {
        guard let value = Value(argument: text) else { return false }
        options[keyPath: path] = value
        return true
    }
}

extension StageCommand {
    /// `options` with what the environment and the config file set for this stage's own keys:
    /// its table (`[load]`), then `tables` (`[nightly]`), then the top level. Keys in `excluded`
    /// are left to the caller.
    static func configured(_ options: Options, excluding excluded: Set<String>, tables: [String]) throws -> Options {
        guard let configuration = ProcessConfiguration.current else { return options }
        let own = stageSettings.filter { !excluded.contains($0.argument.key) }
        let resolution = try configuration.resolve([], for: own.map(\.argument), tables: [JobCatalog.table(of: self)] + tables)
        var options = options
        for setting in resolution.settings {
            switch setting.source {
            case .flag, .default: continue
            case .environment, .file: break
            }
            guard let value = setting.value, let stageSetting = own.first(where: { $0.argument.key == setting.key }) else { continue }
            guard stageSetting.apply(&options, value) else {
                throw ValidationError("The value '\(value)' is invalid for '--\(setting.key)' (\(setting.key) from \(setting.source))")
            }
        }
        return options
    }
}
