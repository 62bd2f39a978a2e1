import DocumentStore
import Foundation
import Tabular
import Testing
import TestSupport

/// The walking skeleton end to end, through the real executables: genres.csv → staging →
/// MongoDB → output.csv.
@Suite(.serialized) struct GenresEndToEndTests {
    let sample = Fixtures.url("sample/fma_metadata").path

    @Test func loadIsIdempotentAndExportMatchesTheSource() throws {
        let database = TestServer.uniqueDatabaseName()
        defer { TestServer.dropDatabase(database) }
        let work = TemporaryDirectory()
        let environment = ["MONGODB_URI": try TestServer.uri(), "MUSICETL_DB": database]

        let extract = try JobProcess.run("etl-extract", ["--metadata", sample, "--work-dir", work.path], environment: environment)
        #expect(extract.status == 0, "\(extract.standardError)")
        #expect(extract.lastLine.contains("163 genres in, 163 genres written, 0 genres quarantined"))

        let firstLoad = try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment)
        #expect(firstLoad.status == 0, "\(firstLoad.standardError)")
        #expect(firstLoad.lastLine.contains("163 genres inserted"))
        let afterFirst = try allGenres(database: database)
        #expect(afterFirst.count == 163)

        let secondLoad = try JobProcess.run("etl-load", ["--work-dir", work.path], environment: environment)
        #expect(secondLoad.status == 0, "\(secondLoad.standardError)")
        #expect(secondLoad.lastLine.contains("0 genres inserted, 0 genres updated, 163 genres unchanged"))
        let afterSecond = try allGenres(database: database)
        #expect(afterSecond.count == 163)
        #expect(afterSecond == afterFirst, "a re-run must not change any document")

        let export = try JobProcess.run("etl-export", ["--collection", "genres", "--work-dir", work.path],
                                        environment: environment)
        #expect(export.status == 0, "\(export.standardError)")
        let csv = try readCSV(work.url.appendingPathComponent("exports/genres/output.csv").path)
        #expect(csv.first == ["genre_id", "title", "parent", "top_level", "n_tracks", "color", "handle"])
        #expect(csv.count == 164, "header + 163 genres")
        let hipHop = try #require(csv.first { $0.first == "21" })
        // Source row in genres.csv: 21,8389,0,Hip-Hop,21 (genre_id,#tracks,parent,title,top_level).
        #expect(hipHop[0] == "21")
        #expect(hipHop[1] == "Hip-Hop")
        #expect(hipHop[2] == "0")
        #expect(hipHop[3] == "21")
        #expect(hipHop[4] == "8389")
        #expect(hipHop[5] == "" && hipHop[6] == "", "genres.csv has no color or handle")
        let ids = csv.dropFirst().compactMap { Int($0[0]) }
        #expect(ids == ids.sorted(), "rows ordered by _id")
    }

    @Test func unreachableServerFailsFastWithExitCode69() throws {
        let work = TemporaryDirectory()
        let extract = try JobProcess.run("etl-extract", ["--metadata", sample, "--work-dir", work.path])
        #expect(extract.status == 0)
        let load = try JobProcess.run("etl-load", ["--work-dir", work.path],
                                      environment: ["MONGODB_URI": "mongodb://etl:s3cret@127.0.0.1:1/?directConnection=true"])
        #expect(load.status == 69)
        #expect(load.seconds < 10, "must fail within seconds, took \(load.seconds)")
        #expect(load.lastLine.contains("127.0.0.1:1"), "the summary names the server: \(load.lastLine)")
        #expect(load.lastLine.hasPrefix("etl-load unavailable"))
        #expect(!load.standardError.contains("s3cret"), "passwords never appear in messages")
    }

    @Test func missingMetadataDirectoryIsExit69AndBadFlagIsExit64() throws {
        let work = TemporaryDirectory()
        let missing = try JobProcess.run("etl-extract", ["--metadata", work.path + "/nope", "--work-dir", work.path])
        #expect(missing.status == 69)
        #expect(missing.lastLine.contains("does not exist"))
        let badFlag = try JobProcess.run("etl-extract", ["--metadata", sample, "--no-such-flag"])
        #expect(badFlag.status == 64)
    }

    @Test(arguments: ["etl-extract", "etl-features", "etl-normalize", "etl-load", "etl-export", "etl-nightly"])
    func everyJobAnswersHelpAndVersion(job: String) throws {
        let version = try JobProcess.run(job, ["--version"])
        #expect(version.status == 0)
        #expect(version.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0")
        let help = try JobProcess.run(job, ["--help"])
        #expect(help.status == 0)
        #expect(help.standardOutput.contains("--work-dir"))
    }

    private func allGenres(database: String) throws -> [Document] {
        let client = try TestServer.connection().client()
        let cursor = try client.collection("genres", database: database).find([:], options: ["sort": .document(["_id": 1])])
        var documents: [Document] = []
        while let document = try cursor.next() { documents.append(document) }
        return documents
    }
}

func readCSV(_ path: String) throws -> [[String]] {
    let reader = try CSVReader(path: path)
    var record = CSVRecord()
    var rows: [[String]] = []
    while try reader.next(into: &record) { rows.append(record.fields) }
    return rows
}
