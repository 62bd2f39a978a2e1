#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TestSupport

/// Staging is replaced only by a successful run, all entities together, with the marker
/// `_SUCCESS.json` naming that run; `--only` rewrites only its ids' lines.
@Suite struct ExtractStagingTests {
    static func stagedFiles(_ work: TemporaryDirectory) throws -> [String: Data] {
        let directory = work.path + "/work/staging/metadata"
        var files: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            files[name] = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name))
        }
        return files
    }

    static func marker(_ work: TemporaryDirectory) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: work.path + "/work/staging/metadata/_SUCCESS.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func successfulRunWritesTheMarker() throws {
        let work = TemporaryDirectory()
        let run = try ExtractRun.run(metadata: ExtractRun.sample, work: work)
        #expect(run.outcome.status == 0)
        let marker = try Self.marker(work)
        #expect(marker["job"] as? String == "etl-extract")
        #expect(marker["status"] as? String == "ok")
        #expect(marker["only"] is NSNull)
        #expect(run.outcome.lastLine.contains("[run \(marker["run"] as? String ?? "?")]"))
        let files = try #require(marker["files"] as? [[String: Any]])
        #expect(files.map { $0["name"] as? String } == ["genres.jsonl", "albums.jsonl", "artists.jsonl", "tracks.jsonl"])
        #expect(files.map { ($0["rows"] as? NSNumber)?.intValue } == [163, 5, 4, 4])
    }

    @Test func failedRunLeavesTheStagingAsItWas() throws {
        let work = TemporaryDirectory()
        let metadata = try ExtractRun.metadata(in: work)
        #expect(try ExtractRun.run(metadata: metadata, work: work).outcome.status == 0)
        let before = try Self.stagedFiles(work)
        // Every album row loses a field: all of raw_albums.csv is quarantined.
        let albums = try String(contentsOfFile: metadata + "/raw_albums.csv", encoding: .utf8)
        let ragged = albums.split(separator: "\n", omittingEmptySubsequences: false).enumerated().map { index, line in
            index == 0 || line.isEmpty ? String(line) : String(line) + ",surplus"
        }.joined(separator: "\n")
        try ragged.write(toFile: metadata + "/raw_albums.csv", atomically: true, encoding: .utf8)
        let failed = try ExtractRun.run(metadata: metadata, work: work)
        #expect(failed.outcome.status == 65)
        #expect(failed.outcome.lastLine.contains("staging left as it was"), "\(failed.outcome.lastLine)")
        #expect(try Self.stagedFiles(work) == before, "staged files and marker untouched, no temporaries left")
    }

    @Test func onlyWithoutTheStagingOfAFullRunStagesNothing() throws {
        let work = TemporaryDirectory()
        let run = try ExtractRun.run(metadata: ExtractRun.sample, work: work, ["--only", "2,3"])
        #expect(run.outcome.status == 69, "\(run.outcome.standardError)")
        #expect(run.outcome.lastLine.contains("run etl-extract without --only first"), "\(run.outcome.lastLine)")
        let staged = (try? FileManager.default.contentsOfDirectory(atPath: work.path + "/work/staging/metadata")) ?? []
        #expect(staged.isEmpty, "a partial tracks.jsonl would be trusted by a later load: \(staged)")
    }

    @Test func onlyRewritesThoseIDsAndKeepsEveryOtherLine() throws {
        // A full extract, then two tracks change in the input.
        let work = TemporaryDirectory()
        let metadata = try ExtractRun.metadata(removing: ["tracks.csv"], in: work)
        #expect(try ExtractRun.run(metadata: metadata, work: work).outcome.status == 0)
        var tracks = try String(contentsOfFile: metadata + "/raw_tracks.csv", encoding: .utf8)
        let lines = tracks.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let changed = lines.map { line -> String in
            if line.hasPrefix("3,") || line.hasPrefix("5,") { return line.replacingOccurrences(of: ",en,", with: ",fr,") }
            return line
        }
        #expect(changed != lines, "the sample has a language code to change")
        tracks = changed.joined(separator: "\n")
        try tracks.write(toFile: metadata + "/raw_tracks.csv", atomically: true, encoding: .utf8)

        let only = try ExtractRun.run(metadata: metadata, work: work, ["--only", "3,5"])
        #expect(only.outcome.status == 0, "\(only.outcome.standardError)")
        #expect(only.count("tracks written") == 2)
        // … equals a full extract over the changed input.
        let full = TemporaryDirectory()
        let fullMetadata = try ExtractRun.metadata(replacing: ["raw_tracks.csv": metadata + "/raw_tracks.csv"], removing: ["tracks.csv"],
                                                   in: full)
        #expect(try ExtractRun.run(metadata: fullMetadata, work: full).outcome.status == 0)
        var onlyFiles = try Self.stagedFiles(work), fullFiles = try Self.stagedFiles(full)
        #expect(onlyFiles["tracks.jsonl"] == fullFiles["tracks.jsonl"])
        let onlyMarker = try Self.marker(work)
        #expect(onlyMarker["only"] as? [Int] == [3, 5])
        #expect((onlyMarker["files"] as? [[String: Any]])?.last?["rows"] as? Int == 10)
        onlyFiles["_SUCCESS.json"] = nil
        fullFiles["_SUCCESS.json"] = nil
        #expect(onlyFiles == fullFiles)
        let staged = try #require(try only.staged("tracks"))
        #expect(staged.filter { $0["language_code"] as? String == "fr" }.compactMap { ($0["_id"] as? NSNumber)?.intValue } == [3, 5])
    }

    /// An id of `--only` that no row has (a typo, a track not in this input) is named, not lost in
    /// "N tracks outside --only".
    @Test func onlyIDsThatNoRowHasAreNamed() throws {
        let work = TemporaryDirectory()
        let rawTracks = ["--tracks-file", "raw_tracks.csv"]  // the sample's raw_tracks.csv has track 2
        #expect(try ExtractRun.run(metadata: ExtractRun.sample, work: work, rawTracks).outcome.status == 0)
        let absent = (0..<12).map { 424_242 + $0 }
        let only = try ExtractRun.run(metadata: ExtractRun.sample, work: work,
                                      rawTracks + ["--only", (absent + [2]).map(String.init).joined(separator: ",")])
        #expect(only.outcome.status == 0, "\(only.outcome.standardError)")
        #expect(only.count("tracks written") == 1)
        #expect(only.count("ids of --only not found") == 12, "\(only.outcome.lastLine)")
        let warning = only.outcome.standardError.split(separator: "\n").first { $0.contains("ids of --only are in no row") }
        #expect(warning?.contains("12 ids of --only are in no row, nothing staged for them: "
            + absent.prefix(10).map(String.init).joined(separator: ", ") + ", …") == true, "\(only.outcome.standardError)")
        let found = try ExtractRun.run(metadata: ExtractRun.sample, work: work, rawTracks + ["--only", "2"])
        #expect(found.outcome.status == 0 && found.count("ids of --only not found") == nil, "\(found.outcome.lastLine)")
        #expect(!found.outcome.standardError.contains("in no row"))
    }

    @Test func deadTemporariesAreRemovedAndLiveOnesKept() throws {
        let work = TemporaryDirectory()
        let staging = work.path + "/work/staging/metadata"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        // A pid that surely ended: a child that has exited and been waited for.
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()
        let dead = staging + "/tracks.jsonl.tmp-\(child.processIdentifier)"
        let live = staging + "/albums.jsonl.tmp-\(getpid())"
        #expect(FileManager.default.createFile(atPath: dead, contents: Data("partial".utf8)))
        #expect(FileManager.default.createFile(atPath: live, contents: Data("another run's".utf8)))
        let run = try ExtractRun.run(metadata: ExtractRun.sample, work: work)
        #expect(run.outcome.status == 0)
        #expect(!FileManager.default.fileExists(atPath: dead))
        #expect(FileManager.default.fileExists(atPath: live))
    }

    @Test func fifoNamedLikeACSVIsRefusedAtOnce() throws {
        let work = TemporaryDirectory()
        let metadata = try ExtractRun.metadata(removing: ["raw_albums.csv"], in: work)
        #expect(mkfifo(metadata + "/raw_albums.csv", 0o644) == 0)
        let run = try ExtractRun.run(metadata: metadata, work: work)
        #expect(run.outcome.status == 65)
        #expect(run.outcome.lastLine.contains("raw_albums.csv:0: record 0: not a regular file (a FIFO)"), "\(run.outcome.lastLine)")
    }
}

