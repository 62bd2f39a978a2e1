import Foundation
import Testing
import TestSupport

/// A job whose standard output nobody reads any more (`etl-features --dry-run | head -1`,
/// `etl-export --out - | head`) is not killed by SIGPIPE (exit 141, no summary line): the write
/// fails, and the job ends as it decides, with its summary.
@Suite struct BrokenPipeTests {
    @Test func aClosedStandardOutputDoesNotKillTheJob() throws {
        let work = TemporaryDirectory()
        let audio = work.path + "/audio/000"
        try FileManager.default.createDirectory(atPath: audio, withIntermediateDirectories: true)
        for id in 1...300 { FileManager.default.createFile(atPath: audio + String(format: "/%06d.mp3", id), contents: nil) }
        let process = Process()
        process.executableURL = JobProcess.productsDirectory.appendingPathComponent("etl-features")
        process.arguments = ["--audio", work.path + "/audio", "--work-dir", work.path + "/work", "--dry-run"]
        var environment = ProcessInfo.processInfo.environment
        environment["MUSICETL_SCHEMAS"] = TestServer.packageRoot.appendingPathComponent("Schemas").path
        environment["MONGOC_DISABLE_SHM"] = "1"
        process.environment = environment
        // The dry run lists the 300 files on standard output, a pipe whose reader is gone.
        let output = Pipe()
        try output.fileHandleForReading.close()
        process.standardOutput = output
        let errorPath = work.path + "/stderr"
        FileManager.default.createFile(atPath: errorPath, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        let standardError = try String(contentsOfFile: errorPath, encoding: .utf8)
        #expect(process.terminationReason == .exit, "killed by signal \(process.terminationStatus)")
        #expect(process.terminationStatus == 0, "\(standardError)")
        let lastLine = standardError.split(separator: "\n").last.map(String.init) ?? ""
        #expect(lastLine.hasPrefix("etl-features ok"), "\(lastLine)")
    }
}
