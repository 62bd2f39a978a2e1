import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `etl-extract`'s memory does not grow with the albums and artists a track may embed: their
/// embedded fields are read back from a file by id, not held. Peak RSS of the job, measured for
/// that one process, not timed.
@Suite struct ExtractMemoryTests {
    /// 4,000 albums and 4,000 artists, each with 16 KiB of text the tracks embed
    /// (`album_information`, `artist_bio`): 128 MiB, which the job held in memory until the
    /// tracks were done when it kept its lookup rows there (peak 206 MB, debug build); read
    /// back from its file by id, the job peaks at 66 MB (the same build).
    @Test func albumAndArtistTextIsNotHeld() throws {
        let work = TemporaryDirectory()
        let metadata = try ExtractRun.metadata(removing: ["tracks.csv", "raw_tracks.csv", "raw_albums.csv", "raw_artists.csv"],
                                               in: work)
        let rows = 4000, textBytes = 16 << 10
        // Each row's text is a window on 1 MiB of random letters, in runs (made per run, not per
        // byte: the test stays fast in a debug build).
        var random = SplitMix64(seed: 19)
        var letters: [UInt8] = []
        for _ in 0..<(1 << 20) / 64 { letters += repeatElement(UInt8(97 + random.next() % 26), count: 64) }
        func text(_ row: Int) -> ArraySlice<UInt8> {
            let start = (row * 4099) % (letters.count - textBytes)
            return letters[start..<(start + textBytes)]
        }
        try Self.write(metadata + "/raw_albums.csv", header: "album_id,album_title,album_information", rows: rows) {
            Array("\($0),Album \($0),".utf8) + text($0)
        }
        try Self.write(metadata + "/raw_artists.csv", header: "artist_id,artist_name,artist_bio", rows: rows) {
            Array("\($0),Artist \($0),".utf8) + text($0 + 1)
        }
        // A few tracks (a batch of tracks holds their lines, each with 32 KiB of embedded text),
        // embedding albums and artists from all over their files.
        try Self.write(metadata + "/raw_tracks.csv", header: "track_id,album_id,artist_id,track_title", rows: 200) {
            Array("\($0),\(($0 * 7919) % rows + 1),\(($0 * 104_729) % rows + 1),Track \($0)".utf8)
        }
        let (status, peakBytes, standardError) = try Self.runMeasuringPeak(
            "etl-extract", ["--metadata", metadata, "--work-dir", work.path + "/work", "--jobs", "2"], in: work)
        #expect(status == 0, "\(standardError)")
        #expect(standardError.contains("raw_albums.csv: 4000 rows in = 4000 written"), "\(standardError)")
        #expect(standardError.contains("raw_tracks.csv: 200 rows in = 200 written"), "\(standardError)")
        // Each track embeds its album's and its artist's text (read back from the file).
        let tracks = try String(contentsOfFile: work.path + "/work/staging/metadata/tracks.jsonl", encoding: .utf8)
        #expect(tracks.utf8.count > 200 * 2 * textBytes)
        #expect(tracks.contains(String(decoding: text((7919 % rows) + 1), as: UTF8.self)), "track 1 embeds its album's text")
        #expect(peakBytes > 1_000_000, "the peak was measured")
        #expect(peakBytes < 120_000_000, "peak RSS \(peakBytes) bytes: the albums' and artists' text is held in memory")
    }

    /// `header`, then `line(k)` for k = 1…`rows`, each ending in a newline.
    private static func write(_ path: String, header: String, rows: Int, _ line: (Int) -> [UInt8]) throws {
        var bytes = Array((header + "\n").utf8)
        for row in 1...rows {
            bytes += line(row)
            bytes.append(UInt8(ascii: "\n"))
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// Runs a job built beside the tests; its exit status, its own peak RSS in bytes and its
    /// stderr. Through a small Python process: a child spawned by this (large) test process
    /// carries the parent's high-water mark across `exec` (Linux keeps it in `ru_maxrss`), a
    /// grandchild forked by Python does not, and Python reports its children's alone.
    private static func runMeasuringPeak(_ job: String, _ arguments: [String],
                                         in work: TemporaryDirectory) throws -> (Int32, Int, String) {
        let measure = """
            import resource, subprocess, sys
            status = subprocess.run(sys.argv[1:]).returncode
            print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
            sys.exit(status)
            """
        let errorPath = work.path + "/stderr", outputPath = work.path + "/stdout"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var environment = ProcessInfo.processInfo.environment
        environment["MUSICETL_SCHEMAS"] = TestServer.packageRoot.appendingPathComponent("Schemas").path
        environment["MONGOC_DISABLE_SHM"] = "1"
        let executable = JobProcess.productsDirectory.appendingPathComponent(job).path
        let argv = (["/usr/bin/env", "python3", "-c", measure, executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/usr/bin/env", &actions, nil, argv, envp)
        guard spawned == 0 else { throw CocoaError(.executableLoad, userInfo: [NSFilePathErrorKey: "/usr/bin/env"]) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS are macros Swift cannot import.
        let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let standardError = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
        let peakKiB = Int(((try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "").split(separator: "\n").last ?? "")
        return (exitStatus, (peakKiB ?? -1) * 1024, standardError)  // ru_maxrss is in KiB on Linux
    }
}