/// A full disk or an unwritable staging directory ends the run with exit 1, the system's reason
/// and the summary line, never a trap; the previous staging stays.
@Suite struct ExtractWriteFailureTests {
    @Test func unwritableStagingIsExitOneWithTheReason() throws {
        let work = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: work.path + "/work/staging", withIntermediateDirectories: true)
        // A file where the staging directory should be: every staged file fails to open.
        #expect(FileManager.default.createFile(atPath: work.path + "/work/staging/metadata", contents: Data()))
        let run = try ExtractRun.run(metadata: ExtractRun.sample, work: work)
        #expect(run.outcome.status == 1, "\(run.outcome.standardError)")
        #expect(run.outcome.lastLine.hasPrefix("etl-extract failed: "), "\(run.outcome.lastLine)")
        #expect(run.outcome.lastLine.contains("Not a directory"), "\(run.outcome.lastLine)")
    }

    /// A 64 KiB tmpfs, filled: needs the right to mount (root in the CI container).
    static let smallFileSystem: String? = {
        let directory = NSTemporaryDirectory() + "musicetl-full-\(getpid())"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        mount.arguments = ["-t", "tmpfs", "-o", "size=64k", "tmpfs", directory]
        mount.standardError = FileHandle.nullDevice
        guard (try? mount.run()) != nil else { return nil }
        mount.waitUntilExit()
        return mount.terminationStatus == 0 ? directory : nil
    }()

    @Test(.enabled(if: smallFileSystem != nil, "mounting a tmpfs needs root"))
    func fullDiskIsExitOneWithNoSpaceLeft() throws {
        let root = try #require(Self.smallFileSystem)
        defer {
            let umount = Process()
            umount.executableURL = URL(fileURLWithPath: "/bin/umount")
            umount.arguments = [root]
            try? umount.run()
            umount.waitUntilExit()
        }
        for filler in [40, 64] {  // room for some files but not all, then none at all
            let work = root + "/work-\(filler)"
            _ = try? FileManager.default.removeItem(atPath: root + "/filler")
            _ = FileManager.default.createFile(atPath: root + "/filler", contents: Data(count: filler << 10))  // the disk may refuse part of it: that is the point
            let outcome = try JobProcess.run("etl-extract", ["--metadata", ExtractRun.sample, "--work-dir", work])
            #expect(outcome.status == 1, "\(filler) KiB filled: \(outcome.standardError)")
            #expect(outcome.lastLine.hasPrefix("etl-extract failed: ") && outcome.lastLine.contains("No space left on device"),
                    "\(outcome.lastLine)")
            #expect(!FileManager.default.fileExists(atPath: work + "/staging/metadata/_SUCCESS.json"))
            _ = try? FileManager.default.removeItem(atPath: work)
        }
    }
}
