import DocumentStore
import Foundation
import Pipeline
import Staging

#if canImport(Glibc)
import Glibc
#endif

/// How a file's path becomes its track id (`--id-from`).
public enum TrackIDSource: String, Sendable, CaseIterable {
    /// The file stem when it is an integer (leading zeros allowed: `000002` → 2), else the path.
    case stem
    /// Always the path relative to `--audio`.
    case path

    func id(forRelativePath relativePath: String) -> TrackID {
        if self == .stem {
            let name = relativePath.split(separator: "/").last.map(String.init) ?? relativePath
            let stem = name.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? name
            if let value = OnlyIDs.integer(stem) { return .integer(value) }
        }
        return .path(relativePath)
    }
}

/// `--shard K/N` of the features: this run takes the ids whose `stableHash % N == K − 1`.
extension ShardSpec {
    func contains(_ id: TrackID) -> Bool {
        count <= 1 || Int(id.stableHash % UInt64(count)) == index - 1
    }

    /// `features.shard-K-of-N.jsonl`.
    var stagingFileName: String { FeatureShardFile.name(index: index, count: count) }
}

/// One audio file found under `--audio`.
struct AudioFileEntry: Sendable {
    var relativePath: String
    var absolutePath: String
    var id: TrackID
    var bytes: Int64
    /// Modification time in whole milliseconds since the epoch (the precision of a BSON date).
    var mtimeMillis: Int64
}

enum AudioTree {
    /// Extensions of the formats libsndfile decodes (MP3, FLAC, Ogg Vorbis/Opus, WAV and relatives).
    static let extensions: Set<String> = ["mp3", "flac", "ogg", "oga", "opus", "wav", "wave", "aif", "aiff",
                                          "aifc", "au", "snd", "w64", "rf64", "caf"]

    /// What a walk found: the audio files, and the paths it could not read (a directory it could
    /// not list, an entry it could not stat such as a dangling link), each with the reason.
    struct Walk {
        var entries: [AudioFileEntry] = []
        var unreadable: [String] = []
    }

    /// Every audio file under `root` (hidden files and directories skipped), sorted by relative
    /// path. Symbolic links are followed, to files and to directories, the root too: an archive
    /// mounted elsewhere and linked in is walked like one in place. A directory already walked (a
    /// cycle, or a second link to it such as `current -> 2024`) is not walked again: names are
    /// visited in byte order, so the first path to it is always the same. What cannot be read is
    /// collected, never skipped silently: the caller refuses a walk that missed part of the tree.
    /// `lost+found` (a file system's own, root-only, at the top of every ext4 disk) is skipped.
    static func walk(root: String, idSource: TrackIDSource) -> Walk {
        let base = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
        var walk = Walk()
        var walked: Set<DirectoryIdentity> = []

        func visit(_ directory: String, relative: String) {
            var info = stat()
            guard stat(directory, &info) == 0 else {
                walk.unreadable.append("\(directory): \(String(cString: strerror(errno)))")
                return
            }
            let identity = DirectoryIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
            guard walked.insert(identity).inserted else { return }
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: directory)
                    .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            } catch {
                walk.unreadable.append("\(directory): \(error.localizedDescription)")
                return
            }
            for name in names where !name.hasPrefix(".") && name != "lost+found" {
                let absolute = directory == "/" ? "/" + name : directory + "/" + name
                let relativePath = relative.isEmpty ? name : relative + "/" + name
                var info = stat()
                guard stat(absolute, &info) == 0 else {
                    let reason = String(cString: strerror(errno))
                    // A link that leads nowhere is refused when it may be audio or a directory (an
                    // unmounted share); one named as another kind of file (cover.jpg) hides no audio.
                    if let dot = name.lastIndex(of: "."), !extensions.contains(name[name.index(after: dot)...].lowercased()) {
                        continue
                    }
                    walk.unreadable.append("\(absolute): \(reason)")
                    continue
                }
                switch info.st_mode & S_IFMT {
                case S_IFDIR:
                    visit(absolute, relative: relativePath)
                case S_IFREG:
                    guard let dot = name.lastIndex(of: "."),
                          extensions.contains(name[name.index(after: dot)...].lowercased()) else { continue }
                    let millis = Int64(info.st_mtim.tv_sec) * 1000 + Int64(info.st_mtim.tv_nsec) / 1_000_000
                    walk.entries.append(AudioFileEntry(relativePath: relativePath, absolutePath: absolute,
                                                       id: idSource.id(forRelativePath: relativePath),
                                                       bytes: Int64(info.st_size), mtimeMillis: millis))
                default:
                    continue
                }
            }
        }

        visit(base, relative: "")
        walk.entries.sort { $0.relativePath.utf8.lexicographicallyPrecedes($1.relativePath.utf8) }
        return walk
    }

    /// A directory as the kernel knows it, whatever path or link leads to it.
    private struct DirectoryIdentity: Hashable {
        var device: UInt64
        var inode: UInt64
    }
}

