#!/usr/bin/env python3
"""The MSSD night against pandas, in one run: extract + derive of the skip-prediction set.

    swift build -c release --scratch-path .build-release
    python3 Benchmarks/mssd-night.py --bin .build-release/release            # log_mini scale
    python3 Benchmarks/mssd-night.py --bin .build-release/release --log-files 1,8,64
    python3 Benchmarks/mssd-night.py --data /path/to/mssd --bin …            # files of your own

Builds a log_mini-scale set with generate_mssd.py (167,880-ish plays in 10,000 sessions; `--sessions`
to change it) unless `--data DIR` names one (`log_*.csv` + `tf_*.csv`). For each K of
`--log-files` (default 1) it splits the same plays over K log files (whole sessions, in file order),
then runs, each on one core (`taskset -c 0`; `--all-cores` to leave it out):
  - ours:   etl-extract --dataset mssd --input DIR --jobs 1, then etl-normalize --dataset mssd
            (binaries from --bin, work dir under --work-dir, a temporary folder by default);
  - pandas: Benchmarks/pandas_mssd.py DIR (read, merge, derived columns, label encoding, split,
            scaler) with .venv-check's Python.
Prints, per K and step, wall time, CPU time (user + system) and peak RSS (GNU time), then the
ratio pandas / ours for extract + derive (wall and CPU): above 1 means ours is faster. Peak RSS
over K shows whether memory stays flat in the number of log files. `--skip-ours` runs only the
generation, the split and pandas; `--json` prints the measurements as one JSON object.
Exits 64 on bad arguments (a --bin without the binaries, a --data without log files), 1 when a
step fails (its log is named). Python 3 standard library only (pandas in its own venv).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BINARIES = ["etl-extract", "etl-normalize"]


def usage(message: str) -> None:
    print(f"mssd-night: {message}", file=sys.stderr)
    sys.exit(64)


def log_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        counts = []
    if not counts or any(count < 1 for count in counts):
        usage(f"--log-files takes positive numbers separated by commas (1,8,64), not {text!r}")
    return counts


def measured(command: list[str], log: Path, one_core: bool, environment: dict | None = None) -> dict:
    """Runs a command under GNU time; its wall time, CPU (user + system), peak RSS and log lines."""
    resources = log.with_suffix(".time")
    prefix = ["taskset", "-c", "0"] if one_core and shutil.which("taskset") else []
    started = time.monotonic()
    with open(log, "wb") as output:
        status = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", str(resources), *prefix, *command],
                                stdout=output, stderr=output, stdin=subprocess.DEVNULL, env=environment).returncode
    seconds = time.monotonic() - started
    lines = log.read_text(errors="replace").strip().splitlines()
    if status != 0:
        last = lines[-1] if lines else "(no output)"
        sys.exit(f"mssd-night: {Path(command[0]).name} exited {status}: {last} (log {log})")
    rss_kb, user, system = resources.read_text().split()[-3:]
    return {"seconds": seconds, "cpu": float(user) + float(system), "rss_mb": float(rss_kb) / 1024,
            "summary": lines[-1] if lines else ""}


def split_logs(source: Path, target: Path, files: int) -> tuple[int, int]:
    """The plays of every log_*.csv of `source` over `files` log files in `target`, whole sessions
    each (sessions in file order, about as many per file), and the track files linked beside
    them. Returns (plays, sessions)."""
    target.mkdir(parents=True, exist_ok=True)
    for track_file in sorted(source.glob("tf_*.csv")):
        destination = target / track_file.name
        if not destination.exists():
            try:
                os.link(track_file, destination)
            except OSError:
                shutil.copyfile(track_file, destination)
    logs = sorted(source.glob("log_*.csv"))
    header: list[str] | None = None
    sessions: list[str] = []
    for log in logs:
        with open(log, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = header or next(reader)
            if log != logs[0]:
                next(reader)
            previous = None
            for row in reader:
                if row[0] != previous:
                    sessions.append(row[0])
                    previous = row[0]
    if header is None:
        usage(f"{source} holds no log_*.csv")
    per_file = -(-len(sessions) // files)
    file_of = {session: index // per_file for index, session in enumerate(sessions)}
    outputs = []
    writers = []
    for k in range(files):
        handle = open(target / f"log_{k}_20180715_000000000000.csv", "w", newline="", encoding="utf-8")
        outputs.append(handle)
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writers.append(writer)
    plays = 0
    for log in logs:
        with open(log, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            next(reader)
            for row in reader:
                writers[file_of[row[0]]].writerow(row)
                plays += 1
    for handle in outputs:
        handle.close()
    return plays, len(sessions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", type=Path, help="directory of etl-extract and etl-normalize (e.g. .build-release/release)")
    parser.add_argument("--data", type=Path, help="MSSD-shaped files (log_*.csv, tf_*.csv) instead of generating them")
    parser.add_argument("--sessions", type=int, default=10_000, help="sessions to generate (default: log_mini's 10,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-files", default="1", help="K, or K1,K2,…: the same plays over K log files")
    parser.add_argument("--work-dir", type=Path, help="where inputs, work dirs and logs go (default: a temporary folder, removed)")
    parser.add_argument("--schemas", type=Path, help="passed to the jobs as --schemas")
    parser.add_argument("--python", type=Path, default=ROOT / ".venv-check/bin/python", help="a Python with pandas")
    parser.add_argument("--all-cores", action="store_true", help="do not pin each step to one core")
    parser.add_argument("--skip-ours", action="store_true", help="run only the generation, the split and pandas")
    parser.add_argument("--json", action="store_true", help="print the measurements as JSON")
    args = parser.parse_args()

    counts = log_counts(args.log_files)
    if args.sessions < 1:
        usage("--sessions must be at least 1")
    if not args.skip_ours:
        if args.bin is None:
            usage("--bin DIR is required (the directory of etl-extract and etl-normalize), or --skip-ours")
        missing = [name for name in BINARIES if not os.access(args.bin / name, os.X_OK)]
        if missing:
            usage(f"{args.bin} has no {', '.join(missing)} (swift build -c release --scratch-path .build-release)")
    if args.data is not None and not sorted(args.data.glob("log_*.csv")):
        usage(f"--data {args.data} holds no log_*.csv")
    if not os.access(args.python, os.X_OK):
        usage(f"--python {args.python} is not executable (Jobs/setup.sh installs .venv-check)")
    if not os.path.exists("/usr/bin/time"):
        usage("/usr/bin/time (GNU time) is needed to measure CPU and peak RSS: apt-get install time")

    scratch = Path(tempfile.mkdtemp(prefix="mssd-night-")) if args.work_dir is None else args.work_dir
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        data = args.data
        if data is None:
            data = scratch / "generated"
            subprocess.run([sys.executable, str(ROOT / "Benchmarks/generate_mssd.py"), "--out", str(data),
                            "--sessions", str(args.sessions), "--seed", str(args.seed)], check=True, stdout=subprocess.DEVNULL)
        results = []
        for files in counts:
            inputs = scratch / f"input-{files}"
            plays, sessions = split_logs(data, inputs, files)
            logs = scratch / f"logs-{files}"
            logs.mkdir(exist_ok=True)
            steps: dict[str, dict] = {}
            if not args.skip_ours:
                work = scratch / f"work-{files}"
                common = ["--dataset", "mssd", "--work-dir", str(work)] + (["--schemas", str(args.schemas)] if args.schemas else [])
                steps["etl-extract"] = measured([str(args.bin / "etl-extract"), *common, "--input", str(inputs), "--jobs", "1"],
                                                logs / "extract.log", not args.all_cores)
                steps["etl-normalize"] = measured([str(args.bin / "etl-normalize"), *common], logs / "normalize.log",
                                                  not args.all_cores)
            steps["pandas"] = measured([str(args.python), str(ROOT / "Benchmarks/pandas_mssd.py"), str(inputs), "--json"],
                                       logs / "pandas.log", not args.all_cores)
            result = {"log_files": files, "plays": plays, "sessions": sessions, "steps": steps}
            if not args.skip_ours:
                ours_wall = steps["etl-extract"]["seconds"] + steps["etl-normalize"]["seconds"]
                ours_cpu = steps["etl-extract"]["cpu"] + steps["etl-normalize"]["cpu"]
                result["ratio_wall"] = steps["pandas"]["seconds"] / ours_wall if ours_wall else None
                result["ratio_cpu"] = steps["pandas"]["cpu"] / ours_cpu if ours_cpu else None
            results.append(result)
            if not args.json:
                print(f"{files} log file{'s' if files > 1 else ''}: {plays} plays in {sessions} sessions")
                for name, step in steps.items():
                    print(f"  {name:<14} wall {step['seconds']:7.2f} s  CPU {step['cpu']:7.2f} s  peak RSS {step['rss_mb']:8.1f} MB")
                if not args.skip_ours:
                    print(f"  pandas / ours (extract + derive): wall {result['ratio_wall']:.2f}x, CPU {result['ratio_cpu']:.2f}x")
        if args.json:
            json.dump({"one_core": not args.all_cores, "results": results}, sys.stdout)
            print()
    finally:
        if args.work_dir is None:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
