import AudioFeatures
import DocumentStore
import Foundation
import Tabular
import Testing
import TestSupport

/// `etl-features` through the real executable, on a small FMA-layout tree of fixture clips and
/// damaged files.
@Suite(.serialized) struct FeaturesJobTests {
    /// relative path in the tree → fixture under Tests/Fixtures/audio.
    static let goodFiles: [(path: String, fixture: String)] = [
        ("000/000002.flac", "loop_amen_full.flac"),
        ("000/000010.ogg", "explosion_22050_mono.ogg"),
        ("000/000020.flac", "tabla_ke2_44ms.flac"),
        ("001/001000.wav", "corrupt/short_50ms_44100.wav"),
        ("extra/intro.wav", "corrupt/all_silence_22050.wav"),  // not an integer stem: the path is the id
    ]
    static let badFiles: [(path: String, fixture: String, reason: String)] = [
        ("000/000097.mp3", "corrupt/zero_bytes.mp3", "undecodable"),
        ("000/000098.mp3", "corrupt/text_renamed.mp3", "undecodable"),
        ("000/000099.flac", "corrupt/truncated.flac", "truncated"),
    ]
    static let statisticNames = ["mean", "std", "skew", "kurtosis", "median", "min", "max"]

    /// A temporary tree holding `files` (copies of fixtures) plus a non-audio file that must be ignored.
    func makeTree(_ files: [(path: String, fixture: String)]) throws -> TemporaryDirectory {
        let tree = TemporaryDirectory()
        for file in files {
            let target = tree.url.appendingPathComponent(file.path)
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: Fixtures.url("audio/" + file.fixture), to: target)
        }
        try Data("not audio".utf8).write(to: tree.url.appendingPathComponent("000/notes.txt"))
        return tree
    }

    func stagedLines(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    func stagedDocuments(_ path: String) throws -> [Document] {
        let reader = try JSONLinesReader(path: path)
        var documents: [Document] = []
        while let document = try reader.next() { documents.append(try document.document()) }
        return documents
    }

    func doubles(_ value: BSONValue?) -> [Double] {
        (value?.arrayValue ?? []).compactMap(\.doubleValue)
    }

    func same(_ a: Double, _ b: Double) -> Bool { a == b || (a.isNaN && b.isNaN) }

    func run(_ arguments: [String]) throws -> JobProcess.Outcome {
        try JobProcess.run("etl-features", arguments)
    }

    @Test func stagesDocumentsOfTheDesignShapeAndQuarantinesBadFiles() throws {
        let tree = try makeTree(Self.goodFiles + Self.badFiles.map { ($0.path, $0.fixture) })
        let work = TemporaryDirectory()
        let outcome = try run(["--audio", tree.path, "--work-dir", work.path, "--jobs", "2", "--max-reject-ratio", "0.5"])
        #expect(outcome.status == 0, "\(outcome.standardError)")
        #expect(outcome.lastLine.contains("8 files, 5 computed, 0 reused, 3 rejected"), "\(outcome.lastLine)")

        let stagingPath = work.path + "/staging/features/features.jsonl"
        let documents = try stagedDocuments(stagingPath)
        // Sorted by _id: integers first, then paths.
        #expect(documents.map { $0["_id"] } == [.int32(2), .int32(10), .int32(20), .int32(1000), .string("extra/intro.wav")])

        let extractor = try FeatureExtractor()
        for (document, file) in zip(documents, Self.goodFiles) {
            #expect(document.keys == ["_id", "source", "extractor", "n_frames", "mfcc", "spectral_centroid", "zcr"])
            let source = try #require(document["source"]?.documentValue)
            #expect(source.keys == ["path", "bytes", "mtime", "format", "sample_rate", "channels", "duration_s"])
            #expect(source["path"]?.stringValue == file.path)
            let attributes = try FileManager.default.attributesOfItem(atPath: tree.path + "/" + file.path)
            #expect(source["bytes"]?.int64Value == (attributes[.size] as? NSNumber)?.int64Value)
            guard case .dateTime(let millis)? = source["mtime"] else {
                Issue.record("source.mtime is not a date: \(String(describing: source["mtime"]))")
                continue
            }
            let mtime = try #require(attributes[.modificationDate] as? Date)
            #expect(abs(Double(millis) / 1000 - mtime.timeIntervalSince1970) < 0.001)

            let extractorInfo = try #require(document["extractor"]?.documentValue)
            #expect(extractorInfo.keys == ["version", "params_hash", "sample_rate", "n_fft", "hop_length", "n_mels", "n_mfcc"])
            #expect(extractorInfo["version"]?.stringValue == FeatureParameters.extractorVersion)
            #expect(extractorInfo["params_hash"]?.stringValue == FeatureParameters.librosaDefaults.paramsHash)
            #expect(extractorInfo["sample_rate"]?.int64Value == 22050)
            #expect(extractorInfo["n_mfcc"]?.int64Value == 20)

            // The numbers are exactly what the library computes for that file.
            let expected = try extractor.extract(fileAt: URL(fileURLWithPath: tree.path + "/" + file.path))
            #expect(document["n_frames"]?.int64Value == Int64(expected.nFrames))
            #expect(source["format"]?.stringValue == expected.source.format)
            #expect(source["sample_rate"]?.int64Value == Int64(expected.source.sampleRate))
            #expect(source["channels"]?.int64Value == Int64(expected.source.channels))
            #expect(source["duration_s"]?.doubleValue == expected.source.durationSeconds)
            let mfcc = try #require(document["mfcc"]?.documentValue)
            #expect(mfcc.keys == Self.statisticNames)
            for (index, name) in Self.statisticNames.enumerated() {
                let stored = doubles(mfcc[name])
                #expect(stored.count == 20)
                let computed = expected.mfcc.map { [$0.mean, $0.std, $0.skew, $0.kurtosis, $0.median, $0.min, $0.max][index] }
                #expect(zip(stored, computed).allSatisfy { same($0, $1) }, "\(file.path) mfcc.\(name)")
            }
            for (key, statistics) in [("spectral_centroid", expected.spectralCentroid), ("zcr", expected.zcr)] {
                let stored = try #require(document[key]?.documentValue)
                #expect(stored.keys == Self.statisticNames)
                let computed = [statistics.mean, statistics.std, statistics.skew, statistics.kurtosis,
                                statistics.median, statistics.min, statistics.max]
                #expect(zip(Self.statisticNames, computed).allSatisfy { same(stored[$0]?.doubleValue ?? -.infinity, $1) },
                        "\(file.path) \(key)")
            }
        }
        // Digital silence: centroid 0, and the skew of a constant series stays NaN in the document.
        let silence = try #require(documents.last)
        #expect(silence["spectral_centroid"]?.documentValue?["max"]?.doubleValue == 0)
        #expect(silence["zcr"]?.documentValue?["skew"]?.doubleValue?.isNaN == true)
        #expect(try String(contentsOfFile: stagingPath, encoding: .utf8).contains("\"$numberDouble\":\"NaN\""))

        // The rejects, with the decoder's reason.
        let quarantine = try FileManager.default.contentsOfDirectory(atPath: work.path + "/quarantine")
        #expect(quarantine.count == 1)
        let rejects = try readCSV(work.path + "/quarantine/\(quarantine[0])/audio.rejects.csv")
        #expect(rejects.first == ["path", "track_id", "reason", "message", "code"])
        #expect(rejects.dropFirst().map { Array($0.prefix(3)) } == [
            ["000/000097.mp3", "97", "undecodable"], ["000/000098.mp3", "98", "undecodable"],
            ["000/000099.flac", "99", "truncated"]])
        #expect(rejects.dropFirst().allSatisfy { !$0[3].isEmpty }, "every reject carries the decoder's message")
        #expect(rejects.dropFirst().allSatisfy { !$0[3].contains("does not exist") }, "the files exist: \(rejects)")
        #expect(rejects[1][4] != "0", "libsndfile's error code for a file it cannot open")
    }

    @Test func rerunReusesUnchangedFilesAndRecomputesTouchedOnes() throws {
        let tree = try makeTree(Array(Self.goodFiles.prefix(4)))
        let work = TemporaryDirectory()
        let arguments = ["--audio", tree.path, "--work-dir", work.path]
        let stagingPath = work.path + "/staging/features/features.jsonl"
        let first = try run(arguments)
        #expect(first.status == 0, "\(first.standardError)")
        #expect(first.lastLine.contains("4 files, 4 computed, 0 reused, 0 rejected"), "\(first.lastLine)")
        let firstBytes = try Data(contentsOf: URL(fileURLWithPath: stagingPath))

        let second = try run(arguments)
        #expect(second.lastLine.contains("4 files, 0 computed, 4 reused, 0 rejected"), "\(second.lastLine)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: stagingPath)) == firstBytes, "a re-run rewrites the same bytes")

        // A dry run lists what would be computed and writes nothing.
        let touched = tree.path + "/" + Self.goodFiles[1].path
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_600_000_000)],
                                              ofItemAtPath: touched)
        let dryRun = try run(arguments + ["--dry-run"])
        #expect(dryRun.status == 0)
        #expect(dryRun.standardOutput == "compute\t10\t000/000010.ogg\tchanged: mtime\n")
        #expect(dryRun.lastLine.contains("1 would compute, 3 would reuse"), "\(dryRun.lastLine)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: stagingPath)) == firstBytes)

        let third = try run(arguments)
        #expect(third.lastLine.contains("4 files, 1 computed, 3 reused, 0 rejected"), "\(third.lastLine)")
        let lines = try stagedLines(stagingPath), firstLines = String(decoding: firstBytes, as: UTF8.self)
            .split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines[0] == firstLines[0] && lines[2] == firstLines[2] && lines[3] == firstLines[3])
        #expect(lines[1] != firstLines[1] && lines[1].contains("2020-09-13T12:26:40"), "the new mtime is recorded")

        let forced = try run(arguments + ["--force"])
        #expect(forced.lastLine.contains("4 files, 4 computed, 0 reused, 0 rejected"), "\(forced.lastLine)")
        #expect(try stagedLines(stagingPath) == lines, "recomputing gives the same bytes")

        // --only: only those ids are looked at; the others' documents are kept as they are.
        let only = try run(arguments + ["--only", "000002,20", "--force"])
        #expect(only.lastLine.contains("4 files, 2 computed, 0 reused, 2 kept, 0 rejected"), "\(only.lastLine)")
        #expect(try stagedLines(stagingPath) == lines)

        // A removed file's document goes away.
        try FileManager.default.removeItem(atPath: touched)
        let afterRemoval = try run(arguments)
        #expect(afterRemoval.lastLine.contains("3 files, 0 computed, 3 reused"), "\(afterRemoval.lastLine)")
        #expect(try stagedLines(stagingPath) == [lines[0], lines[2], lines[3]])
    }

    @Test func shardsPartitionTheIds() throws {
        let tree = try makeTree(Self.goodFiles)
        let work = TemporaryDirectory()
        var shardIDs: [[String]] = []
        for k in 1...2 {
            let outcome = try run(["--audio", tree.path, "--work-dir", work.path, "--shard", "\(k)/2"])
            #expect(outcome.status == 0, "\(outcome.standardError)")
            let documents = try stagedDocuments(work.path + "/staging/features/features.shard-\(k)-of-2.jsonl")
            shardIDs.append(documents.compactMap { document in
                document["_id"]?.int64Value.map { String($0) } ?? document["_id"]?.stringValue
            })
        }
        #expect(!FileManager.default.fileExists(atPath: work.path + "/staging/features/features.jsonl"))
        let all = Set(shardIDs.joined())
        #expect(all == ["2", "10", "20", "1000", "extra/intro.wav"])
        #expect(shardIDs[0].count + shardIDs[1].count == all.count, "no id in both shards")
        #expect(!shardIDs[0].isEmpty && !shardIDs[1].isEmpty)
        // The partition is FNV-1a 64 of the id text, modulo N.
        for (index, ids) in shardIDs.enumerated() {
            for id in ids {
                var hash: UInt64 = 0xcbf2_9ce4_8422_2325
                for byte in id.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
                #expect(Int(hash % 2) == index, "\(id)")
            }
        }
        // --only in the sharded staging: each id into its shard's file, the others kept, no new layout.
        let shardFiles = (1...2).map { work.path + "/staging/features/features.shard-\($0)-of-2.jsonl" }
        let shardLines = try shardFiles.map(stagedLines)
        let only = try run(["--audio", tree.path, "--work-dir", work.path, "--only", "2,extra/intro.wav", "--force"])
        #expect(only.status == 0, "\(only.standardError)")
        #expect(only.lastLine.contains("2 computed, 0 reused, 3 kept"), "\(only.lastLine)")
        #expect(!FileManager.default.fileExists(atPath: work.path + "/staging/features/features.jsonl"))
        #expect(try shardFiles.map(stagedLines) == shardLines, "recomputed the same; every other line kept")

        // An unsharded run reuses what the shards computed, and replaces them.
        let whole = try run(["--audio", tree.path, "--work-dir", work.path])
        #expect(whole.lastLine.contains("5 files, 0 computed, 5 reused"), "\(whole.lastLine)")
        #expect(shardFiles.allSatisfy { !FileManager.default.fileExists(atPath: $0) }, "no id staged in two files")
        #expect(try Set(stagedLines(work.path + "/staging/features/features.jsonl")) == Set(shardLines.joined()))
    }

    @Test func framesAreStoredOnRequest() throws {
        let tree = try makeTree([Self.goodFiles[1], Self.goodFiles[2]])
        let work = TemporaryDirectory()
        let outcome = try run(["--audio", tree.path, "--work-dir", work.path, "--frames"])
        #expect(outcome.status == 0, "\(outcome.standardError)")
        let documents = try stagedDocuments(work.path + "/staging/features/features.jsonl")
        #expect(documents.count == 2)
        let extractor = try FeatureExtractor()
        for (document, file) in zip(documents, [Self.goodFiles[1], Self.goodFiles[2]]) {
            let nFrames = try #require(document["n_frames"]?.int64Value.map(Int.init))
            let frames = try #require(document["frames"]?.documentValue)
            #expect(frames.keys == ["mfcc", "spectral_centroid", "zcr"])
            let mfcc = try #require(frames["mfcc"]?.arrayValue)
            #expect(mfcc.count == 20)
            #expect(mfcc.allSatisfy { $0.arrayValue?.count == nFrames })
            #expect(frames["spectral_centroid"]?.arrayValue?.count == nFrames)
            #expect(frames["zcr"]?.arrayValue?.count == nFrames)
            let expected = try #require(try extractor.extract(fileAt: URL(fileURLWithPath: tree.path + "/" + file.path),
                                                              keepFrames: true).frames)
            #expect(doubles(mfcc[3]) == expected.mfcc[3].map(Double.init))
            #expect(doubles(frames["zcr"]) == expected.zcr)
        }
        // Without --frames the documents are recomputed without them; with it again, reused.
        let again = try run(["--audio", tree.path, "--work-dir", work.path, "--frames"])
        #expect(again.lastLine.contains("2 files, 0 computed, 2 reused"), "\(again.lastLine)")
        let plain = try run(["--audio", tree.path, "--work-dir", work.path])
        #expect(plain.lastLine.contains("2 files, 2 computed, 0 reused"), "\(plain.lastLine)")
        #expect(try stagedDocuments(work.path + "/staging/features/features.jsonl").allSatisfy { $0["frames"] == nil })
    }

    @Test func exitCodes() throws {
        let work = TemporaryDirectory()
        let sample = Fixtures.url("sample/audio").path
        for bad in ["0/2", "3/2", "1/0", "x", "1-2"] {
            let outcome = try run(["--audio", sample, "--work-dir", work.path, "--shard", bad])
            #expect(outcome.status == 64, "--shard \(bad): \(outcome.standardError)")
        }
        #expect(try run(["--audio", sample, "--work-dir", work.path, "--jobs", "0"]).status == 64)
        let missing = try run(["--audio", work.path + "/nope", "--work-dir", work.path])
        #expect(missing.status == 69)
        #expect(missing.lastLine.hasPrefix("etl-features unavailable") && missing.lastLine.contains("does not exist"))

        // Every file rejected: a data error, with the good documents (none here) still committed.
        let tree = try makeTree(Self.badFiles.map { ($0.path, $0.fixture) })
        let rejected = try run(["--audio", tree.path, "--work-dir", work.path])
        #expect(rejected.status == 65, "\(rejected.standardError)")
        #expect(rejected.lastLine.contains("3 of 3 audio files rejected"), "\(rejected.lastLine)")
    }

    /// An archive mounted elsewhere and linked in (the root or a subdirectory a symbolic link) is
    /// walked like one in place, with the link's paths; a link back to an enclosing directory is
    /// not walked again.
    @Test func symbolicLinksToDirectoriesAreFollowedAndCyclesWalkedOnce() throws {
        let archive = try makeTree([("000/000020.flac", "tabla_ke2_44ms.flac")])
        let elsewhere = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: elsewhere.path + "/001", withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Fixtures.url("audio/corrupt/short_50ms_44100.wav"),
                                         to: elsewhere.url.appendingPathComponent("001/001000.wav"))
        try FileManager.default.createSymbolicLink(atPath: archive.path + "/001", withDestinationPath: elsewhere.path + "/001")
        try FileManager.default.createSymbolicLink(atPath: archive.path + "/000/loop", withDestinationPath: archive.path)
        // A second link to a directory already walked (`current -> 2024`): walked once, by the
        // first path in byte order. A file system's `lost+found` is no part of the archive.
        try FileManager.default.createSymbolicLink(atPath: archive.path + "/zzz-current", withDestinationPath: elsewhere.path + "/001")
        try FileManager.default.createDirectory(atPath: archive.path + "/lost+found", withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Fixtures.url("audio/corrupt/short_50ms_44100.wav"),
                                         to: URL(fileURLWithPath: archive.path + "/lost+found/002000.wav"))
        let links = TemporaryDirectory()
        let linkedRoot = links.path + "/audio"
        try FileManager.default.createSymbolicLink(atPath: linkedRoot, withDestinationPath: archive.path)
        let work = TemporaryDirectory()
        let outcome = try run(["--audio", linkedRoot, "--work-dir", work.path, "--jobs", "1"])
        #expect(outcome.status == 0, "\(outcome.standardError)")
        #expect(outcome.lastLine.contains("2 files, 2 computed"), "\(outcome.lastLine)")
        let documents = try stagedDocuments(work.path + "/staging/features/features.jsonl")
        #expect(documents.map { $0["_id"] } == [.int32(20), .int32(1000)])
        #expect(documents.map { $0["source"]?.documentValue?["path"]?.stringValue } == ["000/000020.flac", "001/001000.wav"])
    }

    /// No audio file under `--audio` while tracks are staged is an unmounted or wrong directory,
    /// not a night's data: exit 69 naming it, the staged features kept (else a prune would delete
    /// them all). Without staged tracks an empty tree is just empty.
    @Test func anEmptyAudioDirectoryWithTracksStagedIsRefusedAndKeepsTheFeatures() throws {
        let archive = try makeTree([("000/000020.flac", "tabla_ke2_44ms.flac")])
        let work = TemporaryDirectory()
        let first = try run(["--audio", archive.path, "--work-dir", work.path, "--jobs", "1"])
        #expect(first.status == 0, "\(first.standardError)")
        let staged = work.path + "/staging/features/features.jsonl"
        let before = try Data(contentsOf: URL(fileURLWithPath: staged))

        let unmounted = TemporaryDirectory(), fresh = TemporaryDirectory()
        let unstaged = try run(["--audio", unmounted.path, "--work-dir", fresh.path])
        #expect(unstaged.status == 0 && unstaged.lastLine.contains("0 files, 0 computed"), "\(unstaged.standardError)")

        try StagedInputs.writeLines([StagedInputs.track(id: 20, split: "training")],
                                    to: work.url.appendingPathComponent("staging/metadata/tracks.jsonl"))
        let links = TemporaryDirectory()
        try FileManager.default.createSymbolicLink(atPath: links.path + "/audio", withDestinationPath: unmounted.path)
        for audio in [unmounted.path, links.path + "/audio"] {
            let refused = try run(["--audio", audio, "--work-dir", work.path])
            #expect(refused.status == 69, "\(refused.standardError)")
            #expect(refused.lastLine.contains("no audio files under \(audio): is it mounted?"), "\(refused.lastLine)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: staged)) == before)
        }
    }

    /// A scale-out host runs features by --shard without an extract (no tracks staged): features
    /// staged by an earlier run are enough to refuse an empty walk, exit 69, those features kept.
    @Test func anEmptyAudioDirectoryWithFeaturesStagedIsRefusedAndKeepsThem() throws {
        let archive = try makeTree([("000/000020.flac", "tabla_ke2_44ms.flac")])
        let work = TemporaryDirectory()
        let first = try run(["--audio", archive.path, "--work-dir", work.path, "--shard", "1/1", "--jobs", "1"])
        #expect(first.status == 0, "\(first.standardError)")
        let staged = work.path + "/staging/features/features.shard-1-of-1.jsonl"
        let before = try Data(contentsOf: URL(fileURLWithPath: staged))
        #expect(!FileManager.default.fileExists(atPath: work.path + "/staging/metadata/tracks.jsonl"))

        let unmounted = TemporaryDirectory()
        let refused = try run(["--audio", unmounted.path, "--work-dir", work.path, "--shard", "1/1"])
        #expect(refused.status == 69, "\(refused.standardError)")
        #expect(refused.lastLine.contains("no audio files under \(unmounted.path): is it mounted? (1 features are staged in"),
                "\(refused.lastLine)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: staged)) == before)
    }

    /// A part of the tree the walk cannot read (here a link into a path under a regular file, which
    /// no user, root neither, can stat) is its files missing from the staged features: exit 69
    /// naming the path, the staged features kept.
    @Test func anUnreadablePartOfTheAudioTreeIsRefusedAndKeepsTheFeatures() throws {
        let archive = try makeTree([("000/000020.flac", "tabla_ke2_44ms.flac")])
        let elsewhere = TemporaryDirectory()
        // A dangling link named as a non-audio file hides no audio: not a reason to stop.
        try FileManager.default.createSymbolicLink(atPath: archive.path + "/000/cover.jpg", withDestinationPath: elsewhere.path + "/gone.jpg")
        let work = TemporaryDirectory()
        let first = try run(["--audio", archive.path, "--work-dir", work.path, "--jobs", "1"])
        #expect(first.status == 0, "\(first.standardError)")
        let staged = work.path + "/staging/features/features.jsonl"
        let before = try Data(contentsOf: URL(fileURLWithPath: staged))

        try Data("not a directory".utf8).write(to: elsewhere.url.appendingPathComponent("file"))
        try FileManager.default.createSymbolicLink(atPath: archive.path + "/001", withDestinationPath: elsewhere.path + "/file/001")
        let refused = try run(["--audio", archive.path, "--work-dir", work.path])
        #expect(refused.status == 69, "\(refused.standardError)")
        #expect(refused.lastLine.contains("1 paths under \(archive.path) could not be read: \(archive.path)/001: Not a directory"),
                "\(refused.lastLine)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: staged)) == before)
    }

    @Test func bundledSampleMatchesTheSampleMetadata() throws {
        let work = TemporaryDirectory()
        let outcome = try run(["--audio", Fixtures.url("sample/audio").path, "--work-dir", work.path])
        #expect(outcome.status == 0, "\(outcome.standardError)")
        #expect(outcome.lastLine.contains("5 files, 5 computed, 0 reused, 0 rejected"), "\(outcome.lastLine)")
        let ids = try stagedDocuments(work.path + "/staging/features/features.jsonl").compactMap { $0["_id"]?.int64Value }
        let reader = try CSVReader(path: Fixtures.url("sample/fma_metadata/raw_tracks.csv").path)
        var record = CSVRecord()
        var trackIDs = Set<Int64>()
        _ = try reader.next(into: &record)
        while try reader.next(into: &record) { if let id = Int64(record.fields[0]) { trackIDs.insert(id) } }
        #expect(ids == [2, 3, 5, 10, 20])
        #expect(Set(ids).isSubset(of: trackIDs), "every sample clip is named after a track of raw_tracks.csv")
    }
}
