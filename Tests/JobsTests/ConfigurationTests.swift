import DocumentStore
@testable import ETLJobs
import Foundation
import Pipeline
import Testing
import TestSupport

/// Configuration (flags > MUSICETL_* environment > --config file > defaults), --print-config,
/// log formats, the progress bar, and the one-line failures of every job.
@Suite(.serialized) struct ConfigurationTests {
    /// `key → (value, source)` from `--print-config` output (top-level keys only, before any `[step]`).
    private func printedSettings(_ output: String) -> [String: (value: String, source: String)] {
        var settings: [String: (value: String, source: String)] = [:]
        for line in output.split(separator: "\n") {
            if line.hasPrefix("[") { break }
            guard !line.hasPrefix("#"), let equals = line.range(of: " = "), let hash = line.range(of: "  # ") else { continue }
            let key = line[..<equals.lowerBound].trimmingCharacters(in: .whitespaces)
            var value = line[equals.upperBound..<hash.lowerBound].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            settings[key] = (value, line[hash.upperBound...].trimmingCharacters(in: .whitespaces))
        }
        return settings
    }

    private func writeConfig(_ text: String, in directory: TemporaryDirectory) throws -> String {
        let path = directory.path + "/musicetl.toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    // MARK: precedence

    @Test func flagBeatsEnvironmentBeatsFileBeatsDefault() throws {
        let scratch = TemporaryDirectory()
        let config = try writeConfig("""
            # top level: every job
            work-dir = "/srv/from-file"
            db = "file_db"
            batch-size = 10
            in-flight = 3
            """, in: scratch)
        let run = try JobProcess.run("etl-load", ["--config", config, "--db", "flag_db", "--print-config"],
                                     environment: ["MUSICETL_DB": "env_db", "MUSICETL_BATCH_SIZE": "20"])
        #expect(run.status == 0, "\(run.standardError)")
        let settings = printedSettings(run.standardOutput)
        #expect(settings["db"]?.value == "flag_db" && settings["db"]?.source == "flag", "\(run.standardOutput)")
        #expect(settings["batch-size"]?.value == "20" && settings["batch-size"]?.source == "env MUSICETL_BATCH_SIZE")
        #expect(settings["work-dir"]?.value == "/srv/from-file" && settings["work-dir"]?.source == "file \(config):2")
        #expect(settings["in-flight"]?.value == "3" && settings["in-flight"]?.source == "file \(config):5")
        #expect(settings["prune"]?.value == "false" && settings["prune"]?.source == "default")
        #expect(settings["log-format"]?.value == "text" && settings["log-format"]?.source == "default")
        #expect(run.standardError.isEmpty, "--print-config runs nothing: \(run.standardError)")
        #expect(!FileManager.default.fileExists(atPath: "/srv/from-file"))
    }

    @Test func configFileFromTheEnvironmentAndPerRunKeysStayOnTheCommandLine() throws {
        let scratch = TemporaryDirectory()
        let config = try writeConfig("log-format = \"json\"\n", in: scratch)
        let run = try JobProcess.run("etl-normalize", ["--print-config"],
                                     environment: ["MUSICETL_CONFIG": config, "MUSICETL_QUIET": "yes"])
        #expect(run.status == 0, "\(run.standardError)")
        let settings = printedSettings(run.standardOutput)
        #expect(settings["log-format"]?.value == "json")
        #expect(settings["quiet"]?.value == "true" && settings["quiet"]?.source == "env MUSICETL_QUIET")
        #expect(run.standardOutput.contains("# config file: \(config) (env MUSICETL_CONFIG)"))
        // --verbose on the command line wins over MUSICETL_QUIET instead of clashing with it.
        let verbose = try JobProcess.run("etl-normalize", ["--print-config", "--verbose"], environment: ["MUSICETL_QUIET": "1"])
        #expect(verbose.status == 0, "\(verbose.standardError)")
        #expect(printedSettings(verbose.standardOutput)["quiet"]?.value == "false")
    }

    @Test func printConfigRedactsTheMongoPassword() throws {
        let run = try JobProcess.run("etl-export", ["--print-config"],
                                     environment: ["MONGODB_URI": "mongodb://etl:hunter2@db.example:27017/?authSource=admin"])
        #expect(run.status == 0, "\(run.standardError)")
        #expect(!run.standardOutput.contains("hunter2"), "\(run.standardOutput)")
        let uri = printedSettings(run.standardOutput)["mongodb-uri"]
        #expect(uri?.source == "env MONGODB_URI")
        #expect(uri?.value.contains("db.example:27017") == true, "\(run.standardOutput)")
    }

    /// Credentials are hidden by rule, whatever shape the string has.
    @Test(arguments: [
        ("mongodb://etl:hunter2@db1:27017,db2/?replicaSet=rs", "mongodb://etl:***@db1:27017,db2/?replicaSet=rs"),
        ("mongodb://etl@corp:hunter2@db1/", "mongodb://etl@corp:***@db1/"),
        ("mongodb://etl:hun@ter2@db1/", "mongodb://etl:***@db1/"),
        ("MONGODB://etl:hunter2@db1", "MONGODB://etl:***@db1"),
        ("MongoDB+SRV://etl:hunter2@cluster.example", "MongoDB+SRV://etl:***@cluster.example"),
        ("mongodb:/etl:hunter2@db1", "mongodb:/etl:***@db1"),
        ("mongodb:etl:hunter2@db1", "mongodb:etl:***@db1"),
        ("mongodb:///etl:hunter2@db1", "mongodb:///etl:***@db1"),
        ("mongodb://hunter2@db1", "mongodb://***@db1"),
        ("mongodb//etl:hunter2@db1", "mongodb//etl:***@db1"),
        ("--mongodb-uri=mongodb://etl:hunter2@db1", "--mongodb-uri=mongodb://etl:***@db1"),
        ("--mongodb-uri=etl:hunter2@db1", "--mongodb-uri=etl:***@db1"),
        ("etl:hunter2@db1:27017", "etl:***@db1:27017"),
        ("mongodb://127.0.0.1:1", "mongodb://127.0.0.1:1"),
        ("someone@example.org", "someone@example.org"),
        ("mongodb://etl:hunter 2@db1", "mongodb://etl:***@db1"),
        ("mongodb://etl:hun\"ter2@db1", "mongodb://etl:***@db1"),
    ])
    func credentialsAreRedactedByRule(uri: String, redacted: String) {
        #expect(MongoConnection.redact(uri) == redacted)
        #expect(MongoConnection.redactSecrets(in: "cannot use \"\(uri)\" (bad)") == "cannot use \"\(redacted)\" (bad)")
    }

    @Test func aMalformedURIsPasswordIsNeitherPrintedNorStored() throws {
        let work = TemporaryDirectory()
        for uri in ["mongodb://etl@corp:hunter2@127.0.0.1:1/", "MONGODB://etl:hunter2@127.0.0.1:1/",
                    "mongodb:/etl:hunter2@127.0.0.1:1", "mongodb://etl:hunter2@[::1:1/"] {
            let run = try JobProcess.run("etl-export", ["--work-dir", work.path], environment: ["MONGODB_URI": uri])
            #expect(run.status != 0, "\(uri): \(run.standardError)")
            #expect(!run.standardError.contains("hunter2"), "\(uri): \(run.standardError)")
            let flagged = try JobProcess.run("etl-export", ["--work-dir", work.path, "--mongodb-uri", uri])
            #expect(!flagged.standardError.contains("hunter2"), "\(uri): \(flagged.standardError)")
        }
        let ledger = try String(contentsOfFile: work.path + "/ledger/etl_runs.jsonl", encoding: .utf8)
        #expect(ledger.split(separator: "\n").count == 8)
        #expect(!ledger.contains("hunter2"), "\(ledger)")
    }

    @Test func perJobTablesOverrideTheTopLevel() throws {
        let scratch = TemporaryDirectory()
        let config = try writeConfig("""
            max-reject-ratio = 0.5
            batch-size = 100

            [extract]
            max-reject-ratio = 0.9   # the metadata is dirtier

            [load]
            batch-size = 250

            [nightly]
            in-flight = 4
            """, in: scratch)
        // Shown even though a run would lack --input (a note on stderr says so).
        let extract = try JobProcess.run("etl-extract", ["--config", config, "--print-config"])
        #expect(extract.status == 0, "\(extract.standardError)")
        #expect(extract.lastLine == "etl-extract: note: a run with these values would fail: --input is required (the dataset's input directory; FMA's may be given as --metadata)")
        #expect(printedSettings(extract.standardOutput)["max-reject-ratio"]?.value == "0.9")
        #expect(printedSettings(extract.standardOutput)["max-reject-ratio"]?.source == "file \(config):5 [extract]")
        let features = try JobProcess.run("etl-features", ["--config", config, "--print-config"])
        #expect(printedSettings(features.standardOutput)["max-reject-ratio"]?.value == "0.5")
        let load = try JobProcess.run("etl-load", ["--config", config, "--print-config"])
        #expect(printedSettings(load.standardOutput)["batch-size"]?.value == "250")
        #expect(printedSettings(load.standardOutput)["in-flight"]?.source == "default", "[nightly] is for the nightly only")
        // etl-nightly shows what each step gets: its table, then [nightly], then the top level.
        let nightly = try JobProcess.run("etl-nightly", ["--config", config, "--print-config", "--metadata", "m", "--audio", "a"])
        #expect(nightly.status == 0, "\(nightly.standardError)")
        let loadSection = nightly.standardOutput.components(separatedBy: "\n[load]\n").last ?? ""
        #expect(loadSection.contains("batch-size = 250"), "\(nightly.standardOutput)")
        #expect(loadSection.contains("in-flight = 4") && loadSection.contains("[nightly]"), "\(nightly.standardOutput)")
    }

    @Test func environmentAndFileValuesReachTheRun() throws {
        let scratch = TemporaryDirectory(), work = TemporaryDirectory()
        let config = try writeConfig("[extract]\nwork-dir = \"\(work.path)\"\nmax-reject-ratio = 1\n", in: scratch)
        let run = try JobProcess.run("etl-extract", ["--config", config],
                                     environment: ["MUSICETL_METADATA": Fixtures.url("sample/fma_metadata").path])
        #expect(run.status == 0, "\(run.standardError)")
        #expect(FileManager.default.fileExists(atPath: work.path + "/staging/metadata/genres.jsonl"))
    }

    @Test func theExampleConfigIsValidForEveryJob() throws {
        let example = TestServer.packageRoot.appendingPathComponent("Jobs/musicetl.example.toml").path
        for job in ["etl-extract", "etl-features", "etl-normalize", "etl-load", "etl-export", "etl-nightly"] {
            let run = try JobProcess.run(job, ["--config", example, "--print-config"])
            #expect(run.status == 0 && run.standardError.isEmpty, "\(job): \(run.standardError)")
        }
    }

    // MARK: bad configuration

    @Test(arguments: [
        ("work-dir = \"w\"\n\ndb = musicetl\n", ":3:", "strings need quotes"),
        ("[load]\nbatch-size = \"many\"\n", ":2:", "batch-size must be an integer"),
        ("quiet = 1\n", ":1:", "quiet must be true or false"),
        ("log-format = \"xml\"\n", ":1:", "log-format must be one of text, json"),
        ("# ok\n[load]\nbatchsize = 5\n", ":3:", "unknown key batchsize for [load] (etl-load); did you mean batch-size?"),
        ("[loader]\n", ":1:", "unknown table [loader]"),
        ("db = \"a\"\ndb = \"b\"\n", ":2:", "db is set twice"),
        ("dry-run = true\n", ":1:", "dry-run is chosen per run"),
        ("[load]\nbatch-size = 10 x\n", ":2:", "unexpected text after the value"),
        ("work-dir = \"unclosed\n", ":1:", "a string is not closed"),
    ])
    func aBadConfigFileExits64WithOneLineNamingTheLine(text: String, line: String, message: String) throws {
        let scratch = TemporaryDirectory()
        let config = try writeConfig(text, in: scratch)
        let run = try JobProcess.run("etl-load", ["--config", config, "--work-dir", scratch.path])
        #expect(run.status == 64, "\(run.standardError)")
        #expect(run.standardError.split(separator: "\n").count == 1, "one line: \(run.standardError)")
        #expect(run.lastLine.hasPrefix("etl-load usage error: \(config)\(line)"), "\(run.lastLine)")
        #expect(run.lastLine.contains(message), "\(run.lastLine)")
    }

    @Test func badEnvironmentValuesAndAMissingFileExit64() throws {
        let quiet = try JobProcess.run("etl-normalize", [], environment: ["MUSICETL_QUIET": "perhaps"])
        #expect(quiet.status == 64)
        #expect(quiet.lastLine == "etl-normalize usage error: MUSICETL_QUIET=perhaps: expected true or false (1/0, yes/no)")
        let shards = try JobProcess.run("etl-export", [], environment: ["MUSICETL_SHARDS": "-2"])
        #expect(shards.status == 64)
        #expect(shards.lastLine.contains("--shards must be 0 or more (shards from env MUSICETL_SHARDS)"), "\(shards.lastLine)")
        let missing = try JobProcess.run("etl-load", ["--config", "/nonexistent/musicetl.toml"])
        #expect(missing.status == 64)
        #expect(missing.lastLine == "etl-load usage error: config file /nonexistent/musicetl.toml does not exist")
    }

    /// The environment is as strict as the file: a stray `MUSICETL_FORCE=1` in a crontab or a
    /// misspelt variable would otherwise change nothing, or everything, without a word.
    @Test(arguments: [
        ("MUSICETL_DRY_RUN", "1", "MUSICETL_DRY_RUN: dry-run is chosen per run: give --dry-run on the command line"),
        ("MUSICETL_FORCE", "1", "MUSICETL_FORCE: force is chosen per run: give --force on the command line"),
        ("MUSICETL_ONLY", "2", "MUSICETL_ONLY: only is chosen per run: give --only on the command line"),
        ("MUSICETL_WORKDIR", "/tmp/w", "MUSICETL_WORKDIR is not a setting of any job; did you mean MUSICETL_WORK_DIR?"),
        ("MUSICETL_work_dir", "/tmp/w", "MUSICETL_work_dir is not a setting of any job; did you mean MUSICETL_WORK_DIR?"),
        ("MUSICETL_COLOUR", "1", "MUSICETL_COLOUR is not a setting of any job"),
    ])
    func perRunAndUnknownVariablesExit64(name: String, value: String, message: String) throws {
        let scratch = TemporaryDirectory()
        let run = try JobProcess.run("etl-extract", ["--work-dir", scratch.path, "--metadata", Fixtures.url("sample/fma_metadata").path],
                                     environment: [name: value])
        #expect(run.status == 64, "\(run.standardError)")
        #expect(run.lastLine == "etl-extract usage error: \(message)", "\(run.lastLine)")
        #expect(!FileManager.default.fileExists(atPath: scratch.path + "/staging"), "nothing ran")
    }

    /// Variables the tests and the README name in order to show them refused.
    private static let variablesMeantToBeRefused: Set<String> = [
        "MUSICETL_DRY_RUN", "MUSICETL_FORCE", "MUSICETL_ONLY",  // per run
        "MUSICETL_WORKDIR", "MUSICETL_COLOUR",                  // misspelt, unknown
    ]

    /// Every `MUSICETL_*` name in the package's scripts, benchmarks, tests and README: a variable a
    /// script sets but the jobs would refuse fails here, not on an installed machine at night.
    @Test func everyVariableNamedInThePackageIsAKeyOrKnownOrMeantToBeRefused() throws {
        let root = TestServer.packageRoot
        var files = [root.appendingPathComponent("README.md")]
        for folder in ["Jobs", ".ci", "Benchmarks", "Tests"] {
            let enumerator = FileManager.default.enumerator(at: root.appendingPathComponent(folder), includingPropertiesForKeys: [.isRegularFileKey])
            while let url = enumerator?.nextObject() as? URL {
                if try url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile == true { files.append(url) }
            }
        }
        var found: [String: String] = [:]  // name → first file naming it
        let prefix = Array("MUSICETL_".utf8)
        for file in files {
            let bytes = [UInt8](try Data(contentsOf: file))
            var index = 0
            while index + prefix.count <= bytes.count {
                guard bytes[index..<index + prefix.count].elementsEqual(prefix) else { index += 1; continue }
                var end = index + prefix.count
                while end < bytes.count, (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(bytes[end])
                        || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[end]) || bytes[end] == UInt8(ascii: "_") {
                    end += 1
                }
                if end > index + prefix.count {
                    let name = String(decoding: bytes[index..<end], as: UTF8.self)
                    if found[name] == nil { found[name] = String(file.path.dropFirst(root.path.count + 1)) }
                }
                index = end
            }
        }
        #expect(found["MUSICETL_WORK_DIR"] != nil && found["MUSICETL_CONFIG"] != nil, "the scan found the package's files: \(found.keys.sorted())")

        let keys = Set(JobCatalog.arguments.values.flatMap { $0.map(\.key) }).subtracting(Configuration.perRunKeys)
        let accepted = Set(keys.map { Configuration.environmentNames(for: $0)[0] }).union(Configuration.variablesOtherThanKeys)
        #expect(Self.variablesMeantToBeRefused.isDisjoint(with: accepted), "a name meant to be refused is accepted")
        for (name, file) in found.sorted(by: { $0.key < $1.key }) {
            #expect(accepted.contains(name) || Self.variablesMeantToBeRefused.contains(name),
                    "\(file) names \(name), which every job refuses: make it a key, add it to Configuration.variablesOtherThanKeys, or rename it")
        }
    }

