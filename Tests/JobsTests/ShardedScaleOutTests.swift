import DocumentStore
import Foundation
import Testing
import TestSupport

/// Scale-out as the README lays it out: N hosts each run `etl-features --shard K/N` at once in a
/// work directory of their own (one work directory takes one run at a time), their shard files are
/// gathered into the staging of the work directory that runs extract, normalize, load and export,
/// and the database and `output.csv` come out as one unsharded night's.
@Suite(.serialized) struct ShardedScaleOutTests {
    let metadata = Fixtures.url("sample/fma_metadata").path
    let audio = Fixtures.url("sample/audio").path

    private func run(_ job: String, _ arguments: [String], environment: [String: String]) throws {
        let outcome = try JobProcess.run(job, arguments, environment: environment)
        #expect(outcome.status == 0, "\(job) \(arguments): \(outcome.standardError)")
    }

    @Test(arguments: [2, 3]) func shardsOnSeparateHostsGiveOneHostsDatabaseAndExport(hosts: Int) throws {
        let uri = try TestServer.uri()
        let single = TestServer.uniqueDatabaseName(), sharded = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(single); TestServer.dropDatabase(sharded) }

        // One host: every step in one work directory.
        let singleWork = TemporaryDirectory()
        let singleEnvironment = ["MONGODB_URI": uri, "MUSICETL_DB": single]
        try run("etl-extract", ["--metadata", metadata, "--tracks-file", "raw_tracks.csv", "--work-dir", singleWork.path],
                environment: singleEnvironment)
        try run("etl-features", ["--audio", audio, "--work-dir", singleWork.path], environment: singleEnvironment)
        for job in ["etl-normalize", "etl-load", "etl-export"] {
            try run(job, ["--work-dir", singleWork.path], environment: singleEnvironment)
        }

        // N hosts: the feature shards at the same time, each in its own work directory.
        let shardWorks = (1...hosts).map { _ in TemporaryDirectory() }
        let running = try shardWorks.enumerated().map { index, work in
            try JobProcess.start("etl-features", ["--audio", audio, "--work-dir", work.path, "--shard", "\(index + 1)/\(hosts)"])
        }
        for (index, job) in running.enumerated() {
            let outcome = job.wait()
            #expect(outcome.status == 0, "shard \(index + 1)/\(hosts): \(outcome.standardError)")
        }
        // The coordinating work directory: extract, the shard files gathered, then the rest.
        let mainWork = TemporaryDirectory()
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": sharded]
        try run("etl-extract", ["--metadata", metadata, "--tracks-file", "raw_tracks.csv", "--work-dir", mainWork.path],
                environment: environment)
        let gathered = mainWork.url.appendingPathComponent("staging/features")
        try FileManager.default.createDirectory(at: gathered, withIntermediateDirectories: true)
        var shardIDs = 0
        for (index, work) in shardWorks.enumerated() {
            let name = "features.shard-\(index + 1)-of-\(hosts).jsonl"
            let shardFile = work.url.appendingPathComponent("staging/features/\(name)")
            shardIDs += try String(contentsOf: shardFile, encoding: .utf8).split(separator: "\n").count
            try FileManager.default.copyItem(at: shardFile, to: gathered.appendingPathComponent(name))
        }
        #expect(shardIDs == 5, "the five sample clips, each in exactly one shard")
        for job in ["etl-normalize", "etl-load", "etl-export"] {
            try run(job, ["--work-dir", mainWork.path], environment: environment)
        }

        let singleState = try withoutFittingRun(pipelineState(uri: uri, database: single))
        #expect(singleState["features"]?.count == 5 && singleState["training"]?.count == 5)
        #expect(try withoutFittingRun(pipelineState(uri: uri, database: sharded)) == singleState)
        let exported = { (work: TemporaryDirectory) in
            try Data(contentsOf: work.url.appendingPathComponent("exports/training/output.csv"))
        }
        #expect(try exported(mainWork) == exported(singleWork), "byte-identical output.csv")
    }
}
