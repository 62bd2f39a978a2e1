import Foundation
import Staging
import Testing
import TestSupport

/// `etl-nightly --shard K/N` goes to the steps that shard (extract, features) as their own
/// `--shard` does, and beats `MUSICETL_SHARD` as every flag beats its variable.
@Suite(.serialized) struct NightlyShardTests {
    let metadata = Fixtures.url("sample/fma_metadata").path
    let audio = Fixtures.url("sample/audio").path

    private func nightlyArguments(work: TemporaryDirectory) -> [String] {
        ["--metadata", metadata, "--tracks-file", "raw_tracks.csv", "--audio", audio, "--work-dir", work.path]
    }

    /// The sample clips' ids in shard `index` of `count` (the features' partition: hash mod N).
    private func sampleIDs(inShard index: Int, of count: Int) -> [Int] {
        [2, 3, 5, 10, 20].filter { Int(TrackID(text: String($0)).stableHash % UInt64(count)) == index - 1 }
    }

    @Test func theFlagReachesExtractAndFeaturesAndBeatsTheEnvironment() throws {
        // Both shards hold clips, so staging the wrong one (the environment's) cannot pass.
        let first = sampleIDs(inShard: 1, of: 2), second = sampleIDs(inShard: 2, of: 2)
        #expect(!first.isEmpty && !second.isEmpty)
        let work = TemporaryDirectory()
        let run = try JobProcess.run("etl-nightly", nightlyArguments(work: work) + ["--shard", "1/2", "--dry-run"],
                                     environment: ["MUSICETL_SHARD": "2/2",
                                                   "MONGODB_URI": "mongodb://127.0.0.1:1/?directConnection=true"])
        #expect(run.status == 0, "\(run.standardError)")
        #expect(run.standardError.contains("--shard 1/2: this dataset has no entity split by shard"), "extract: \(run.standardError)")
        let computed = run.standardOutput.split(separator: "\n").compactMap { line -> Int? in
            let fields = line.split(separator: "\t")
            return fields.first == "compute" && fields.count > 1 ? Int(fields[1]) : nil
        }
        #expect(computed.sorted() == first, "features: \(run.standardOutput)")

        // Without the flag the environment's shard is the night's.
        let byEnvironment = try JobProcess.run("etl-nightly", nightlyArguments(work: work) + ["--dry-run"],
                                               environment: ["MUSICETL_SHARD": "2/2",
                                                             "MONGODB_URI": "mongodb://127.0.0.1:1/?directConnection=true"])
        #expect(byEnvironment.status == 0, "\(byEnvironment.standardError)")
        #expect(byEnvironment.standardOutput.split(separator: "\n").filter { $0.hasPrefix("compute\t") }.count == second.count,
                "\(byEnvironment.standardOutput)")
    }

    @Test func aShardedNightStagesOnlyItsShardsFeatures() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = TemporaryDirectory()
        let run = try JobProcess.run("etl-nightly", nightlyArguments(work: work) + ["--shard", "2/2"],
                                     environment: ["MONGODB_URI": uri, "MUSICETL_DB": database])
        #expect(run.status == 0, "\(run.standardError)")
        // Extract and features only: a scaler fitted on one shard must never reach the database.
        #expect(run.lastLine.hasPrefix("etl-nightly ok: 2 steps ok"), "\(run.lastLine)")
        #expect(run.standardError.contains("etl-normalize, etl-load, etl-export left to the host that gathers every shard"),
                "\(run.standardError)")
        #expect(!FileManager.default.fileExists(atPath: work.path + "/staging/training.jsonl"))
        #expect(!FileManager.default.fileExists(atPath: work.path + "/exports"))
        let staged = try FileManager.default.contentsOfDirectory(atPath: work.path + "/staging/features")
            .filter { $0.hasSuffix(".jsonl") }
        #expect(staged == ["features.shard-2-of-2.jsonl"], "\(run.standardError)")
        let lines = try String(contentsOfFile: work.path + "/staging/features/features.shard-2-of-2.jsonl", encoding: .utf8)
            .split(separator: "\n")
        let ids = lines.compactMap { line in Int(line.dropFirst("{\"_id\":".count).prefix { $0.isNumber }) }
        #expect(ids.sorted() == sampleIDs(inShard: 2, of: 2), "\(lines)")
    }

    @Test func theGatheringHostRunsTheRestOnceEveryShardIsThere() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        let gathering = TemporaryDirectory(), other = TemporaryDirectory()
        // The shard hosts run at once, and write files only: no lease to wait for, no MongoDB needed.
        let noServer = ["MONGODB_URI": "mongodb://127.0.0.1:1/?directConnection=true", "MUSICETL_DB": database]
        let shardRuns = try [(gathering, "1/2"), (other, "2/2")].map { work, shard in
            try JobProcess.start("etl-nightly", nightlyArguments(work: work) + ["--shard", shard], environment: noServer)
        }
        for outcome in shardRuns.map({ $0.wait() }) {
            #expect(outcome.status == 0, "\(outcome.standardError)")
        }
        // One shard short: the scaler would be fitted on half the training rows.
        let early = try JobProcess.run("etl-nightly", nightlyArguments(work: gathering) + ["--from", "normalize"], environment: environment)
        #expect(early.status == 69, "\(early.standardError)")
        #expect(early.lastLine.contains("lack shard 2-of-2"), "\(early.lastLine)")

        let name = "features.shard-2-of-2.jsonl"
        try FileManager.default.copyItem(atPath: other.path + "/staging/features/" + name,
                                         toPath: gathering.path + "/staging/features/" + name)
        let rest = try JobProcess.run("etl-nightly", nightlyArguments(work: gathering) + ["--from", "normalize"], environment: environment)
        #expect(rest.status == 0, "\(rest.standardError)")
        #expect(rest.lastLine.hasPrefix("etl-nightly ok: 3 steps ok"), "\(rest.lastLine)")
        // The same rows as one host's night.
        let single = TemporaryDirectory(), singleDatabase = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(singleDatabase) }
        let whole = try JobProcess.run("etl-nightly", nightlyArguments(work: single),
                                       environment: ["MONGODB_URI": uri, "MUSICETL_DB": singleDatabase])
        #expect(whole.status == 0, "\(whole.standardError)")
        let output = { (work: TemporaryDirectory) in try Data(contentsOf: work.url.appendingPathComponent("exports/training/output.csv")) }
        #expect(try output(gathering) == output(single))

        let noShardedStep = try JobProcess.run("etl-nightly", nightlyArguments(work: gathering) + ["--shard", "1/2", "--from", "load"])
        #expect(noShardedStep.status == 64, "\(noShardedStep.standardError)")
        #expect(noShardedStep.lastLine.contains("--from load leaves none"), "\(noShardedStep.lastLine)")
    }

    @Test func aBadShardExits64NamingTheFlag() throws {
        let work = TemporaryDirectory()
        let outOfRange = try JobProcess.run("etl-nightly", nightlyArguments(work: work) + ["--shard", "3/2"])
        #expect(outOfRange.status == 64, "\(outOfRange.standardError)")
        #expect(outOfRange.lastLine == "etl-nightly usage error: --shard 3/2: K/N needs 1 ≤ K ≤ N", "\(outOfRange.lastLine)")

        let notAShard = try JobProcess.run("etl-nightly", nightlyArguments(work: work) + ["--shard", "half"])
        #expect(notAShard.status == 64, "\(notAShard.standardError)")
        #expect(notAShard.lastLine.contains("'half'") && notAShard.lastLine.contains("--shard"), "\(notAShard.lastLine)")

        let fromEnvironment = try JobProcess.run("etl-nightly", nightlyArguments(work: work),
                                                 environment: ["MUSICETL_SHARD": "0/4"])
        #expect(fromEnvironment.status == 64, "\(fromEnvironment.standardError)")
        #expect(fromEnvironment.lastLine.contains("--shard 0/4: K/N needs 1 ≤ K ≤ N (shard from env MUSICETL_SHARD)"),
                "\(fromEnvironment.lastLine)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: work.path).filter { $0 != ".musicetl.lock" }.isEmpty,
                "refused before the night starts")
    }
}
