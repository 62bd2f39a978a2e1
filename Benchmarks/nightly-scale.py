#!/usr/bin/env python3
"""The nightly at scale: builds a workload from scratch and runs three nights (cold, unchanged,
1 % changed) of extract, features, normalize, load and export against the bundled server.

    swift build -c release --scratch-path .build-release
    python3 Benchmarks/nightly-scale.py --bin .build-release/release [--tracks 106574] [--clips 4000]
    python3 Benchmarks/nightly-scale.py --bin .build-release/release --baseline HEAD~3

Metadata comes from generate_fma_metadata.py (same seed, same bytes); audio is the CC0 clips of
Tests/Fixtures/audio hard-linked under the first --clips track ids in FMA layout (000/000002.flac),
as they are, or with --mp3 re-encoded once by ffmpeg to FMA's format (30 s, 44.1 kHz stereo MP3 at
320 kbit/s, each clip looped to 30 s) and those hard-linked (000/000002.mp3).
The 1 % changed night retitles 1 % of the tracks and points 1 % of the clips at another clip.
Prints, per night and step, wall time, peak RSS and, for the load, documents written; checks
that the unchanged night writes nothing and the changed night writes exactly the documents whose
staged line changed (exit 1 otherwise). --counts-only prints only the counts (for tests).
--baseline REV builds REV's binaries in a git worktree with its own scratch path and runs the
same nights with them against a fresh database. Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STEPS = ["extract", "features", "normalize", "load", "export"]
FIXTURE_CLIPS = sorted(p for p in (ROOT / "Tests/Fixtures/audio").iterdir()
                       if p.suffix in {".mp3", ".flac", ".ogg", ".wav"} and p.stat().st_size > 10_000)
CLIPS = FIXTURE_CLIPS  # or their 30-s MP3s (--mp3)


def run_step(binaries: Path, step: str, arguments: list[str], environment: dict) -> dict:
    """Runs one job; its wall time, peak RSS, CPU time (user + system) and summary line."""
    started = time.monotonic()
    log = environment["LOG_DIR"] / f"{step}.{int(started * 1000)}.log"
    # The peak RSS comes from GNU time, which forks the job from its own small process: a job
    # forked from this Python process would report Python's size too (Linux counts the pre-exec copy).
    measured = log.with_suffix(".rss")
    measure = ["/usr/bin/time", "-f", "%M %U %S", "-o", str(measured)] if os.path.exists("/usr/bin/time") else []
    with open(log, "wb") as output:
        status = subprocess.run([*measure, str(binaries / f"etl-{step}"), *arguments], stdout=output, stderr=output,
                                stdin=subprocess.DEVNULL, env=environment["env"]).returncode
    seconds = time.monotonic() - started
    rss_kb, user, system = measured.read_text().split()[-3:] if measure else ("nan", "nan", "nan")
    rss_mb, cpu = float(rss_kb) / 1024, float(user) + float(system)
    lines = log.read_text(errors="replace").strip().splitlines()
    summary = lines[-1] if lines else ""
    code = status
    if code != 0:
        sys.exit(f"etl-{step} exited {code}: {summary} (log {log})")
    return {"seconds": seconds, "rss_mb": rss_mb, "cpu": cpu, "summary": summary, "lines": lines}


def load_rates(lines: list[str]) -> str:
    """etl-load's per-collection log: seconds, how it knew what is stored, documents/s, client CPU µs/document."""
    rates = []
    for line in lines:
        found = re.search(r"etl-load: (\w+): (\d+) read.* in ([\d.]+) s \((.+?); (\d+) documents/s; client(?: CPU)? ([\d.]+) µs/document\)", line)
        if found:
            name, read, seconds, path, rate, client = found.groups()
            rates.append(f"{name} {read} in {seconds} s ({path}, {rate}/s, client {client} µs/doc)")
    return "; ".join(rates)


def written(summary: str) -> dict[str, int]:
    """Documents inserted + updated per collection, from etl-load's summary line."""
    counts: dict[str, int] = {}
    for number, collection, _ in re.findall(r"(\d+) (\w+) (inserted|updated)\b", summary):
        counts[collection] = counts.get(collection, 0) + int(number)
    return counts


def staged(work: Path, schemas: Path) -> dict[str, dict[str, str]]:
    """Every staged document's line digest, by collection and id (staged files as in Schemas/)."""
    files = {}
    for schema in schemas.glob("*.schema.json"):
        declared = json.loads(schema.read_text())
        stem, _, extension = declared["x-staging-file"].partition(".")
        files[stem] = (declared["x-collection"], extension)
    collections: dict[str, dict[str, str]] = {}
    for path in sorted((work / "staging").rglob("*.json*")):
        stem = path.name.split(".")[0]
        if stem not in files or not path.name.endswith(files[stem][1]):
            continue
        documents = collections.setdefault(files[stem][0], {})
        with open(path, "rb") as lines:
            for line in lines:
                if line.strip():
                    documents[json.dumps(json.loads(line).get("_id"))] = hashlib.sha256(line.strip()).hexdigest()
    return collections


