// bench-features: throughput of the AudioFeatures pipeline, and ratios against librosa measured
// in the same run.
//
//   swift run -c release --scratch-path .build-audio bench-features <audio-dir> [--repeat N] [--jobs N]
//   LIBROSA_PYTHON=/path/to/venv/bin/python  → also runs Benchmarks/librosa_features.py on <audio-dir>
//
// Prints audio-seconds per second (and files/s) for: decode+resample alone (the floor), the whole
// extraction on 1 core and on all cores, and the feature stage alone (signal already in memory).

import AudioFeatures
import Foundation

struct Options {
    var directory: URL
    var repeatCount = 3
    var jobs = ProcessInfo.processInfo.activeProcessorCount
    var librosaPython = ProcessInfo.processInfo.environment["LIBROSA_PYTHON"]
    var librosaScript: String?
    /// Only the feature stage, `repeatCount` rounds, for profilers (perf, callgrind).
    var featureStageOnly = false
}

func parseOptions() -> Options {
    var arguments = Array(CommandLine.arguments.dropFirst())
    func value(of flag: String) -> String? {
        guard let index = arguments.firstIndex(of: flag), index + 1 < arguments.count else { return nil }
        let value = arguments[index + 1]
        arguments.removeSubrange(index...(index + 1))
        return value
    }
    let repeatCount = value(of: "--repeat").flatMap(Int.init)
    let jobs = value(of: "--jobs").flatMap(Int.init)
    let script = value(of: "--librosa-script")
    let featureStageOnly = arguments.contains("--feature-stage-only")
    arguments.removeAll { $0 == "--feature-stage-only" }
    guard let path = arguments.first, !path.hasPrefix("-") else {
        FileHandle.standardError.write(Data("""
            usage: bench-features <audio-dir> [--repeat N] [--jobs N] [--librosa-script PATH] [--feature-stage-only]
              env LIBROSA_PYTHON=<python with librosa 0.11> adds librosa's throughput and the ratios

            """.utf8))
        exit(64)
    }
    var options = Options(directory: URL(fileURLWithPath: path))
    if let repeatCount { options.repeatCount = max(1, repeatCount) }
    if let jobs { options.jobs = max(1, jobs) }
    options.librosaScript = script
    options.featureStageOnly = featureStageOnly
    return options
}

func audioFiles(in directory: URL) -> [URL] {
    let extensions: Set<String> = ["mp3", "flac", "ogg", "oga", "opus", "wav", "aif", "aiff"]
    guard let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil) else {
        return []
    }
    return enumerator.compactMap { $0 as? URL }
        .filter { extensions.contains($0.pathExtension.lowercased()) }
        .sorted { $0.path < $1.path }
}

func now() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
}

struct Throughput {
    var files: Int
    var audioSeconds: Double
    var wallSeconds: Double
    var audioPerSecond: Double { audioSeconds / wallSeconds }
    var filesPerSecond: Double { Double(files) / wallSeconds }
}

/// Files split round-robin over `jobs` workers, each with its own extractor (FFT plans and
/// resamplers are per worker). `work` returns the audio seconds it processed.
func measure(files: [URL], repeatCount: Int, jobs: Int,
             work: @escaping @Sendable (FeatureExtractor, URL) throws -> Double) async throws -> Throughput {
    let start = now()
    let audioSeconds = try await withThrowingTaskGroup(of: Double.self) { group in
        for worker in 0..<jobs {
            group.addTask {
                let extractor = try FeatureExtractor()
                var seconds = 0.0
                for round in 0..<repeatCount {
                    for (index, file) in files.enumerated() where (index + round * files.count) % jobs == worker {
                        seconds += try work(extractor, file)
                    }
                }
                return seconds
            }
        }
        return try await group.reduce(0, +)
    }
    return Throughput(files: files.count * repeatCount, audioSeconds: audioSeconds, wallSeconds: now() - start)
}

func padded(_ label: String) -> String { label.padding(toLength: 46, withPad: " ", startingAt: 0) }

func report(_ label: String, _ result: Throughput) {
    print("  " + padded(label) + String(format: "%9.1f audio-s/s  %8.1f files/s  (%.1f audio-s in %.3f s)",
                                        result.audioPerSecond, result.filesPerSecond,
                                        result.audioSeconds, result.wallSeconds))
}

/// Runs Benchmarks/librosa_features.py with the given python; returns its audio-seconds/s.
func runLibrosa(python: String, script: String, directory: URL, repeatCount: Int) -> Double? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = [script, directory.path, "--repeat", String(repeatCount), "--json"]
    let output = Pipe()
    process.standardOutput = output
    do { try process.run() } catch {
        print("  librosa: could not run \(python): \(error)")
        return nil
    }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0,
          let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last,
          let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
          let rate = json["audio_seconds_per_second"] as? Double else {
        print("  librosa: script failed (exit \(process.terminationStatus))")
        return nil
    }
    if let load = json["load_audio_seconds_per_second"] as? Double,
       let featureStage = json["feature_stage_audio_seconds_per_second"] as? Double {
        print("  " + padded("librosa: load (decode+resample) only") + String(format: "%9.1f audio-s/s", load))
        print("  " + padded("librosa: feature stage only") + String(format: "%9.1f audio-s/s", featureStage))
        librosaFeatureStage = featureStage
    }
    print("  " + padded("librosa: whole (load + mfcc + centroid + zcr)") + String(format: "%9.1f audio-s/s", rate))
    return rate
}

