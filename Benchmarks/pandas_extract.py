#!/usr/bin/env python3
"""pandas.read_csv on an FMA metadata directory: the reference throughput for bench-extract.

    /tmp/pandas-venv/bin/python Benchmarks/pandas_extract.py /tmp/fma-gen [--repeat N] [--json]

Reads each file as the FMA project's own utils.load does: tracks.csv with its two-level header
(header=[0, 1], index_col=0), the other files with one header row and index_col=0; pandas' C
engine, default type inference. Reports the best of --repeat rounds per file (bytes, rows, seconds).
This is parsing only: no Python-literal lists, no dates, no validation, no output, which etl-extract
all does, so the comparison flatters pandas.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import pandas as pd

FILES = ["genres.csv", "raw_genres.csv", "raw_albums.csv", "raw_artists.csv", "raw_tracks.csv", "tracks.csv"]


def read(path: str, name: str) -> int:
    if name == "tracks.csv":
        frame = pd.read_csv(path, header=[0, 1], index_col=0, low_memory=False, encoding_errors="replace")
    else:
        # encoding_errors="replace": the files may hold bytes that are not valid UTF-8.
        frame = pd.read_csv(path, index_col=0, low_memory=False, encoding_errors="replace")
    return len(frame)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()
    results = {}
    for name in FILES:
        path = os.path.join(args.directory, name)
        if not os.path.isfile(path):
            continue
        best = float("inf")
        rows = 0
        for _ in range(max(1, args.repeat)):
            start = time.perf_counter()
            rows = read(path, name)
            best = min(best, time.perf_counter() - start)
        results[name] = {"bytes": os.path.getsize(path), "rows": rows, "seconds": best}
        if not args.json:
            mb = results[name]["bytes"] / 1e6
            print(f"{name:16} {mb:8.1f} MB {rows:8d} rows {best:7.2f} s {mb / best:7.1f} MB/s {rows / best:9.0f} rows/s")
    if args.json:
        json.dump({"pandas": pd.__version__, "python": sys.version.split()[0], "files": results}, sys.stdout)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