def changed(before: dict, after: dict) -> dict[str, int]:
    return {name: sum(1 for key, digest in documents.items() if before.get(name, {}).get(key) != digest)
            for name, documents in after.items()}


def mp3_clips(scratch: Path) -> list[Path]:
    """The fixture clips as FMA's clips are: 30 s, 44.1 kHz, stereo MP3 (each looped to 30 s)."""
    folder = scratch / "mp3-clips"
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for clip in FIXTURE_CLIPS:
        target = folder / f"{clip.stem}.mp3"
        if not target.exists():
            partial = target.with_suffix(".partial.mp3")
            subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-stream_loop", "-1", "-i", str(clip),
                            "-t", "30", "-ac", "2", "-ar", "44100", "-codec:a", "libmp3lame", "-b:a", "320k",
                            str(partial)], check=True)
            partial.rename(target)
        made.append(target)
    return made


def build_workload(scratch: Path, tracks: int, clips: int) -> tuple[Path, Path, list[int]]:
    metadata, audio = scratch / "fma_metadata", scratch / "fma_audio"
    generated = scratch / f"generated-{tracks}"  # kept: the changed night edits the copy
    if not (generated / "raw_tracks.csv").exists():
        subprocess.run([sys.executable, str(ROOT / "Benchmarks/generate_fma_metadata.py"), "--out", str(generated),
                        "--tracks", str(tracks), "--no-tracks-csv", "--seed", "1"], check=True, stdout=subprocess.DEVNULL)
    shutil.rmtree(metadata, ignore_errors=True)
    shutil.copytree(generated, metadata)
    with open(metadata / "raw_tracks.csv", newline="", encoding="utf-8", errors="surrogateescape") as file:
        ids = [int(row["track_id"]) for row in csv.DictReader(file)]
    shutil.rmtree(audio, ignore_errors=True)
    for index, track in enumerate(ids[:clips]):
        link_clip(audio, track, CLIPS[index % len(CLIPS)])
    return metadata, audio, ids


def link_clip(audio: Path, track: int, clip: Path) -> None:
    folder = audio / f"{track // 1000:03d}"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(f"{track:06d}.*"):
        old.unlink()
    os.link(clip, folder / f"{track:06d}{clip.suffix}")


