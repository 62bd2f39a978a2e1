import Foundation
import Testing
import TestSupport

/// The Python side of MSSD: Tests/python/mssd_model_check.py proven on the pandas reference
/// (Benchmarks/pandas_mssd.py on generated files, with a hand-written manifest), and
/// Benchmarks/mssd-night.py's generation, split, pandas run and argument checks.
@Suite(.serialized) struct MSSDModelCheckTests {
    static let python = TestServer.packageRoot.appendingPathComponent(".venv-check/bin/python").path

    /// Runs a script of the package with `interpreter`; its exit status, stdout and stderr.
    static func run(_ interpreter: String, _ script: String, _ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
        let scratch = TemporaryDirectory()
        let outputURL = scratch.url.appendingPathComponent("stdout"), errorURL = scratch.url.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: interpreter)
        process.arguments = [TestServer.packageRoot.appendingPathComponent(script).path] + arguments
        process.standardOutput = try FileHandle(forWritingTo: outputURL)
        process.standardError = try FileHandle(forWritingTo: errorURL)
        try process.run()
        process.waitUntilExit()
        return (process.terminationStatus, (try? String(contentsOf: outputURL, encoding: .utf8)) ?? "",
                (try? String(contentsOf: errorURL, encoding: .utf8)) ?? "")
    }

    /// On generated plays with a planted skip signal, a model beats the majority class on the
    /// session-disjoint test split; a session moved across splits, or labels shuffled (no signal
    /// left), fail the check.
    @Test func modelCheckPassesOnThePandasReferenceAndFailsOnBrokenExports() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.python),
                     "pandas, scikit-learn and LightGBM are installed by Jobs/setup.sh into .venv-check")
        let work = TemporaryDirectory()
        let data = work.path + "/data", table = work.path + "/pandas.csv"
        let generated = try Self.run("/usr/bin/python3", "Benchmarks/generate_mssd.py", ["--out", data, "--seed", "1", "--sessions", "600"])
        #expect(generated.status == 0, "\(generated.error)")
        let pandas = try Self.run(Self.python, "Benchmarks/pandas_mssd.py", [data, "--out", table])
        #expect(pandas.status == 0, "\(pandas.error)")
        for breaking in [nil, "split", "label", "outcome"] {
            let export = work.path + "/export-\(breaking ?? "whole")"
            let made = try Self.run(Self.python, "Tests/python/mssd_reference_export.py", [table, export] + (breaking.map { ["--break", $0] } ?? []))
            #expect(made.status == 0, "\(made.error)")
            let check = try Self.run(Self.python, "Tests/python/mssd_model_check.py", [export])
            switch breaking {
            case nil:
                #expect(check.status == 0, "\(check.output)\(check.error)")
                #expect(check.output.contains("majority-class baseline"), "\(check.output)")
                #expect(check.output.contains("3 categorical"), "\(check.output)")
                #expect(check.output.contains("left out as outcomes of the play: hist_user_behavior_n_seekback, hist_user_behavior_n_seekfwd, hist_user_behavior_reason_end"), "\(check.output)")
            case "outcome"?:
                #expect(check.status != 0 && check.error.contains("describe the play's outcome"), "\(check.output)\(check.error)")
            case "split"?:
                #expect(check.status != 0 && check.error.contains("sessions lie in more than one split"), "\(check.output)\(check.error)")
            default:
                #expect(check.status != 0 && check.error.contains("does not beat the majority-class baseline"), "\(check.output)\(check.error)")
            }
        }
    }

    /// mssd-night.py splits the same plays over K log files (whole sessions) and runs pandas on
    /// each; bad arguments exit 64 before anything runs.
    @Test func mssdNightSplitsTheSamePlaysAndChecksItsArguments() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.python), "Jobs/setup.sh installs .venv-check")
        let night = try Self.run("/usr/bin/python3", "Benchmarks/mssd-night.py",
                                 ["--skip-ours", "--all-cores", "--sessions", "40", "--log-files", "1,3", "--json"])
        #expect(night.status == 0, "\(night.error)")
        let parsed = try JSONSerialization.jsonObject(with: Data(night.output.utf8)) as? [String: Any]
        let results = try #require(parsed?["results"] as? [[String: Any]])
        #expect(results.map { $0["log_files"] as? Int } == [1, 3])
        let plays = results.map { $0["plays"] as? Int }
        #expect(plays[0] != nil && plays[0] == plays[1], "the same plays for every K: \(plays)")
        #expect(results.allSatisfy { $0["sessions"] as? Int == 40 })
        for result in results {
            let pandas = (result["steps"] as? [String: Any])?["pandas"] as? [String: Any]
            #expect((pandas?["rss_mb"] as? Double ?? 0) > 0 && (pandas?["summary"] as? String ?? "").contains("\"rows\": \(plays[0] ?? -1)"),
                    "\(String(describing: pandas))")
        }
        for (arguments, message) in [(["--bin", "/nonexistent"], "/nonexistent has no etl-extract, etl-normalize"),
                                     ([], "--bin DIR is required"),
                                     (["--skip-ours", "--log-files", "2,x"], "--log-files takes positive numbers"),
                                     (["--skip-ours", "--data", "/nonexistent"], "holds no log_*.csv")] {
            let refused = try Self.run("/usr/bin/python3", "Benchmarks/mssd-night.py", arguments)
            #expect(refused.status == 64 && refused.error.contains(message), "\(arguments): \(refused.error)")
        }
    }
}
