#!/usr/bin/env python3
"""Checks MusicETL's MSSD training rows against Benchmarks/pandas_mssd.py's table.

    .venv-check/bin/python Tests/python/compare_mssd_rows.py PANDAS_CSV SKIP_TRAINING_JSONL

The same plays (by `_id` = session_id:session_position), and per play the same split, label,
session context, 0/1 columns, day of week, track age, classes (pandas' label codes are indexes
into the sorted classes; the rows keep the class names), unscaled key and time_signature, and
scaled track features equal within 1e-9 relative (1e-12 absolute near zero). Exits 1 naming the
first differences.
"""

from __future__ import annotations

import json
import math
import sys

import pandas as pd

INTEGERS = ["is_skipped", "session_position", "session_length", "context_switch", "is_paused_before_play",
            "hist_user_behavior_n_seekfwd", "hist_user_behavior_n_seekback", "hist_user_behavior_is_shuffle",
            "premium", "hour_of_day", "day_of_week", "track_age", "key", "time_signature"]
CATEGORIES = ["context_type", "hist_user_behavior_reason_start", "hist_user_behavior_reason_end", "mode"]
SCALED = ["duration", "us_popularity_estimate", "acousticness", "beat_strength", "bounciness", "danceability",
          "dyn_range_mean", "energy", "flatness", "instrumentalness", "liveness", "loudness", "mechanism",
          "organism", "speechiness", "tempo", "valence"] + [f"acoustic_vector_{i}" for i in range(8)]


def main() -> int:
    expected = pd.read_csv(sys.argv[1])
    expected.index = expected["session_id"] + ":" + expected["session_position"].astype(str)
    with open(sys.argv[2], encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    actual = pd.DataFrame(rows).set_index("_id")
    problems: list[str] = []
    if set(actual.index) != set(expected.index) or len(actual) != len(expected):
        problems.append(f"plays differ: {len(actual)} rows vs pandas' {len(expected)}; "
                        f"only in ours e.g. {sorted(set(actual.index) - set(expected.index))[:3]}, "
                        f"only in pandas' e.g. {sorted(set(expected.index) - set(actual.index))[:3]}")
    else:
        expected = expected.loc[actual.index]
        for column in ["session_id", "split"]:
            if not (actual[column] == expected[column]).all():
                problems.append(f"{column} differs")
        for column in INTEGERS:
            if not (actual[column].astype("int64") == expected[column].astype("int64")).all():
                problems.append(f"{column} differs")
        ours = actual["previous_skipped"]
        theirs = expected["previous_skipped"]
        if not ((ours.isna() == theirs.isna()).all() and (ours.dropna().astype(int) == theirs.dropna().astype(int)).all()):
            problems.append("previous_skipped differs")
        for column in CATEGORIES:
            classes = sorted(actual[column].unique())
            codes = actual[column].map({name: code for code, name in enumerate(classes)})
            if not (codes == expected[column]).all():
                problems.append(f"{column} differs from pandas' label codes")
        for column in SCALED:
            for ours_value, theirs_value in zip(actual[column], expected[column]):
                if not math.isclose(ours_value, theirs_value, rel_tol=1e-9, abs_tol=1e-12):
                    problems.append(f"{column}: {ours_value!r} vs pandas' {theirs_value!r}")
                    break
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"{len(actual)} rows equal pandas' table")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
