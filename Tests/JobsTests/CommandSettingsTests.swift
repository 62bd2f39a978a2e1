import ArgumentParser
import Datasets
@testable import ETLJobs
import FeaturesStage
import Staging
import Foundation
import LoadStage
import Pipeline
import Testing

/// Each command's `configurableArguments` (what the configuration layer takes from the
/// environment and the config file) is exactly what its `--help` lists: every long option in
/// order, with the default and the allowed values `--help` shows.
@Suite struct CommandSettingsTests {
    /// One option of `--help`: its long name and the `(values: …; default: …)` ArgumentParser appends.
    struct HelpOption: Equatable, CustomStringConvertible {
        var key: String
        var defaultValue: String?
        var allowedValues: [String]?
        var description: String { "\(key) default \(defaultValue ?? "-") values \(allowedValues ?? [])" }
    }

    static func helpOptions(_ command: any ParsableCommand.Type) -> [HelpOption] {
        // Wide enough that no description wraps: one option per block of lines.
        let help = command.helpMessage(columns: 10_000)
        var blocks: [String] = []
        for line in help.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.drop { $0 == " " }
            if line.hasPrefix("  "), trimmed.hasPrefix("-") {
                blocks.append(String(trimmed))
            } else if line.hasPrefix("   "), !blocks.isEmpty {
                blocks[blocks.count - 1] += " " + trimmed
            }
        }
        return blocks.compactMap { block -> HelpOption? in
            guard let long = block.split(separator: " ").map({ $0.trimmingCharacters(in: CharacterSet(charactersIn: ",")) })
                .first(where: { $0.hasPrefix("--") }) else { return nil }
            let key = String(long.dropFirst(2))
            guard !["help", "version"].contains(key) else { return nil }
            var option = HelpOption(key: key)
            // ArgumentParser ends the description with "(values: a, b; default: a)", either part optional.
            if block.hasSuffix(")"), let open = block.range(of: " (", options: .backwards) {
                for part in block[open.upperBound...].dropLast().components(separatedBy: "; ") {
                    if part.hasPrefix("default: ") { option.defaultValue = String(part.dropFirst("default: ".count)) }
                    if part.hasPrefix("values: ") { option.allowedValues = part.dropFirst("values: ".count).components(separatedBy: ", ") }
                }
            }
            return option
        }
    }

    @Test(arguments: JobCatalog.commands.map { ObjectIdentifier($0) })
    func configurableArgumentsAreWhatHelpLists(_ id: ObjectIdentifier) {
        let command = JobCatalog.commands.first { ObjectIdentifier($0) == id }!
        let declared = command.configurableArguments.map {
            HelpOption(key: $0.key, defaultValue: $0.isFlag ? nil : $0.defaultValue, allowedValues: $0.allowedValues)
        }
        #expect(declared == Self.helpOptions(command), "\(command)")
    }

    @Test func helpIsReadWithItsDefaultsAndValues() {
        let load = Self.helpOptions(LoadCommand.self)
        #expect(load.first == HelpOption(key: "mongodb-uri"))
        #expect(load.contains(HelpOption(key: "batch-size", defaultValue: "1000")))
        #expect(load.contains(HelpOption(key: "log-format", defaultValue: "text", allowedValues: ["text", "json"])))
        #expect(Self.helpOptions(NormalizeCommand.self).first == HelpOption(key: "method", allowedValues: ["zscore", "minmax"]))
    }

    @Test func flagsAreFlags() {
        let flags = Set(["dry-run", "force", "quiet", "verbose", "print-config", "prune", "allow-large-prune", "verify", "frames"])
        for command in JobCatalog.commands {
            for argument in command.configurableArguments {
                #expect(argument.isFlag == flags.contains(argument.key), "\(command) --\(argument.key)")
            }
        }
    }
}

/// The options `etl-nightly` gives a stage: the stage's defaults, then the environment and the
/// config file for that stage's keys (its table, then `[nightly]`, then the top level).
@Suite(.serialized) struct NightlyStepOptionsTests {
    func withConfiguration<T>(_ text: String, environment: [String: String] = [:], _ body: () throws -> T) throws -> T {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("nightly-steps-\(UUID().uuidString).toml").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        ProcessConfiguration.current = Configuration(file: try ConfigurationFile(path: path), environment: environment)
        defer { ProcessConfiguration.current = nil }
        return try body()
    }

    @Test func aStepTakesItsTableThenNightlyThenTheTopLevel() throws {
        let load = try withConfiguration("""
            verify = true
            batch-size = 10
            [load]
            batch-size = 250
            [nightly]
            in-flight = 4
            batch-size = 20
            """) {
            try LoadCommand.configured(LoadOptions(), excluding: [], tables: ["nightly"])
        }
        #expect(load.batchSize == 250)
        #expect(load.inFlight == 4)
        #expect(load.verify)
        #expect(load.maxRejectRatio == LoadOptions.defaults.maxRejectRatio)
    }

    /// The nightly's load may be allowed a large prune from the file, as etl-load by its flag.
    @Test func theLoadTableAllowsALargePrune() throws {
        let load = try withConfiguration("[load]\nallow-large-prune = true\n") {
            try LoadCommand.configured(LoadOptions(), excluding: [], tables: ["nightly"])
        }
        #expect(load.allowLargePrune)
        #expect(try LoadCommand.parse(["--allow-large-prune"]).options.allowLargePrune)
        #expect(try !LoadCommand.parse([]).options.allowLargePrune)
    }

    @Test func theEnvironmentBeatsTheFileAndExcludedKeysAreLeftAlone() throws {
        let features = try withConfiguration("[features]\nid-from = \"path\"\njobs = 3\n",
                                             environment: ["MUSICETL_ID_FROM": "stem", "MUSICETL_SHARD": "2/4"]) {
            try FeaturesCommand.configured(FeaturesOptions(audio: "a"), excluding: ["jobs"], tables: ["nightly"])
        }
        #expect(features.idFrom == .stem)
        #expect(features.shard == ShardSpec(index: 2, count: 4))
        #expect(features.jobs == nil)
    }

    @Test func aValueThatIsNotOfTheOptionsTypeIsAUsageError() throws {
        #expect(throws: ValidationError.self) {
            try withConfiguration("[features]\nshard = \"x\"\n") {
                try FeaturesCommand.configured(FeaturesOptions(audio: "a"), excluding: [], tables: ["nightly"])
            }
        }
    }

    /// Without --collection, etl-export exports the training rows of the --dataset.
    @Test func theExportsDefaultCollectionIsTheDatasetsTrainingRows() throws {
        let mssd = try ExportCommand.parse(["--dataset", "mssd"])
        #expect(mssd.options(for: try Datasets.named(mssd.common.dataset)).collection == "skip_training")
        let fma = try ExportCommand.parse([])
        #expect(fma.options(for: try Datasets.named(fma.common.dataset)).collection == "training")
        let given = try ExportCommand.parse(["--dataset", "mssd", "--collection", "plays"])
        #expect(given.options(for: try Datasets.named(given.common.dataset)).collection == "plays")
    }
}