/// What a previous run staged for one id: enough to decide whether it can be reused, and where
/// its line is (so it is copied byte for byte, never re-encoded).
struct PreviousDocument: Sendable {
    var fileIndex: Int
    /// The line's key in its file's `StagedLineIndex`.
    var key: String
    var path: String
    var bytes: Int64
    var mtimeMillis: Int64
    var paramsHash: String
    var version: String
    var nFrames: Int
    var hasFrames: Bool
}

/// The staged feature documents of earlier runs (`staging/features/features*.jsonl`, all shards),
/// indexed by id. Only the index is in memory; the files are mapped and lines copied from them.
final class PreviousFeatures {
    private(set) var paths: [String] = []
    private var files: [StagedLineIndex] = []
    private(set) var documents: [TrackID: PreviousDocument] = [:]
    private(set) var unreadableLines = 0

    /// `preferred` (this run's own output file) is read first; its entries win over other files'.
    init(directory: URL, preferred: String) throws {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasPrefix("features") && $0.hasSuffix(".jsonl") }
            .sorted { ($0 == preferred ? 0 : 1, $0) < ($1 == preferred ? 0 : 1, $1) }
        for name in names {
            let path = directory.appendingPathComponent(name).path
            guard FileManager.default.isReadableFile(atPath: path) else { continue }
            let fileIndex = files.count
            var unusable = 0
            let index = try StagedLineIndex(path: path, tolerant: true) { idValue, document in
                guard let id = TrackID(bson: idValue), let source = document["source"]?.documentValue,
                      let extractor = document["extractor"]?.documentValue else {
                    unusable += 1
                    return false
                }
                if documents[id] != nil { return false }
                guard let path = source["path"]?.stringValue, let bytes = source["bytes"]?.int64Value,
                      case .dateTime(let mtime)? = source["mtime"],
                      let hash = extractor["params_hash"]?.stringValue, let version = extractor["version"]?.stringValue
                else {
                    unusable += 1
                    return false
                }
                let hasFrames = document.contains(key: "frames")  // not decoded: frames are most of a document
                documents[id] = PreviousDocument(
                    fileIndex: fileIndex, key: idValue.canonicalKey, path: path, bytes: bytes, mtimeMillis: mtime,
                    paramsHash: hash, version: version, nFrames: Int(document["n_frames"]?.int64Value ?? -1),
                    hasFrames: hasFrames)
                return true
            }
            unreadableLines += index.unreadableLines + unusable
            paths.append(path)
            files.append(index)
        }
    }

    /// The staged line of `document` (with its newline), exactly as it is on disk.
    func line(of document: PreviousDocument) throws -> [UInt8] {
        guard let line = files[document.fileIndex].line(forKey: document.key) else {
            throw JobError(.failure, "\(paths[document.fileIndex]): cannot re-read a staged document")
        }
        return line
    }
}