def change_one_percent(metadata: Path, audio: Path, ids: list[int], clips: int, seed: int = 7) -> tuple[int, int]:
    """Retitles 1 % of the tracks and points 1 % of the clips at another clip."""
    generator = random.Random(seed)
    retitled = set(generator.sample(ids, max(1, len(ids) // 100)))
    path = metadata / "raw_tracks.csv"
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as file:
        reader = csv.reader(file)
        header = next(reader)
        rows = list(reader)
    title, track_id = header.index("track_title"), header.index("track_id")
    for row in rows:
        if int(row[track_id]) in retitled:
            row[title] = row[title] + " (remastered)"
    with open(path, "w", newline="", encoding="utf-8", errors="surrogateescape") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    relinked = generator.sample(range(clips), max(1, clips // 100)) if clips else []
    for index in relinked:
        link_clip(audio, ids[index], CLIPS[(index + 1) % len(CLIPS)])
    return len(retitled), len(relinked)


def nights(binaries: Path, schemas: Path, scratch: Path, uri: str, database: str, args) -> list[str]:
    """Runs the three nights; returns the problems found (empty when the counts are right)."""
    work = scratch / f"work-{database}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    logs = work / "logs"
    logs.mkdir()
    metadata, audio, ids = build_workload(scratch, args.tracks, args.clips)
    environment = {"LOG_DIR": logs, "env": {**os.environ, "MONGODB_URI": uri, "MUSICETL_DB": database,
                                            "MUSICETL_SCHEMAS": str(schemas), "MONGOC_DISABLE_SHM": "1"}}
    arguments = {"extract": ["--metadata", str(metadata)], "features": ["--audio", str(audio)],
                 "normalize": [], "load": [], "export": []}
    problems: list[str] = []
    before: dict = {}
    for night in ["cold", "unchanged", "1% changed"]:
        if night == "1% changed":
            retitled, relinked = change_one_percent(metadata, audio, ids, args.clips)
            print(f"  changed: {retitled} tracks retitled, {relinked} clips replaced", flush=True)
        started = time.monotonic()
        results = {step: run_step(binaries, step, arguments[step] + ["--work-dir", str(work)], environment)
                   for step in STEPS}
        total = time.monotonic() - started
        loaded = written(results["load"]["summary"])
        after = staged(work, schemas)
        expected = changed(before, after)
        before = after
        wrote = sum(loaded.values())
        detail = ", ".join(f"{name} {count}" for name, count in sorted(loaded.items()) if count)
        if args.counts_only:
            print(f"{night}: {wrote} documents written ({detail or 'none'})", flush=True)
        else:
            steps = ", ".join(f"{step} {results[step]['seconds']:.1f} s / {results[step]['cpu']:.1f} CPU-s / {results[step]['rss_mb']:.0f} MB"
                              for step in STEPS)
            print(f"{night}: {total:.1f} s wall, {wrote} documents written ({detail or 'none'}); {steps}", flush=True)
            read = sum(int(number) for number in re.findall(r"(\d+) \w+ read\b", results["load"]["summary"]))
            print(f"  load: {results['load']['cpu'] / max(read, 1) * 1e6:.1f} CPU-µs per document read ({read} read); "
                  f"{load_rates(results['load']['lines'])}", flush=True)
        if night == "unchanged" and wrote != 0:
            problems.append(f"unchanged night wrote {wrote} documents ({detail})")
        if night != "cold":
            for name in sorted(set(expected) | set(loaded)):
                if expected.get(name, 0) != loaded.get(name, 0):
                    problems.append(f"{night}: {name}: {loaded.get(name, 0)} written, {expected.get(name, 0)} staged documents changed")
        if night == "1% changed" and loaded.get("tracks", 0) < retitled:
            problems.append(f"1% changed: {loaded.get('tracks', 0)} tracks written, {retitled} retitled")
    return problems


def start_server(state: Path) -> str:
    # Three full-scale nights write well over the server's default 1 GiB cache (documents, old
    # versions, its oplog); a full cache fails a write with WT_CACHE_FULL.
    return subprocess.run([str(ROOT / "Jobs/local-mongo.sh"), "start", "--state-dir", str(state), "--cache-size", "4G"], check=True,
                          capture_output=True, text=True).stdout.strip()


def build_baseline(revision: str, scratch: Path) -> tuple[Path, Path]:
    source = scratch / f"baseline-{revision.replace('/', '_')}"
    if not source.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(source), revision], check=True)
    subprocess.run(["swift", "build", "-c", "release", "--scratch-path", str(source / ".build-release")],
                   cwd=source, check=True)
    return source / ".build-release/release", source / "Schemas"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", type=Path, required=True, help="directory holding the etl-* binaries")
    parser.add_argument("--tracks", type=int, default=106_574)
    parser.add_argument("--clips", type=int, default=4000)
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/musicetl-nightly-scale"))
    parser.add_argument("--uri", help="an existing server (default: a fresh bundled one for each run, stopped after it)")
    parser.add_argument("--database", default="musicetl_nightly_scale")
    parser.add_argument("--baseline", metavar="REV", help="also run the nights with REV's binaries")
    parser.add_argument("--counts-only", action="store_true", help="print counts only (no timing, no RSS)")
    parser.add_argument("--mp3", action="store_true",
                        help="clips re-encoded by ffmpeg to 30-s 44.1 kHz stereo MP3 (FMA's format), not the fixtures as they are")
    args = parser.parse_args()
    args.scratch.mkdir(parents=True, exist_ok=True)
    if args.mp3:
        global CLIPS
        CLIPS = mp3_clips(args.scratch)
    runs = [("this tree", args.bin.resolve(), ROOT / "Schemas", args.database)]
    if args.baseline:
        binaries, schemas = build_baseline(args.baseline, args.scratch)
        runs.append((f"baseline {args.baseline}", binaries, schemas, args.database + "_baseline"))
    problems = []
    for label, binaries, schemas, database in runs:
        # Each run on a fresh bundled server of its own: at FMA scale the test server's cache does
        # not hold two runs' databases, and the second run would not start from the same state.
        state = args.scratch / f"mongo-state-{database}"
        if not args.uri:
            shutil.rmtree(state, ignore_errors=True)
        uri = args.uri or start_server(state)
        try:
            print(f"{label}: {args.tracks} tracks, {args.clips} clips ({'30-s 44.1 kHz stereo MP3' if args.mp3 else 'fixture clips as they are'})", flush=True)
            problems += [f"{label}: {problem}" for problem in nights(binaries, schemas, args.scratch, uri, database, args)]
        finally:
            if not args.uri:
                subprocess.run([str(ROOT / "Jobs/local-mongo.sh"), "stop", "--state-dir", str(state)], check=False)
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
