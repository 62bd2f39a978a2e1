import DocumentStore
@testable import ETLJobs
@testable import LoadStage
import Staging
import Foundation
import Pipeline
import Testing
import TestSupport

/// etl-load against the test server: idempotence, change detection, validator rejects, and a
/// server that dies mid-load.
@Suite(.serialized) struct LoadJobTests {
    let sample = Fixtures.url("sample/fma_metadata").path

    /// A work directory with the sample's genres staged by the real etl-extract.
    private func stagedWork() throws -> TemporaryDirectory {
        let work = TemporaryDirectory()
        let extract = try JobProcess.run("etl-extract", ["--metadata", sample, "--work-dir", work.path, "--max-reject-ratio", "1"])
        #expect(extract.status == 0, "\(extract.standardError)")
        return work
    }

    private func metadataStaging(_ work: TemporaryDirectory) -> String {
        work.url.appendingPathComponent("staging/metadata").path
    }

    /// The success marker a successful extract leaves, with the staged files' counts as they are now.
    private func markSuccessfulExtract(_ work: TemporaryDirectory) throws {
        var files: [StagingMarker.File] = []
        for name in ["genres", "albums", "artists", "tracks"] {
            let url = work.url.appendingPathComponent("staging/metadata/\(name).jsonl")
            if FileManager.default.fileExists(atPath: url.path) {
                files.append(StagingMarker.File(name: "\(name).jsonl", collection: name, source: "", rows: try StagedInputs.read(url).count))
            }
        }
        try StagingMarker(job: "etl-extract", run: "test", only: nil, files: files).write(in: metadataStaging(work))
    }

    private func documents(_ collection: String, uri: String, database: String) throws -> [Document] {
        let client = try MongoConnection(uri: uri).client()
        let cursor = try client.collection(collection, database: database).find([:], options: ["sort": .document(["_id": 1])])
        var all: [Document] = []
        while let document = try cursor.next() { all.append(document) }
        return all
    }

