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
import Synchronization

struct Options {
    var directory: URL
    var repeatCount = 3
    var jobs = ProcessInfo.processInfo.activeProcessorCount
    var librosaPython = ProcessInfo.processInfo.environment["LIBROSA_PYTHON"]
    var librosaScript: String?
    /// Which modes to run: all (default), or one of floor / whole / stage (1 core, `repeatCount`
    /// rounds; for profilers and for running several processes side by side), or paired (the
    /// whole-vs-floor ratio from back-to-back runs of each file, see below).
    var mode = "all"
    /// Print each file's best 1-core floor and whole-extraction time.
    var perFile = false
    /// Memory bound check: extract each file with the default resident-frame limit (long tracks
    /// spill to a temporary file) and entirely in memory; print both times and whether the
    /// features are identical.
    var spillCheck = false
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
    var mode = value(of: "--mode") ?? "all"
    if arguments.contains("--feature-stage-only") { mode = "stage" }
    let perFile = arguments.contains("--per-file")
    let spillCheck = arguments.contains("--spill-check")
    arguments.removeAll { $0 == "--feature-stage-only" || $0 == "--per-file" || $0 == "--spill-check" }
    guard let path = arguments.first, !path.hasPrefix("-"), ["all", "floor", "whole", "stage", "paired"].contains(mode) else {
        FileHandle.standardError.write(Data("""
            usage: bench-features <audio-dir> [--repeat N] [--jobs N] [--librosa-script PATH]
                                  [--mode all|floor|whole|stage|paired] [--feature-stage-only] [--per-file] [--spill-check]
              env LIBROSA_PYTHON=<python with librosa 0.11> adds librosa's throughput and the ratios

            """.utf8))
        exit(64)
    }
    var options = Options(directory: URL(fileURLWithPath: path))
    if let repeatCount { options.repeatCount = max(1, repeatCount) }
    if let jobs { options.jobs = max(1, jobs) }
    options.librosaScript = script
    options.mode = mode
    options.perFile = perFile
    options.spillCheck = spillCheck
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

/// The files of `repeatCount` rounds handed out one at a time to `jobs` workers from a shared
/// counter, in path order (like `etl-features`, which launches the next file when a worker is
/// free), each worker with its own extractor (FFT plans and resamplers are per worker). `work`
/// returns the audio seconds it processed. `perFileSeconds`, when given, receives the wall time
/// of each file (1 worker only).
func measure(files: [URL], repeatCount: Int, jobs: Int,
             work: @escaping @Sendable (FeatureExtractor, URL) throws -> Double,
             perFileSeconds: ((Int, Double) -> Void)? = nil) async throws -> Throughput {
    let start = now()
    if jobs == 1 {
        let extractor = try FeatureExtractor()
        var seconds = 0.0
        for _ in 0..<repeatCount {
            for (index, file) in files.enumerated() {
                let fileStart = now()
                seconds += try work(extractor, file)
                perFileSeconds?(index, now() - fileStart)
            }
        }
        return Throughput(files: files.count * repeatCount, audioSeconds: seconds, wallSeconds: now() - start)
    }
    let queue = WorkQueue()
    let itemCount = files.count * repeatCount
    let audioSeconds = try await withThrowingTaskGroup(of: Double.self) { group in
        for _ in 0..<jobs {
            group.addTask {
                let extractor = try FeatureExtractor()
                var seconds = 0.0
                while true {
                    let item = queue.next.add(1, ordering: .relaxed).oldValue
                    if item >= itemCount { break }
                    seconds += try work(extractor, files[item % files.count])
                }
                return seconds
            }
        }
        return try await group.reduce(0, +)
    }
    return Throughput(files: itemCount, audioSeconds: audioSeconds, wallSeconds: now() - start)
}

/// The next item to take, shared by the workers of one `measure`.
final class WorkQueue: Sendable {
    let next = Atomic<Int>(0)
}

/// Wall time of `jobs` workers taking files in order from a queue, each file costing what it cost
/// on one core: the best an N-worker run can do on this corpus if nothing is shared.
func simulatedMakespan(costs: [Double], jobs: Int) -> Double {
    var busyUntil = [Double](repeating: 0, count: jobs)
    for cost in costs {
        let worker = busyUntil.indices.min { busyUntil[$0] < busyUntil[$1] } ?? 0
        busyUntil[worker] += cost
    }
    return busyUntil.max() ?? 0
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

if options.spillCheck {
    let spilling = try FeatureExtractor()
    let resident = try FeatureExtractor(residentFrameLimit: Int.max)
    for file in files {
        for _ in 0..<options.repeatCount {
            var start = now()
            let a = try spilling.extract(fileAt: file)
            let spilledSeconds = now() - start
            start = now()
            let b = try resident.extract(fileAt: file)
            let residentSeconds = now() - start
            let same = a.mfcc == b.mfcc && a.spectralCentroid == b.spectralCentroid && a.zcr == b.zcr && a.nFrames == b.nFrames
            print("\(file.lastPathComponent): \(a.nFrames) frames, limit \(spilling.residentFrameLimit): "
                  + String(format: "%.3f s, in memory: %.3f s", spilledSeconds, residentSeconds)
                  + ", identical: \(same ? "yes" : "NO")")
        }
    }
    exit(0)
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
        guard let features = try? extractor.extract(samples: signal) else { exit(70) }
        seconds += Double(features.nSamples) / Double(FeatureParameters.librosaDefaults.sampleRate)
    }
    return Throughput(files: signalsSnapshot.count, audioSeconds: seconds, wallSeconds: now() - start)
}
func best(_ a: Throughput?, _ b: Throughput) -> Throughput {
    guard let a else { return b }
    return a.audioPerSecond >= b.audioPerSecond ? a : b
}
if options.mode == "paired" {
    // Whole extraction vs the decode floor with the machine's drift cancelled: each file is
    // decoded and extracted back to back (which goes first alternates), one extractor, 1 core.
    // Reports Σ of each file's best time per mode, and the median over rounds of each round's
    // ratio — on this shared machine single rounds swing by tens of percent.
    let extractor = try FeatureExtractor()
    var floorBest = [Double](repeating: .infinity, count: files.count), wholeBest = floorBest
    var roundRatios: [Double] = []
    var audio = 0.0
    for round in 0..<options.repeatCount {
        var floorTotal = 0.0, wholeTotal = 0.0
        audio = 0
        for (index, file) in files.enumerated() {
            var floorSeconds = 0.0, wholeSeconds = 0.0
            for whole in round % 2 == 0 ? [false, true] : [true, false] {
                let start = now()
                if whole { _ = try wholeExtraction(extractor, file) } else { audio += try decodeOnly(extractor, file) }
                let elapsed = now() - start
                if whole { wholeSeconds = elapsed } else { floorSeconds = elapsed }
            }
            floorBest[index] = min(floorBest[index], floorSeconds)
            wholeBest[index] = min(wholeBest[index], wholeSeconds)
            floorTotal += floorSeconds
            wholeTotal += wholeSeconds
        }
        roundRatios.append(wholeTotal / floorTotal)
    }
    let floorSum = floorBest.reduce(0, +), wholeSum = wholeBest.reduce(0, +)
    let median = roundRatios.sorted()[roundRatios.count / 2]
    print(String(format: "  paired, 1 core, %d rounds: floor %.1f audio-s/s, whole %.1f audio-s/s (each file's best); "
                 + "whole vs floor %+.1f %% (sum of bests), %+.1f %% (median round; rounds %+.1f … %+.1f %%)",
                 options.repeatCount, audio / floorSum, audio / wholeSum, (wholeSum / floorSum - 1) * 100,
                 (median - 1) * 100, ((roundRatios.min() ?? .nan) - 1) * 100, ((roundRatios.max() ?? .nan) - 1) * 100))
    exit(0)
}
if options.mode != "all" {
    // One mode on one core only: for profilers, and to run two processes side by side (is the
    // 2-worker scaling limited inside the process or by the machine?).
    let extractor = try FeatureExtractor()
    var result: Throughput?
    for _ in 0..<options.repeatCount {
        switch options.mode {
        case "stage": result = best(result, featureStageRound(extractor))
        case "floor": result = best(result, try await measure(files: files, repeatCount: 1, jobs: 1, work: decodeOnly))
        default: result = best(result, try await measure(files: files, repeatCount: 1, jobs: 1, work: wholeExtraction))
        }
    }
    let labels = ["stage": "feature stage only (in memory), 1 core", "floor": "decode+resample only, 1 core",
                  "whole": "whole extraction, 1 core"]
    if let result { report(labels[options.mode] ?? options.mode, result) }
    exit(0)
}
var floor1: Throughput?, whole1: Throughput?, featureStage: Throughput?, floorN: Throughput?, wholeN: Throughput?
// Best time per file over the rounds, for the simulated N-worker bound.
var floorFileBest = [Double](repeating: .infinity, count: files.count)
var wholeFileBest = [Double](repeating: .infinity, count: files.count)
let featureExtractor = try FeatureExtractor()
for _ in 0..<options.repeatCount {
    floor1 = best(floor1, try await measure(files: files, repeatCount: 1, jobs: 1, work: decodeOnly,
                                            perFileSeconds: { floorFileBest[$0] = min(floorFileBest[$0], $1) }))
    whole1 = best(whole1, try await measure(files: files, repeatCount: 1, jobs: 1, work: wholeExtraction,
                                            perFileSeconds: { wholeFileBest[$0] = min(wholeFileBest[$0], $1) }))
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
    // With few, uneven files the queue cannot keep every worker busy to the end: the bound below
    // replays the measured 1-core per-file times through the same queue.
    let floorBound = floorFileBest.reduce(0, +) / simulatedMakespan(costs: floorFileBest, jobs: options.jobs)
    let wholeBound = wholeFileBest.reduce(0, +) / simulatedMakespan(costs: wholeFileBest, jobs: options.jobs)
    print(String(format: "  %d-worker speedup: floor %.2fx, whole %.2fx (this corpus allows at most %.2fx / %.2fx: "
                 + "per-file 1-core times through the same queue)",
                 options.jobs, floorN.audioPerSecond / floor1.audioPerSecond,
                 wholeN.audioPerSecond / whole1.audioPerSecond, floorBound, wholeBound))
}
if options.perFile {
    print("  per file, best 1-core ms (floor / whole / difference):")
    for (index, file) in files.enumerated() {
        print("    " + file.lastPathComponent.padding(toLength: 32, withPad: " ", startingAt: 0)
              + String(format: " %8.2f %8.2f %+7.2f", floorFileBest[index] * 1000, wholeFileBest[index] * 1000,
                            (wholeFileBest[index] - floorFileBest[index]) * 1000))
    }
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
