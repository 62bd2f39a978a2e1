#!/usr/bin/env python3
"""The skip-prediction feature engineering of the MSSD in pandas: the reference for the MSSD night.

    .venv-check/bin/python Benchmarks/pandas_mssd.py /tmp/mssd [--out /tmp/mssd-pandas.csv] [--json]

Does what the skip-prediction work did with the files (../shared/data/mssd/README.md), on one core:
reads every `log_*.csv` and `tf_*.csv` of the directory, merges plays with track features on
`track_id_clean = track_id`, derives the label `is_skipped = not not_skipped`, booleans as 0/1,
`is_paused_before_play`, `day_of_week` (Monday = 0) from `date`, `track_age` (play year −
`release_year`), the session context (`previous_skipped`, empty on a session's first play,
computed within the session only), label-encodes `context_type`, `hist_user_behavior_reason_start`,
`hist_user_behavior_reason_end` and `mode` (classes in sorted order), splits by session
(FNV-1a 64 of `session_id` mod 10: 0–7 training, 8 validation, 9 test) and standardises the track
features with a scaler fitted on the training split only. Prints the wall time of each part.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

BOOLEANS = ["skip_1", "skip_2", "skip_3", "not_skipped", "hist_user_behavior_is_shuffle", "premium"]
CATEGORIES = ["context_type", "hist_user_behavior_reason_start", "hist_user_behavior_reason_end", "mode"]
TRACK_NUMBERS = ["duration", "us_popularity_estimate", "acousticness", "beat_strength", "bounciness",
                 "danceability", "dyn_range_mean", "energy", "flatness", "instrumentalness", "liveness",
                 "loudness", "mechanism", "organism", "speechiness", "tempo", "valence"] + [
                 f"acoustic_vector_{i}" for i in range(8)]


def fnv1a64(text: str) -> int:
    value = 0xCBF29CE484222325
    for byte in text.encode("utf-8"):
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value


def engineer(directory: Path) -> tuple[pd.DataFrame, dict[str, float]]:
    timings: dict[str, float] = {}
    start = time.perf_counter()
    logs = sorted(directory.glob("log_*.csv"))
    plays = pd.concat([pd.read_csv(path) for path in logs], ignore_index=True)
    tracks = pd.concat([pd.read_csv(path) for path in sorted(directory.glob("tf_*.csv"))], ignore_index=True)
    timings["read"] = time.perf_counter() - start

    start = time.perf_counter()
    frame = plays.merge(tracks, left_on="track_id_clean", right_on="track_id", how="inner")
    timings["merge"] = time.perf_counter() - start

    start = time.perf_counter()
    for column in BOOLEANS:
        # Both spellings occur: True/False (pandas dumps) and true/false (raw exports).
        frame[column] = frame[column].astype(str).str.lower().map({"true": 1, "false": 0, "1": 1, "0": 0})
    frame["is_skipped"] = 1 - frame["not_skipped"]
    frame["is_paused_before_play"] = 1 - frame["no_pause_before_play"]
    played = pd.to_datetime(frame["date"], format="%Y-%m-%d")
    frame["day_of_week"] = played.dt.day_of_week
    frame["track_age"] = played.dt.year - frame["release_year"]
    frame = frame.sort_values(["session_id", "session_position"], kind="stable").reset_index(drop=True)
    frame["previous_skipped"] = frame.groupby("session_id")["is_skipped"].shift(1)
    for column in CATEGORIES:
        classes = sorted(frame[column].unique())
        frame[column] = frame[column].map({name: code for code, name in enumerate(classes)})
    sessions = frame["session_id"].unique()
    bucket_of = dict(zip(sessions, (fnv1a64(session) % 10 for session in sessions)))
    buckets = frame["session_id"].map(bucket_of)
    frame["split"] = np.select([buckets <= 7, buckets == 8], ["training", "validation"], "test")
    training = frame["split"] == "training"
    mean = frame.loc[training, TRACK_NUMBERS].mean()
    deviation = frame.loc[training, TRACK_NUMBERS].std(ddof=0).replace(0, 1)
    frame[TRACK_NUMBERS] = (frame[TRACK_NUMBERS] - mean) / deviation
    timings["derive"] = time.perf_counter() - start
    return frame, timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--out", type=Path, help="write the engineered table as CSV")
    parser.add_argument("--json", action="store_true", help="print the timings as JSON")
    args = parser.parse_args()
    start = time.perf_counter()
    frame, timings = engineer(args.directory)
    timings["total"] = time.perf_counter() - start
    if args.out:
        frame.to_csv(args.out, index=False)
    if args.json:
        json.dump({"rows": len(frame), "seconds": timings}, sys.stdout)
        print()
    else:
        print(f"{len(frame)} rows; " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in timings.items()))


if __name__ == "__main__":
    main()
