import Datasets
import Foundation
import NormalizeStage
import Pipeline

// Times MSSD's training-row derivation (etl-normalize --dataset mssd) on a staged work directory:
//
//     python3 Benchmarks/generate_mssd.py --out /tmp/mssd --seed 1
//     python3 Tests/python/stage_mssd.py /tmp/mssd /tmp/mssd-work/staging/metadata
//     swift build -c release --product bench-mssd-derive
//     .build/release/bench-mssd-derive /tmp/mssd-work [runs]
//
// Prints the wall time of each run (the job's summary line is on stderr).
let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: bench-mssd-derive WORK_DIR [RUNS]\n".utf8))
    exit(64)
}
let options = try CommonOptions.parse(["--work-dir", arguments[1], "--quiet"])
let runs = arguments.count > 2 ? Int(arguments[2]) ?? 1 : 1
for run in 1...max(runs, 1) {
    let start = Date()
    let (status, summary) = await JobRunner.run(job: "etl-normalize", options: options) { context in
        try await SkipTrainingRows.run(NormalizeOptions(), context: context)
    }
    guard status == .ok else { exit(status.rawValue) }
    print("run \(run): \(summary[count: "rows written"]) rows in \(String(format: "%.3f", Date().timeIntervalSince(start))) s")
}