    /// The variables the scripts and the README set together are accepted by a job.
    @Test func theVariablesOfTheScriptsAndTheReadmeAreAccepted() throws {
        let scratch = TemporaryDirectory()
        let config = try writeConfig("db = \"file_db\"\n", in: scratch)
        let environment = [
            "MUSICETL_CONFIG": config, "MUSICETL_VERSION": "1.0", "MUSICETL_MONGO_VENV": "/tmp/venv",
            "MUSICETL_TRAIN_CHECK_ROWS": "4000", "MUSICETL_SHARD": "1/2", "MUSICETL_LOG_FORMAT": "text",
            "MUSICETL_WORK_DIR": scratch.path, "MUSICETL_DB": "env_db", "MUSICETL_DATASET": "fma",
            "MUSICETL_SCHEMAS": TestServer.packageRoot.appendingPathComponent("Schemas").path,
            "MUSICETL_FORCE": "",  // empty: unset
        ]
        let run = try JobProcess.run("etl-extract", ["--print-config"], environment: environment)
        #expect(run.status == 0, "\(run.standardError)")
        let settings = printedSettings(run.standardOutput)
        #expect(settings["work-dir"]?.source == "env MUSICETL_WORK_DIR" && settings["shard"]?.source == "env MUSICETL_SHARD",
                "\(run.standardOutput)")
    }

    /// A carriage return that ends no CRLF is refused with a message that says so, on its line;
    /// a quoted snippet of the file never carries a raw control character into the message.
    @Test(arguments: [
        ("a = 1\rb = 2\r", 1),           // old-Mac line ends
        ("a = 1\nb = 2\r\r\n", 2),       // a doubled CR
        ("a = 1\r\n\rb = 2\n", 2),       // a CR opening a line
    ])
    func aLoneCarriageReturnIsRefusedOnItsLine(text: String, line: Int) {
        let error = #expect(throws: ConfigurationError.self) { try ConfigurationFile(text: text, path: "c.toml") }
        #expect(error?.message == "c.toml:\(line): a lone carriage return is not a line end; save the file with LF or CRLF line ends",
                "\(error?.message ?? "")")
    }

    @Test func controlCharactersInAQuotedSnippetAreEscaped() {
        let trailing = #expect(throws: ConfigurationError.self) { try ConfigurationFile(text: "a = 1 \u{1B}[0m", path: "c.toml") }
        #expect(trailing?.message == "c.toml:1: unexpected text after the value: \\u{1B}[0m", "\(trailing?.message ?? "")")
        let unquoted = #expect(throws: ConfigurationError.self) { try ConfigurationFile(text: "a = x\u{7}y", path: "c.toml") }
        #expect(unquoted?.message == "c.toml:1: cannot read the value x\\u{07}y: strings need quotes, e.g. \"x\\u{07}y\"",
                "\(unquoted?.message ?? "")")
    }

    /// An empty `MUSICETL_DB` counts as unset, as every other variable: not a database named "".
    @Test func anEmptyDatabaseVariableCountsAsUnset() {
        #expect(MongoTarget.database(fromEnvironment: ["MUSICETL_DB": ""]) == MongoTarget.defaultDatabase)
        #expect(MongoTarget.database(fromEnvironment: [:]) == MongoTarget.defaultDatabase)
        #expect(MongoTarget.database(fromEnvironment: ["MUSICETL_DB": "nightly"]) == "nightly")
    }

    @Test func theConfigFileSubsetParses() throws {
        let file = try ConfigurationFile(text: """
            # comment
            work_dir = "a \\"quoted\\" \\u00e9 path"   # trailing comment
            'literal' = 'C:\\raw'
            count = 1_000
            ratio = -2.5e-1
            on = true

            [load]
            "batch-size" = 7
            """, path: "x.toml")
        #expect(file.topLevel["work-dir"]?.value == .string("a \"quoted\" é path"))
        #expect(file.topLevel["literal"]?.value == .string("C:\\raw"))
        #expect(file.topLevel["count"]?.value == .integer(1000))
        #expect(file.topLevel["ratio"]?.value == .float(-0.25))
        #expect(file.topLevel["on"]?.value == .boolean(true))
        #expect(file.tables["load"]?["batch-size"]?.value == .integer(7) && file.tables["load"]?["batch-size"]?.line == 9)
        #expect(throws: ConfigurationError.self) { try ConfigurationFile(text: "a = [1]", path: "x") }
        #expect(throws: ConfigurationError.self) { try ConfigurationFile(text: "[a.b]", path: "x") }
        #expect(throws: ConfigurationError.self) { try ConfigurationFile(text: "a.b = 1", path: "x") }
    }

    @Test func aConfigFileWithWindowsLineEndingsReadsAsWithUnixOnes() throws {
        let file = try ConfigurationFile(text: "work-dir = \"/tmp/x\"\r\n# note\r\n\r\n[load]\r\nbatch-size = 7   \r\n", path: "c.toml")
        #expect(file.topLevel["work-dir"]?.value == .string("/tmp/x"))
        #expect(file.tables["load"]?["batch-size"]?.value == .integer(7) && file.tables["load"]?["batch-size"]?.line == 5)
        let bad = #expect(throws: ConfigurationError.self) { try ConfigurationFile(text: "a = 1\r\nb = 2 x\r\n", path: "c.toml") }
        #expect(bad?.message == "c.toml:2: unexpected text after the value: x", "\(bad?.message ?? "")")

        let cutShort = try ConfigurationFile(text: "a = 1\r\nb = 2\r", path: "c.toml")
        #expect(cutShort.topLevel["b"]?.value == .integer(2), "a last line ending in a lone CR is read")

        let scratch = TemporaryDirectory()
        let config = try writeConfig("work-dir = \"/tmp/x\"\r\nmetadata = \"/tmp/y\"\r\n", in: scratch)
        let run = try JobProcess.run("etl-extract", ["--config", config, "--print-config"])
        #expect(run.status == 0, "\(run.standardError)")
        let settings = printedSettings(run.standardOutput)
        #expect(settings["work-dir"]?.value == "/tmp/x" && settings["work-dir"]?.source == "file \(config):1", "\(run.standardOutput)")
        #expect(settings["metadata"]?.value == "/tmp/y" && settings["metadata"]?.source == "file \(config):2")
    }

    // MARK: logs

    @Test func jsonLogsAreOneObjectPerLine() throws {
        let work = TemporaryDirectory()
        let run = try JobProcess.run("etl-extract", ["--metadata", Fixtures.url("sample/fma_metadata").path,
                                                     "--work-dir", work.path, "--max-reject-ratio", "1", "--log-format", "json"])
        #expect(run.status == 0, "\(run.standardError)")
        let lines = run.standardError.split(separator: "\n")
        #expect(lines.count > 2)
        var runIDs: Set<String> = []
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object != nil, "not a JSON object: \(line)")
            for key in ["run_id", "job", "level", "message"] {
                #expect((object?[key] as? String)?.isEmpty == false, "\(key) missing in \(line)")
            }
            #expect(object?["job"] as? String == "etl-extract")
            if let id = object?["run_id"] as? String { runIDs.insert(id) }
        }
        #expect(runIDs.count == 1, "one run id: \(runIDs)")
        // A usage error before the job starts is a JSON line too (the format from the environment).
        let usage = try JobProcess.run("etl-load", ["--batch-size", "0"], environment: ["MUSICETL_LOG_FORMAT": "json"])
        #expect(usage.status == 64)
        let object = try JSONSerialization.jsonObject(with: Data(usage.standardError.utf8)) as? [String: Any]
        #expect(object?["level"] as? String == "error" && object?["exit_code"] as? Int == 64, "\(usage.standardError)")
    }

    /// libmpg123 prints "Note: …" lines of its own on stderr while libsndfile decodes an MP3 with
    /// damaged frames; with --log-format json they arrive wrapped, one JSON object per line.
    @Test func jsonLogsWrapWhatCLibrariesPrint() throws {
        let audio = TemporaryDirectory(), work = TemporaryDirectory()
        try FileManager.default.copyItem(atPath: Fixtures.url("audio/corrupt/resync_garbage.mp3").path,
                                         toPath: audio.path + "/7.mp3")
        let text = try JobProcess.run("etl-features", ["--audio", audio.path, "--work-dir", work.path, "--force"])
        #expect(text.standardError.contains("Note: "), "the decoder prints: \(text.standardError)")
        let run = try JobProcess.run("etl-features", ["--audio", audio.path, "--work-dir", work.path, "--force",
                                                      "--log-format", "json"])
        let lines = run.standardError.split(separator: "\n")
        var wrapped = 0
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object != nil, "not a JSON object: \(line)")
            if object?["source"] as? String == "stderr" {
                wrapped += 1
                #expect(object?["job"] as? String == "etl-features" && (object?["run_id"] as? String)?.isEmpty == false)
            }
        }
        #expect(wrapped > 0, "\(run.standardError)")
        let last = try JSONSerialization.jsonObject(with: Data((lines.last ?? "").utf8)) as? [String: Any]
        #expect(last?["summary"] != nil, "the summary stays last: \(run.standardError)")
    }

    @Test func quietPrintsOnlyTheSummaryOfASuccessfulRun() throws {
        let audio = TemporaryDirectory(), work = TemporaryDirectory()
        try FileManager.default.copyItem(atPath: Fixtures.url("audio/guit_em9.flac").path, toPath: audio.path + "/1.flac")
        let run = try JobProcess.run("etl-features", ["--audio", audio.path, "--work-dir", work.path, "--quiet"])
        #expect(run.status == 0, "\(run.standardError)")
        #expect(run.standardError.split(separator: "\n").count == 1, "\(run.standardError)")
        #expect(run.lastLine.hasPrefix("etl-features ok: 1 files, 1 computed"), "\(run.lastLine)")
    }

    // MARK: progress

    @Test func theProgressLineIsAPureFunctionOfTheCounts() {
        #expect(ProgressBar.render(label: "etl-load", unit: "documents", done: 52_000, total: 100_000, elapsed: 6.1,
                                   width: 100)
            == "etl-load [███████████████░░░░░░░░░░░░░░░]  52%  52,000/100,000 documents  8,525/s  ETA 0:06")
        #expect(ProgressBar.render(label: "etl-features", unit: "files", done: 3, total: 7, elapsed: 2, width: 120)
            .hasSuffix("]  42%  3/7 files  1.5/s  ETA 0:03"))
        #expect(ProgressBar.render(label: "etl-export", unit: "rows", done: 7, total: 7, elapsed: 3725, width: 120)
            .hasSuffix("] 100%  7/7 rows  0.0/s  done in 1:02:05"))
        #expect(ProgressBar.render(label: "etl-export", unit: "rows", done: 0, total: 10, elapsed: 0, width: 120)
            .hasSuffix("  0%  0/10 rows  0.0/s  ETA --:--"))
        // No total: counts and rate; a narrow terminal: no bar, and never wider than the terminal.
        #expect(ProgressBar.render(label: "etl-load", unit: "documents", done: 1_234_567, total: nil, elapsed: 65, width: 100)
            == "etl-load 1,234,567 documents  18,993/s  1:05 elapsed")
        let narrow = ProgressBar.render(label: "etl-load", unit: "documents", done: 5, total: 10, elapsed: 1, width: 40)
        #expect(!narrow.contains("█") && narrow.count < 40, "\(narrow)")
    }

    @Test func aRunWithoutATerminalPrintsNoBarButKeepsItsProgressLines() throws {
        let audio = TemporaryDirectory(), work = TemporaryDirectory()
        for name in ["guit_em9.flac", "tabla_ke2_44ms.flac"] {
            try FileManager.default.copyItem(atPath: Fixtures.url("audio/\(name)").path, toPath: "\(audio.path)/\(name)")
        }
        let run = try JobProcess.run("etl-features", ["--audio", audio.path, "--work-dir", work.path, "--jobs", "1",
                                                      "--progress-interval", "0.000001"], environment: ["TERM": "xterm"])
        #expect(run.status == 0, "\(run.standardError)")
        #expect(!run.standardError.contains("\r") && !run.standardError.contains("\u{1B}[") && !run.standardError.contains("█"))
        #expect(run.standardError.contains("progress: 1/2 files computed"), "\(run.standardError)")
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script")))
    func aTerminalGetsTheBarInsteadOfProgressLines() throws {
        let audio = TemporaryDirectory(), work = TemporaryDirectory(), scratch = TemporaryDirectory()
        try FileManager.default.copyItem(atPath: Fixtures.url("audio/guit_em9.flac").path, toPath: audio.path + "/1.flac")
        let features = JobProcess.productsDirectory.appendingPathComponent("etl-features").path
        // util-linux script(1) runs the job on a pseudo-terminal and records what it wrote.
        let transcript = scratch.path + "/transcript"
        let command = "\(features) --audio \(audio.path) --work-dir \(work.path) --progress-interval 0.000001"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-qec", command, transcript]
        var environment = ProcessInfo.processInfo.environment
        environment["TERM"] = "xterm"
        environment["MUSICETL_SCHEMAS"] = TestServer.packageRoot.appendingPathComponent("Schemas").path
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let output = (try? String(contentsOfFile: transcript, encoding: .utf8)) ?? ""
        #expect(output.contains("etl-features [") && output.contains("1/1 files"), "\(output)")
        #expect(!output.contains("progress: "), "the bar replaces the progress lines: \(output)")
    }

    // MARK: failures of every job

    @Test func everyJobFailsWithOneClearLineAndTheDocumentedCode() throws {
        let work = TemporaryDirectory()
        let sample = Fixtures.url("sample/fma_metadata").path
        let staged = try JobProcess.run("etl-extract", ["--metadata", sample, "--work-dir", work.path, "--max-reject-ratio", "1"])
        #expect(staged.status == 0, "\(staged.standardError)")
        let empty = TemporaryDirectory()
        let unreachable = ["MONGODB_URI": "mongodb://127.0.0.1:1"]
        let cases: [(job: String, arguments: [String], environment: [String: String], status: Int32, says: String)] = [
            // a wrong flag
            ("etl-extract", ["--metadata", sample, "--bogus"], [:], 64, "usage error: Unknown option '--bogus'"),
            ("etl-features", ["--audio", empty.path, "--shard", "5/4"], [:], 64, "usage error: --shard 5/4"),
            ("etl-normalize", ["--method", "robust"], [:], 64, "usage error:"),
            ("etl-load", ["--batch-size", "0"], [:], 64, "usage error: --batch-size must be positive"),
            ("etl-export", ["--format", "parquet"], [:], 64, "usage error: --format must be csv or jsonl"),
            ("etl-nightly", ["--metadata", sample], [:], 64, "usage error: --audio is required: dataset fma has audio features"),
            // a missing input directory
            ("etl-extract", ["--metadata", "/nonexistent/fma_metadata", "--work-dir", empty.path], [:], 69,
             "unavailable: metadata directory /nonexistent/fma_metadata does not exist"),
            ("etl-features", ["--audio", "/nonexistent/audio", "--work-dir", empty.path], [:], 69,
             "unavailable: audio directory /nonexistent/audio does not exist"),
            ("etl-normalize", ["--work-dir", empty.path], [:], 69, "unavailable:"),
            ("etl-load", ["--work-dir", empty.path], [:], 69, "unavailable: nothing staged"),
            // an unreachable server
            ("etl-load", ["--work-dir", work.path], unreachable, 69, "unavailable: MongoDB at 127.0.0.1:1 is unavailable"),
            ("etl-export", ["--work-dir", empty.path], unreachable, 69, "unavailable: MongoDB at 127.0.0.1:1 is unavailable"),
            ("etl-nightly", ["--metadata", sample, "--audio", empty.path, "--work-dir", empty.path], unreachable, 69,
             "unavailable: MongoDB at 127.0.0.1:1 is unavailable"),
        ]
        for (job, arguments, environment, status, says) in cases {
            let run = try JobProcess.run(job, arguments, environment: environment)
            #expect(run.status == status, "\(job) \(arguments): \(run.standardError)")
            #expect(run.lastLine.hasPrefix(job + " ") && run.lastLine.contains(says), "\(job) \(arguments): \(run.lastLine)")
            #expect(!run.lastLine.contains("See '"), "the last line is the error, not a hint")
        }
    }

    @Test func aNightlyWhoseInputIsMissingStopsThereWith69() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = TemporaryDirectory()
        let run = try JobProcess.run("etl-nightly", ["--metadata", "/nonexistent/fma_metadata", "--audio", work.path,
                                                     "--work-dir", work.path],
                                     environment: ["MONGODB_URI": uri, "MUSICETL_DB": database])
        #expect(run.status == 69, "\(run.standardError)")
        #expect(run.lastLine.hasPrefix("etl-nightly unavailable: stopped at etl-extract"), "\(run.lastLine)")
        #expect(run.lastLine.contains("resume with --from extract"), "\(run.lastLine)")
    }
}