nonisolated(unsafe) var librosaFeatureStage: Double?

let options = parseOptions()
let files = audioFiles(in: options.directory)
guard !files.isEmpty else {
    print("bench-features: no audio files under \(options.directory.path)")
    exit(66)
}

// Decode every file once up front: checks they all decode, gives the in-memory signals for the
// feature-stage measurement, and warms caches (files, FFTW, soxr).
let loader = try FeatureExtractor()
var signals: [[Float]] = []
var totalAudio = 0.0
for file in files {
    do {
        let (samples, source) = try loader.load(fileAt: file)
        signals.append(samples)
        totalAudio += source.durationSeconds
    } catch {
        print("bench-features: \(file.lastPathComponent): \(error)")
        exit(65)
    }
}
let signalsSnapshot = signals
print("bench-features: \(files.count) files, \(String(format: "%.1f", totalAudio)) audio-s per round, "
      + "\(options.repeatCount) rounds, \(options.jobs) workers for the all-core runs, "
      + "\(ProcessInfo.processInfo.activeProcessorCount) CPUs")
print("  parameters \(FeatureParameters.librosaDefaults.paramsHash) (\(AudioFeatures.extractorVersion))")

let decodeOnly: @Sendable (FeatureExtractor, URL) throws -> Double = { extractor, file in
    var checksum: Float = 0
    let source = try extractor.decode(fileAt: file) { chunk in checksum += chunk.first ?? 0 }
    if checksum.isNaN { print("NaN") }  // keeps the work observable
    return source.durationSeconds
}
let wholeExtraction: @Sendable (FeatureExtractor, URL) throws -> Double = { extractor, file in
    try extractor.extract(fileAt: file, keepFrames: false).source.durationSeconds
}

// Rounds alternate the modes and each mode keeps its best round: this machine's speed drifts by
// tens of percent over minutes (shared cores), which would otherwise bias whichever mode ran last.
func featureStageRound(_ extractor: FeatureExtractor) -> Throughput {
    let start = now()
    var seconds = 0.0
    for signal in signalsSnapshot {
        let features = extractor.extract(samples: signal)
        seconds += Double(features.nSamples) / Double(FeatureParameters.librosaDefaults.sampleRate)
    }
    return Throughput(files: signalsSnapshot.count, audioSeconds: seconds, wallSeconds: now() - start)
}
func best(_ a: Throughput?, _ b: Throughput) -> Throughput {
    guard let a else { return b }
    return a.audioPerSecond >= b.audioPerSecond ? a : b
}
if options.featureStageOnly {
    let extractor = try FeatureExtractor()
    var stage: Throughput?
    for _ in 0..<options.repeatCount { stage = best(stage, featureStageRound(extractor)) }
    if let stage { report("feature stage only (in memory), 1 core", stage) }
    exit(0)
}
var floor1: Throughput?, whole1: Throughput?, featureStage: Throughput?, floorN: Throughput?, wholeN: Throughput?
let featureExtractor = try FeatureExtractor()
for _ in 0..<options.repeatCount {
    floor1 = best(floor1, try await measure(files: files, repeatCount: 1, jobs: 1, work: decodeOnly))
    whole1 = best(whole1, try await measure(files: files, repeatCount: 1, jobs: 1, work: wholeExtraction))
    featureStage = best(featureStage, featureStageRound(featureExtractor))
    if options.jobs > 1 {
        floorN = best(floorN, try await measure(files: files, repeatCount: 1, jobs: options.jobs, work: decodeOnly))
        wholeN = best(wholeN, try await measure(files: files, repeatCount: 1, jobs: options.jobs, work: wholeExtraction))
    }
}
guard let floor1, let whole1, let featureStage else { exit(70) }
print("best of \(options.repeatCount) rounds:")
report("decode+resample only, 1 core", floor1)
report("whole extraction, 1 core", whole1)
report("feature stage only (in memory), 1 core", featureStage)
if let floorN, let wholeN {
    report("decode+resample only, \(options.jobs) workers", floorN)
    report("whole extraction, \(options.jobs) workers", wholeN)
}
print(String(format: "  whole extraction is %.1f%% slower than the decode+resample floor (1 core)",
             (floor1.audioPerSecond / whole1.audioPerSecond - 1) * 100))
print(String(format: "  feature stage share of one core's extraction time: %.1f%%",
             whole1.audioPerSecond / featureStage.audioPerSecond * 100))

if let python = options.librosaPython {
    let script = options.librosaScript
        ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("librosa_features.py").path
    if let librosa = runLibrosa(python: python, script: script, directory: options.directory,
                                repeatCount: options.repeatCount) {
        print(String(format: "  ratio whole extraction / librosa, 1 core: %.1fx", whole1.audioPerSecond / librosa))
        if let librosaFeatureStage {
            print(String(format: "  ratio feature stage / librosa feature stage: %.1fx",
                         featureStage.audioPerSecond / librosaFeatureStage))
        }
    }
} else {
    print("  (set LIBROSA_PYTHON to a python with librosa 0.11 to add librosa's numbers and the ratios)")
}