    @Test func secondLoadWritesNothingAndOneChangeIsOneUpdate() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = try stagedWork()
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        let first = try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment)
        #expect(first.status == 0, "\(first.standardError)")
        let afterFirst = try documents("genres", uri: uri, database: database)
        #expect(afterFirst.count == 163)
        #expect(afterFirst.allSatisfy { $0["_hash"]?.stringValue?.count == 64 }, "each document carries its SHA-256")

        let second = try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment)
        #expect(second.status == 0)
        #expect(second.lastLine.contains("0 genres inserted, 0 genres updated, 163 genres unchanged, 0 genres rejected"),
                "\(second.lastLine)")
        #expect(try documents("genres", uri: uri, database: database) == afterFirst, "byte-identical collection")

        // Change one staged genre: exactly one update, nothing else touched.
        let staged = work.url.appendingPathComponent("staging/metadata/genres.jsonl")
        var genres = try StagedInputs.read(staged)
        let hipHop = try #require(genres.firstIndex { $0["_id"] == 21 })
        genres[hipHop]["title"] = "Hip Hop"
        try StagedInputs.writeLines(genres, to: staged)
        let third = try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment)
        #expect(third.lastLine.contains("0 genres inserted, 1 genres updated, 162 genres unchanged"), "\(third.lastLine)")
        let afterThird = try documents("genres", uri: uri, database: database)
        #expect(afterThird.first { $0["_id"] == 21 }?["title"] == "Hip Hop")
        #expect(afterThird.filter { $0["_id"] != 21 } == afterFirst.filter { $0["_id"] != 21 })

        // The run ledger: every run so far (extract and three loads) is in etl_runs.
        let runs = try documents("etl_runs", uri: uri, database: database)
        #expect(runs.filter { $0["job"] == "etl-load" }.count == 3)
        #expect(runs.filter { $0["job"] == "etl-extract" }.count == 1)
        #expect(runs.allSatisfy { $0["status"] == "ok" && $0["counts"]?.documentValue != nil })
    }

    @Test func pruneRemovesDocumentsWhoseSourceRowsAreGone() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = try stagedWork()
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        #expect(try JobProcess.run("etl-load", ["--work-dir", work.path, "--in-flight", "3", "--batch-size", "7"],
                                   environment: environment).status == 0)
        let staged = work.url.appendingPathComponent("staging/metadata/genres.jsonl")
        try StagedInputs.writeLines(try StagedInputs.read(staged).filter { $0["_id"] != 21 }, to: staged)
        let withoutPrune = try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment)
        #expect(withoutPrune.lastLine.contains("162 genres unchanged"), "\(withoutPrune.lastLine)")
        #expect(try documents("genres", uri: uri, database: database).count == 163, "no --prune: nothing deleted")
        try markSuccessfulExtract(work)
        let pruned = try JobProcess.run("etl-load", ["--work-dir", work.path, "--prune"], environment: environment)
        #expect(pruned.lastLine.contains("1 genres pruned"), "\(pruned.lastLine)")
        let remaining = try documents("genres", uri: uri, database: database)
        #expect(remaining.count == 162 && !remaining.contains { $0["_id"] == 21 })
    }

    /// A prune that would delete most of a collection is a broken input (an empty or renamed source):
    /// nothing deleted from that collection, exit 65 naming it and the counts; the other
    /// collections load as usual; --allow-large-prune deletes them (--force, which rewrites
    /// what looks unchanged, does not).
    @Test func pruneOfMostOfACollectionIsRefusedUnlessAllowed() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = try stagedWork()
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        #expect(try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment).status == 0)
        let trackCount = try documents("tracks", uri: uri, database: database).count
        #expect((2...10).contains(trackCount), "a small collection: refused because every document would go")
        // 143 of 163 genres gone (over half, over 10), every track gone, one artist gone.
        let genres = work.url.appendingPathComponent("staging/metadata/genres.jsonl")
        try StagedInputs.writeLines(Array(try StagedInputs.read(genres).prefix(20)), to: genres)
        try StagedInputs.writeLines([], to: work.url.appendingPathComponent("staging/metadata/tracks.jsonl"))
        let artists = work.url.appendingPathComponent("staging/metadata/artists.jsonl")
        let stagedArtists = try StagedInputs.read(artists)
        try StagedInputs.writeLines(Array(stagedArtists.dropFirst()), to: artists)
        try markSuccessfulExtract(work)

        let refused = try JobProcess.run("etl-load", ["--work-dir", work.path, "--prune"], environment: environment)
        #expect(refused.status == 65, "\(refused.standardError)")
        #expect(refused.lastLine.contains("prune refused, nothing deleted from them: genres would lose 143 of its 163 documents; tracks would lose \(trackCount) of its \(trackCount) documents"),
                "\(refused.lastLine)")
        #expect(refused.lastLine.contains("run with --allow-large-prune"), "\(refused.lastLine)")
        #expect(refused.lastLine.contains("1 artists pruned"), "a collection within the limit prunes: \(refused.lastLine)")
        #expect(try documents("genres", uri: uri, database: database).count == 163)
        #expect(try documents("tracks", uri: uri, database: database).count == trackCount)
        #expect(try documents("artists", uri: uri, database: database).count == stagedArtists.count - 1)

        let forced = try JobProcess.run("etl-load", ["--work-dir", work.path, "--prune", "--force"], environment: environment)
        #expect(forced.status == 65, "--force rewrites, it does not allow the prune: \(forced.lastLine)")
        #expect(try documents("genres", uri: uri, database: database).count == 163)

        let allowed = try JobProcess.run("etl-load", ["--work-dir", work.path, "--prune", "--allow-large-prune"], environment: environment)
        #expect(allowed.status == 0, "\(allowed.standardError)")
        #expect(allowed.lastLine.contains("143 genres pruned") && allowed.lastLine.contains("\(trackCount) tracks pruned"), "\(allowed.lastLine)")
        #expect(try documents("genres", uri: uri, database: database).count == 20)
        #expect(try documents("tracks", uri: uri, database: database).isEmpty)
    }

    /// Every id changed (a wrong key, another dataset staged) is every stored document gone: the
    /// limit is of what the collection held before the load, not diluted by the ids it inserted.
    @Test func pruneOfEveryIdChangedIsRefused() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = try stagedWork()
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        #expect(try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment).status == 0)
        let genres = work.url.appendingPathComponent("staging/metadata/genres.jsonl")
        let renumbered = try StagedInputs.read(genres).map { genre in
            var genre = genre
            genre["_id"] = .integer((genre["_id"]?.int64Value ?? 0) + 1_000_000)
            return genre
        }
        try StagedInputs.writeLines(renumbered, to: genres)
        try markSuccessfulExtract(work)

        let refused = try JobProcess.run("etl-load", ["--work-dir", work.path, "--prune"], environment: environment)
        #expect(refused.status == 65, "\(refused.standardError)")
        #expect(refused.lastLine.contains("genres would lose 163 of its 163 documents"), "\(refused.lastLine)")
        let stored = try documents("genres", uri: uri, database: database)
        #expect(stored.count == 326, "the 163 old genres kept beside the 163 inserted")
        #expect(stored.contains { $0["_id"] == 21 })
    }

    /// The limit: more than half, and more than 10 documents or every one.
    @Test func pruneLimitIsMoreThanHalfAndMoreThanAHandfulOrAll() {
        #expect(LoadStage.pruneRefusal(collection: "c", deleting: 11, of: 21) != nil)
        #expect(LoadStage.pruneRefusal(collection: "c", deleting: 10, of: 19) == nil, "a handful")
        #expect(LoadStage.pruneRefusal(collection: "c", deleting: 50, of: 100) == nil, "half is not more than half")
        #expect(LoadStage.pruneRefusal(collection: "c", deleting: 3, of: 5) == nil)
        #expect(LoadStage.pruneRefusal(collection: "c", deleting: 5, of: 5) != nil, "every one")
        #expect(LoadStage.pruneRefusal(collection: "c", deleting: 0, of: 0) == nil)
    }

    @Test func pruneRefusesStagingNoSuccessfulExtractVouchesFor() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = try stagedWork()
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        #expect(try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment).status == 0)
        let loaded = try documents("genres", uri: uri, database: database).count
        // A failed extract's leftovers: no marker at all.
        try? FileManager.default.removeItem(atPath: metadataStaging(work) + "/" + StagingMarker.fileName)
        let staged = work.url.appendingPathComponent("staging/metadata/genres.jsonl")
        try StagedInputs.writeLines(Array(try StagedInputs.read(staged).prefix(3)), to: staged)
        let noMarker = try JobProcess.run("etl-load", ["--work-dir", work.path, "--prune"], environment: environment)
        #expect(noMarker.status == 65, "\(noMarker.standardError)")
        #expect(noMarker.lastLine.contains("--prune refused") && noMarker.lastLine.contains("_SUCCESS.json is missing"),
                "\(noMarker.lastLine)")
        // A marker whose counts are not those of the staged files.
        try markSuccessfulExtract(work)
        var marker = try #require(try StagingMarker.read(in: metadataStaging(work)))
        marker.files = marker.files.map { file in
            var file = file
            if file.name == "genres.jsonl" { file.rows = 163 }
            return file
        }
        try marker.write(in: metadataStaging(work))
        let disagreeing = try JobProcess.run("etl-load", ["--work-dir", work.path, "--prune"], environment: environment)
        #expect(disagreeing.status == 65, "\(disagreeing.standardError)")
        #expect(disagreeing.lastLine.contains("genres.jsonl has 3 rows, the success marker of run test says 163"),
                "\(disagreeing.lastLine)")
        // Features staged by one shard of two: the other shard's ids would be deleted.
        try markSuccessfulExtract(work)
        try StagedInputs.writeLines([StagedInputs.featureDocument(id: 2) { _, _ in 1 }],
                                    to: work.url.appendingPathComponent("staging/features/features.shard-1-of-2.jsonl"))
        let oneShard = try JobProcess.run("etl-load", ["--work-dir", work.path, "--prune"], environment: environment)
        #expect(oneShard.status == 65, "\(oneShard.standardError)")
        #expect(oneShard.lastLine.contains("lack shard 2-of-2"), "\(oneShard.lastLine)")
        #expect(try documents("genres", uri: uri, database: database).count == loaded, "nothing deleted")
    }

    @Test func onlyLoadsThoseTrackIDsAndPruneNeverDeletesAnotherID() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = try stagedWork()
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        #expect(try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment).status == 0)
        let before = try documents("tracks", uri: uri, database: database)
        let ids = before.compactMap { $0["_id"]?.int64Value }
        #expect(ids.count >= 4)
        // Staging changes for four tracks: a, b retitled; c and d gone. --only names b and d.
        let (a, b, c, d) = (ids[0], ids[1], ids[2], ids[3])
        let staged = work.url.appendingPathComponent("staging/metadata/tracks.jsonl")
        var tracks = try StagedInputs.read(staged).filter { $0["_id"] != .integer(c) && $0["_id"] != .integer(d) }
        for index in tracks.indices where [a, b].contains(tracks[index]["_id"]?.int64Value ?? -1) {
            tracks[index]["title"] = "Retitled"
        }
        try StagedInputs.writeLines(tracks, to: staged)
        try markSuccessfulExtract(work)
        let only = try JobProcess.run("etl-load", ["--work-dir", work.path, "--only", "\(b),\(d)", "--prune"],
                                      environment: environment)
        #expect(only.status == 0, "\(only.standardError)")
        #expect(only.lastLine.contains("1 tracks read, 0 tracks inserted, 1 tracks updated"), "\(only.lastLine)")
        #expect(only.lastLine.contains("1 tracks pruned") && only.lastLine.contains("0 genres pruned"), "\(only.lastLine)")
        let after = try documents("tracks", uri: uri, database: database)
        #expect(after.first { $0["_id"] == .integer(b) }?["title"] == "Retitled")
        #expect(!after.contains { $0["_id"] == .integer(d) }, "d is in --only and no longer staged")
        #expect(after.first { $0["_id"] == .integer(a) } == before.first { $0["_id"] == .integer(a) }, "a is outside --only")
        #expect(after.contains { $0["_id"] == .integer(c) }, "c is outside --only: never pruned")
        #expect(after.count == before.count - 1)
    }

    @Test func aServerThatRefusesTheDocumentsFailsTheLoadNamingTheRejects() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = try stagedWork()
        // Every genre breaks the validator (title must be a string).
        let staged = work.url.appendingPathComponent("staging/metadata/genres.jsonl")
        var genres = try StagedInputs.read(staged)
        for index in genres.indices { genres[index]["title"] = .integer(Int64(index)) }
        try StagedInputs.writeLines(genres, to: staged)
        let load = try JobProcess.run("etl-load", ["--work-dir", work.path], environment: ["MONGODB_URI": uri, "MUSICETL_DB": database])
        #expect(load.status == 65, "\(load.standardError)")
        #expect(load.lastLine.contains("163 of 163 genres") && load.lastLine.contains("load.rejects.jsonl"), "\(load.lastLine)")
        #expect(load.lastLine.contains("tracks inserted"), "the other collections are still loaded: \(load.lastLine)")
        // A looser ratio accepts the same load.
        let loose = try JobProcess.run("etl-load", ["--work-dir", work.path, "--max-reject-ratio", "1"],
                                       environment: ["MONGODB_URI": uri, "MUSICETL_DB": database])
        #expect(loose.status == 0, "\(loose.lastLine)")
    }

    @Test func anIDStagedInTwoFeatureFilesIsNeverLoaded() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = TemporaryDirectory()
        let document = StagedInputs.featureDocument(id: 2) { _, _ in 1 }
        try StagedInputs.writeLines([document], to: work.url.appendingPathComponent("staging/features/features.jsonl"))
        try StagedInputs.writeLines([document], to: work.url.appendingPathComponent("staging/features/features.shard-2-of-2.jsonl"))
        let load = try JobProcess.run("etl-load", ["--work-dir", work.path], environment: ["MONGODB_URI": uri, "MUSICETL_DB": database])
        #expect(load.status == 65, "\(load.standardError)")
        #expect(load.lastLine.contains("id 2 is staged twice, at features.jsonl:1 and at features.shard-2-of-2.jsonl:1"),
                "\(load.lastLine)")
        #expect(try documents("features", uri: uri, database: database).isEmpty)
    }

    @Test func documentBreakingTheValidatorIsQuarantinedWithCode121AndTheRestLand() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = try stagedWork()
        let staged = work.url.appendingPathComponent("staging/metadata/genres.jsonl")
        var text = try String(contentsOf: staged, encoding: .utf8)
        text += "{ \"_id\" : 9999, \"title\" : 42, \"parent\" : 0 }\n"  // title must be a string
        try text.write(to: staged, atomically: true, encoding: .utf8)
        let load = try JobProcess.run("etl-load", ["--work-dir", work.path],
                                      environment: ["MONGODB_URI": "mongodb://user:pw@" + uri.dropFirst("mongodb://".count),
                                                    "MUSICETL_DB": database])
        // The test server has no users: credentials are only there to prove they are never printed.
        if load.status != 0 && load.standardError.contains("uthentication") { return }
        #expect(load.status == 0, "\(load.standardError)")
        #expect(load.lastLine.contains("163 genres inserted") && load.lastLine.contains("1 genres rejected"), "\(load.lastLine)")
        #expect(!load.standardError.contains(":pw@"))
        let quarantine = try FileManager.default.subpathsOfDirectory(atPath: work.path + "/quarantine")
            .first { $0.hasSuffix("load.rejects.jsonl") }
        let rejectsPath = work.path + "/quarantine/" + (try #require(quarantine))
        let rejects = try String(contentsOfFile: rejectsPath, encoding: .utf8).split(separator: "\n")
        #expect(rejects.count == 1)
        let reject = try BSONDocument(json: String(rejects[0])).document()
        #expect(reject["code"]?.int64Value == 121)
        #expect(reject["_id"]?.int64Value == 9999)
        #expect(try documents("genres", uri: uri, database: database).count == 163)
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["MONGODB_URI"] == nil, "needs a server the test may kill"))
    func serverKilledMidLoadExits69AndARerunConverges() throws {
        let storage = TemporaryDirectory()
        let work = TemporaryDirectory()
        let database = "musicetl_kill"
        // 20,000 staged genres: enough that the load is still running when the server dies.
        let writer = try FileHandle(forWritingTo: {
            let url = work.url.appendingPathComponent("staging/metadata/genres.jsonl")
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: url.path, contents: nil)
            return url
        }())
        var lines = ""
        for id in 1...20_000 { lines += "{ \"_id\" : \(id), \"title\" : \"Genre \(id)\", \"parent\" : \(id / 10) }\n" }
        writer.write(Data(lines.utf8))
        try writer.close()

        var server: PrivateTestServer? = try PrivateTestServer(storage: storage.path)
        let environment = { (uri: String) in ["MONGODB_URI": uri, "MUSICETL_DB": database] }
        let load = try JobProcess.start("etl-load", ["--work-dir", work.path, "--batch-size", "500"],
                                        environment: environment(try #require(server).uri))
        // Wait until some documents have landed, then kill the server as a crash would.
        let deadline = Date().addingTimeInterval(60)
        var landed: Int64 = 0
        while landed == 0 && Date() < deadline {
            usleep(100_000)
            landed = (try? MongoConnection(uri: try #require(server).uri).client()
                .collection("genres", database: database).countDocuments()) ?? 0
        }
        #expect(landed > 0 && landed < 20_000, "killed mid-load (\(landed) documents landed)")
        server?.kill()
        let interrupted = load.wait()
        #expect(interrupted.status == 69, "\(interrupted.standardError)")
        #expect(interrupted.lastLine.hasPrefix("etl-load unavailable"), "\(interrupted.lastLine)")
        server = nil

        let restarted = try PrivateTestServer(storage: storage.path)
        let rerun = try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment(restarted.uri))
        #expect(rerun.status == 0, "\(rerun.standardError)")
        let final = try documents("genres", uri: restarted.uri, database: database)
        #expect(final.count == 20_000)
        #expect(final.first?["title"] == "Genre 1" && final.last?["title"] == "Genre 20000")
        #expect(final.allSatisfy { $0["_hash"] != nil })
    }

    /// A server, firewall or load balancer that closes connections idle past its limit (here a
    /// proxy closing them after 300 ms): the load state's client sits idle through a collection's
    /// writes, the clients of the pool between collections; each first command on a closed
    /// connection is sent again, and the load completes with every count right.
    @Test func aLoadWhoseConnectionsAreClosedWhileIdleCompletesWithTheRightCounts() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = try stagedWork()
        // Each reply held back 30 ms: the 17 batches of 10 genres, one at a time, keep the load
        // state's client idle for over 500 ms between the summary's delete and the state's write,
        // however fast the server. So some command meets a closed connection: that write, or an
        // earlier one on another idle client (after which libmongoc reconnects the others quietly).
        let proxy = try IdleClosingProxy(upstream: IdleClosingProxy.serverAddress(of: uri), idleLimit: .milliseconds(300),
                                         replyDelay: .milliseconds(30))
        let load = try JobProcess.run("etl-load", ["--work-dir", work.path, "--batch-size", "10", "--in-flight", "1"],
                                      environment: ["MONGODB_URI": proxy.uri(for: uri), "MUSICETL_DB": database])
        #expect(load.status == 0, "\(load.standardError)")
        #expect(proxy.idleClosures > 0)
        #expect(load.standardError.contains("sending it again"), "a command met a closed connection: \(load.standardError)")
        for name in ["genres", "albums", "artists", "tracks"] {
            let staged = try StagedInputs.read(work.url.appendingPathComponent("staging/metadata/\(name).jsonl")).count
            #expect(staged > 0)
            #expect(load.lastLine.contains("\(staged) \(name) read, \(staged) \(name) inserted, 0 \(name) updated"), "\(load.lastLine)")
            #expect(try documents(name, uri: uri, database: database).count == staged, "\(name)")
        }
        // The state stored through the closed connections is whole: the next night, straight to
        // the server, compares against it and writes nothing.
        let next = try JobProcess.run("etl-load", ["--work-dir", work.path], environment: ["MONGODB_URI": uri, "MUSICETL_DB": database])
        #expect(next.status == 0, "\(next.standardError)")
        #expect(next.lastLine.contains("0 genres inserted, 0 genres updated, 163 genres unchanged"), "\(next.lastLine)")
        #expect(!next.standardError.contains("reading every stored hash"), "\(next.standardError)")
    }

    // MARK: the load state (etl_load_state) and how each way of changing the database converges

    private func collection(_ name: String, uri: String, database: String) throws -> MongoCollection {
        try MongoConnection(uri: uri).client().collection(name, database: database)
    }

    /// Replaces stored documents as someone editing the database by hand would.
    private func replaceByHand(_ documents: [Document], in name: String, uri: String, database: String) throws {
        let result = try collection(name, uri: uri, database: database).upsertByID(documents.map { try BSONDocument($0) })
        #expect(result.writeErrors.isEmpty)
    }

    private func retitle(genre id: Int64, to title: String, in work: TemporaryDirectory) throws {
        let staged = work.url.appendingPathComponent("staging/metadata/genres.jsonl")
        var genres = try StagedInputs.read(staged)
        let index = try #require(genres.firstIndex { $0["_id"] == .integer(id) })
        genres[index]["title"] = .string(title)
        try StagedInputs.writeLines(genres, to: staged)
    }

    /// A chunk's digest is the SHA-256 of `key TAB hash [TAB line digest] NEWLINE` per entry, as
    /// every earlier version stored it: a state written before still reads as consistent.
    @Test func aChunkDigestIsTheHashOfItsEntriesText() throws {
        let line = try #require(StagedLineDigest(hex: String(repeating: "0f", count: 32)))
        let chunk: [(key: String, entry: LoadManifest.Entry)] = [
            ("i:1", .init(id: .int32(1), hash: "ab")),
            ("s:x", .init(id: .string("x"), hash: "cd", line: line)),
        ]
        // hashlib.sha256(b"i:1\tab\ns:x\tcd\t" + b"0f" * 32 + b"\n").hexdigest()
        #expect(LoadManifest.digest(chunk) == "9f305fc578eef1b123d42a027c571a89ab146255c2015feb78de3d4c6a2e2a60")
        #expect(LoadManifest.digest([]) == "")
    }

    @Test func anUnchangedNightComparesAgainstTheLoadStateAndWritesNothing() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = try stagedWork()
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        let cold = try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment)
        #expect(cold.status == 0, "\(cold.standardError)")
        #expect(cold.standardError.contains("genres: no load state: reading every stored hash"), "\(cold.standardError)")
        let state = try documents(LoadStateStore.collectionName, uri: uri, database: database)
        let summary = try #require(state.first { $0["_id"] == "genres" })
        #expect(summary["count"]?.int64Value == 163)
        #expect(summary["chunks"]?.arrayValue?.count == 256)
        let entries = state.filter { $0["collection"] == "genres" }.flatMap { $0["entries"]?.arrayValue ?? [] }
        #expect(entries.count == 163, "every stored genre in one chunk or another")
        // Each entry: [_id, _hash, SHA-256 of the staged line it was loaded from].
        let lines = try String(contentsOf: work.url.appendingPathComponent("staging/metadata/genres.jsonl"), encoding: .utf8)
            .split(separator: "\n").map { line in Array(line.utf8).withUnsafeBufferPointer { StagedLineDigest(of: $0).hex } }
        #expect(Set(entries.compactMap { $0.arrayValue?.last?.stringValue }) == Set(lines))

        let unchanged = try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment)
        #expect(unchanged.lastLine.contains("0 genres inserted, 0 genres updated, 163 genres unchanged"), "\(unchanged.lastLine)")
        #expect(unchanged.standardError.contains("genres: 163 read") && unchanged.standardError.contains("(load state;"),
                "\(unchanged.standardError)")
        #expect(unchanged.standardError.contains("163 unchanged (163 by their staged line)"), "not one line parsed: \(unchanged.standardError)")
        #expect(try documents(LoadStateStore.collectionName, uri: uri, database: database) == state,
                "a night that writes nothing leaves the state as it was")

        try retitle(genre: 21, to: "Hip Hop", in: work)
        let changed = try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment)
        #expect(changed.lastLine.contains("0 genres inserted, 1 genres updated, 162 genres unchanged"), "\(changed.lastLine)")
        #expect(changed.standardError.contains("(load state;"), "\(changed.standardError)")
        #expect(changed.standardError.contains("162 unchanged (162 by their staged line)"), "\(changed.standardError)")
        let after = try documents(LoadStateStore.collectionName, uri: uri, database: database)
        #expect(after.filter { $0["collection"] == "genres" && !state.contains($0) }.count == 1,
                "only the chunk holding genre 21 is rewritten")
    }

    @Test func aDroppedDatabaseOrStateIsLoadedAgainInFull() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = try stagedWork()
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        #expect(try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment).status == 0)
        TestServer.dropDatabase(database)
        let afterDrop = try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment)
        #expect(afterDrop.lastLine.contains("163 genres inserted"), "\(afterDrop.lastLine)")
        #expect(try documents("genres", uri: uri, database: database).count == 163)
        // The state alone dropped: every stored hash is read, nothing written, the state rebuilt.
        try collection(LoadStateStore.collectionName, uri: uri, database: database).drop()
        let stateDropped = try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment)
        #expect(stateDropped.lastLine.contains("0 genres inserted, 0 genres updated, 163 genres unchanged"), "\(stateDropped.lastLine)")
        #expect(stateDropped.standardError.contains("genres: no load state"), "\(stateDropped.standardError)")
        #expect(stateDropped.standardError.contains("163 unchanged (0 by their staged line)"), "\(stateDropped.standardError)")
        #expect(try documents(LoadStateStore.collectionName, uri: uri, database: database).contains { $0["_id"] == "genres" })
        // The rebuilt state holds the staged lines the stored hashes were found equal to.
        let next = try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment)
        #expect(next.standardError.contains("163 unchanged (163 by their staged line)"), "\(next.standardError)")
    }

    @Test func aDatabaseRestoredFromAnOldBackupGetsTheChangesSinceRewritten() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = try stagedWork()
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        #expect(try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment).status == 0)
        // The backup: the collections as they are now, the load state with them.
        let backup = try ["genres", LoadStateStore.collectionName].map { ($0, try documents($0, uri: uri, database: database)) }
        try retitle(genre: 21, to: "Hip Hop", in: work)
        try retitle(genre: 38, to: "Experimental Music", in: work)
        #expect(try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment).lastLine
            .contains("2 genres updated"))
        let current = try documents("genres", uri: uri, database: database)
        for (name, stored) in backup {
            try collection(name, uri: uri, database: database).drop()
            try replaceByHand(stored, in: name, uri: uri, database: database)
        }
        #expect(try documents("genres", uri: uri, database: database).first { $0["_id"] == 21 }?["title"] != "Hip Hop")
        let afterRestore = try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment)
        #expect(afterRestore.lastLine.contains("0 genres inserted, 2 genres updated, 161 genres unchanged"), "\(afterRestore.lastLine)")
        #expect(afterRestore.standardError.contains("(load state;"), "the restored state is consistent with the restored genres")
        #expect(try documents("genres", uri: uri, database: database) == current)
    }

    @Test func aCountChangedBehindTheLoadsBackIsSeenAndRepaired() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = try stagedWork()
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        #expect(try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment).status == 0)
        let loaded = try documents("genres", uri: uri, database: database)
        try collection("genres", uri: uri, database: database).deleteMany(["_id": 21])
        let afterDelete = try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment)
        #expect(afterDelete.standardError.contains("genres: holds 162 documents, its load state 163"), "\(afterDelete.standardError)")
        #expect(afterDelete.lastLine.contains("1 genres inserted, 0 genres updated, 162 genres unchanged"), "\(afterDelete.lastLine)")
        #expect(try documents("genres", uri: uri, database: database) == loaded)
        // A document added by hand: seen by the count, kept (no --prune), then pruned.
        try replaceByHand([["_id": 99_999, "title": "Added by hand", "parent": 0]], in: "genres", uri: uri, database: database)
        let afterInsert = try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment)
        #expect(afterInsert.standardError.contains("genres: holds 164 documents, its load state 163"), "\(afterInsert.standardError)")
        #expect(afterInsert.lastLine.contains("163 genres unchanged"), "\(afterInsert.lastLine)")
        try markSuccessfulExtract(work)
        let pruned = try JobProcess.run("etl-load", ["--work-dir", work.path, "--prune"], environment: environment)
        #expect(pruned.standardError.contains("genres: 163 read") && pruned.standardError.contains("(load state;"),
                "the state of the night before counts the added document: \(pruned.standardError)")
        #expect(pruned.lastLine.contains("1 genres pruned"), "\(pruned.lastLine)")
        #expect(try documents("genres", uri: uri, database: database) == loaded)
        // A chunk of the state edited by hand: its digest no longer matches, every hash is read again.
        let state = try collection(LoadStateStore.collectionName, uri: uri, database: database)
        var chunk = try #require(try documents(LoadStateStore.collectionName, uri: uri, database: database)
            .first { $0["collection"] == "genres" })
        chunk["entries"] = .array(Array((chunk["entries"]?.arrayValue ?? []).dropFirst()))
        _ = try state.upsertByID([try BSONDocument(chunk)])
        let afterChunkEdit = try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment)
        #expect(afterChunkEdit.standardError.contains("genres: load state chunks disagree"), "\(afterChunkEdit.standardError)")
        #expect(afterChunkEdit.lastLine.contains("163 genres unchanged"), "\(afterChunkEdit.lastLine)")
    }

    /// A hand edit the count cannot see (one document deleted, another added) passes the state's
    /// checks; a load that then rewrites the deleted id finds the server inserting what the state
    /// says it holds: it counts, and does not store a state the collection disagrees with.
    @Test func writesTheServerAcknowledgesOtherwiseThanTheStateExpectsAreCounted() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = try stagedWork()
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        #expect(try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment).status == 0)
        try collection("genres", uri: uri, database: database).deleteMany(["_id": 21])
        try replaceByHand([["_id": 99_999, "title": "Added by hand", "parent": 0]], in: "genres", uri: uri, database: database)
        try retitle(genre: 21, to: "Hip Hop", in: work)
        let changed = try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment)
        #expect(changed.lastLine.contains("1 genres inserted, 0 genres updated"), "\(changed.lastLine)")
        #expect(changed.standardError.contains("genres: the server's acknowledgements differ from the load state"),
                "\(changed.standardError)")
        #expect(changed.standardError.contains("genres: holds 164 documents, the load accounts for 163; load state not stored"),
                "\(changed.standardError)")
        let next = try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment)
        #expect(next.standardError.contains("genres: no load state"), "\(next.standardError)")
        #expect(next.lastLine.contains("0 genres inserted, 0 genres updated, 163 genres unchanged"), "\(next.lastLine)")
    }

    @Test func aDocumentEditedByHandIsRepairedByVerify() throws {
        let uri = try TestServer.uri(), database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = try stagedWork()
        let environment = ["MONGODB_URI": uri, "MUSICETL_DB": database]
        #expect(try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment).status == 0)
        let loaded = try documents("genres", uri: uri, database: database)
        var edited = try #require(loaded.first { $0["_id"] == 21 })
        edited["title"] = "Edited by hand"  // its _hash left as it was
        try replaceByHand([edited], in: "genres", uri: uri, database: database)
        // The count is the same: a night does not see the edit (the README says so).
        let night = try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment)
        #expect(night.lastLine.contains("0 genres updated, 163 genres unchanged"), "\(night.lastLine)")
        let verified = try JobProcess.run("etl-load", ["--work-dir", work.path, "--verify"], environment: environment)
        #expect(verified.status == 0, "\(verified.standardError)")
        #expect(verified.lastLine.contains("0 genres inserted, 1 genres updated, 162 genres unchanged")
                && verified.lastLine.contains("1 genres differing"), "\(verified.lastLine)")
        #expect(try documents("genres", uri: uri, database: database) == loaded)
        let again = try JobProcess.run("etl-load", ["--work-dir", work.path, "--verify"], environment: environment)
        #expect(again.lastLine.contains("163 genres unchanged") && again.lastLine.contains("0 genres differing"), "\(again.lastLine)")
    }
}
