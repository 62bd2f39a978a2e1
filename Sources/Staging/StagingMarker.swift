#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Pipeline
import Tabular

/// `staging/metadata/_SUCCESS.json`: written by `etl-extract` after a successful run has renamed
/// all its staged files into place, and removed before it renames any, so that its presence
/// means the staged files are those of that one complete, successful run. A consumer (the load)
/// must refuse staging without it. One JSON object:
///
///     {"files":[{"collection":"genres","name":"genres.jsonl","rows":163,"source":"genres.csv"},…],
///      "finished":"2026-12-07T14:20:00Z","job":"etl-extract","only":null,
///      "run":"20261207T142000-1a2b3c","status":"ok"}
///
/// `status` is always `ok` (a failed run writes no marker and leaves the previous one); `only` is
/// the sorted `--only` track ids of the run (its other tracks were kept from the run before) or
/// null; `rows` is the number of lines of each staged file.
public struct StagingMarker: Sendable, Equatable {
    public static let fileName = "_SUCCESS.json"

    public struct File: Sendable, Equatable {
        public var name: String
        public var collection: String
        public var source: String
        public var rows: Int

        public init(name: String, collection: String, source: String, rows: Int) {
            self.name = name
            self.collection = collection
            self.source = source
            self.rows = rows
        }
    }

    public var job: String
    public var run: String
    public var only: Set<Int64>?
    public var files: [File]
    public var status = "ok"
    public var finished = Date()

    public init(job: String, run: String, only: Set<Int64>?, files: [File]) {
        self.job = job
        self.run = run
        self.only = only
        self.files = files
    }

    var json: [String: Any] {
        let formatter = ISO8601DateFormatter()
        return [
            "job": job, "run": run, "status": status, "finished": formatter.string(from: finished),
            "only": only.map { $0.sorted() as [Any] } ?? NSNull(),
            "files": files.map { ["name": $0.name, "collection": $0.collection, "source": $0.source, "rows": $0.rows] },
        ]
    }

    public func write(in directory: String) throws {
        let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
        let writer = try AtomicFileWriter(path: directory + "/" + Self.fileName)
        try writer.write(Array(data) + [UInt8(ascii: "\n")])
        try writer.commit()
    }

    /// The marker of `directory`, nil when there is none (no successful run, or one under way
    /// or killed while it replaced the files); throws when it cannot be read.
    public static func read(in directory: String) throws -> StagingMarker? {
        let path = directory + "/" + fileName
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any],
              let job = object["job"] as? String, let run = object["run"] as? String, let status = object["status"] as? String,
              let files = object["files"] as? [[String: Any]] else {
            throw JobError(.dataError, "\(path): not a staging marker")
        }
        var marker = StagingMarker(job: job, run: run, only: (object["only"] as? [NSNumber]).map { Set($0.map(\.int64Value)) },
                                   files: files.map {
                                       File(name: $0["name"] as? String ?? "", collection: $0["collection"] as? String ?? "",
                                            source: $0["source"] as? String ?? "", rows: ($0["rows"] as? NSNumber)?.intValue ?? 0)
                                   })
        marker.status = status
        if let finished = object["finished"] as? String, let date = ISO8601DateFormatter().date(from: finished) {
            marker.finished = date
        }
        return marker
    }

    public static func remove(in directory: String) throws {
        let path = directory + "/" + fileName
        if unlink(path) != 0 && errno != ENOENT {
            throw JobError(.failure, "\(path): cannot remove the staging marker: \(String(cString: strerror(errno)))")
        }
    }
}
