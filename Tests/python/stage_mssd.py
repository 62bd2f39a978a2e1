#!/usr/bin/env python3
"""Stage MSSD CSVs as JSON Lines in the shape etl-extract stages them (Schemas/mssd/*.schema.json).

    python3 Tests/python/stage_mssd.py /tmp/mssd WORK_STAGING_METADATA_DIR

Writes `plays.jsonl` (every `log_*.csv`, in file-name order) and `spotify_tracks.jsonl` (every
`tf_*.csv`): field names are the CSV columns, `_id` of a play is `<session_id>:<position>`, of a
track its `track_id`; booleans as JSON booleans, 0/1 and count columns as integers, `date` as an
Extended JSON date at midnight UTC, track numbers as doubles (`key`, `release_year`,
`time_signature` integers, `mode` a string). Lets the training-row derivation be tested and timed
on generated sets without the extract. Python standard library only.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

PLAY_INTEGERS = {"session_position", "session_length", "context_switch", "no_pause_before_play",
                 "short_pause_before_play", "long_pause_before_play", "hist_user_behavior_n_seekfwd",
                 "hist_user_behavior_n_seekback", "hour_of_day"}
PLAY_BOOLEANS = {"skip_1", "skip_2", "skip_3", "not_skipped", "hist_user_behavior_is_shuffle", "premium"}
TRACK_INTEGERS = {"release_year", "key", "time_signature"}
TRACK_STRINGS = {"track_id", "mode"}


def play_document(row: dict[str, str]) -> dict:
    document: dict = {"_id": f"{row['session_id']}:{int(row['session_position'])}"}
    for column, text in row.items():
        if column in PLAY_INTEGERS:
            document[column] = int(text)
        elif column in PLAY_BOOLEANS:
            document[column] = text.lower() in ("true", "1")
        elif column == "date":
            document[column] = {"$date": f"{text}T00:00:00Z"}
        else:
            document[column] = text
    return document


def track_document(row: dict[str, str]) -> dict:
    document: dict = {"_id": row["track_id"]}
    for column, text in row.items():
        if column == "track_id":
            continue
        if column in TRACK_INTEGERS:
            document[column] = int(text)
        elif column in TRACK_STRINGS:
            document[column] = text
        else:
            document[column] = float(text)
    return document


def stage(source: Path, staging: Path) -> None:
    staging.mkdir(parents=True, exist_ok=True)
    for pattern, name, make in (("log_*.csv", "plays.jsonl", play_document),
                                ("tf_*.csv", "spotify_tracks.jsonl", track_document)):
        with open(staging / name, "w", encoding="utf-8") as output:
            for path in sorted(source.glob(pattern)):
                with open(path, newline="", encoding="utf-8") as handle:
                    for row in csv.DictReader(handle):
                        output.write(json.dumps(make(row), separators=(",", ":")) + "\n")


if __name__ == "__main__":
    stage(Path(sys.argv[1]), Path(sys.argv[2]))
