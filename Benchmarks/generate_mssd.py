#!/usr/bin/env python3
"""Generate synthetic files in the shape of the Spotify Music Streaming Sessions Dataset (MSSD).

The shape (columns, value ranges, session structure, sort orders) is the one described in
../shared/data/mssd/README.md for `log_mini.csv` and `tf_mini.csv`; the content is random. A skip
signal is planted so that a model trained on the derived columns can beat the majority class:
the probability of a skip rises with low `energy`/`danceability`, with `reason_start` = `fwdbtn`,
with shuffle, and when the previous play of the session was skipped.

    python3 Benchmarks/generate_mssd.py --out /tmp/mssd --seed 1            # log_mini scale
    python3 Benchmarks/generate_mssd.py --out /tmp/mssd --sessions 500 --log-files 4

Writes `tf_mini.csv` and either `log_mini.csv` (one log file) or `log_K_<date>_000000000000.csv`
(the full dataset's naming, sessions never split across files; `session_id` is prefixed with the
file index K like the real ids). `--booleans lower` writes `true`/`false` as raw exports do
(default: `True`/`False` as pandas dumps do). Python 3.11 standard library only; the same
arguments give the same bytes.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import uuid
from datetime import date, timedelta
from pathlib import Path

# log_mini.csv: 167,880 plays in 10,000 sessions over 50,704 distinct tracks; drawing plays
# uniformly from 52,950 candidate tracks leaves about that many distinct ones.
MINI_SESSIONS = 10_000
CANDIDATE_TRACKS_PER_SESSION = 5.295

LOG_COLUMNS = [
    "session_id", "session_position", "session_length", "track_id_clean", "skip_1", "skip_2",
    "skip_3", "not_skipped", "context_switch", "no_pause_before_play", "short_pause_before_play",
    "long_pause_before_play", "hist_user_behavior_n_seekfwd", "hist_user_behavior_n_seekback",
    "hist_user_behavior_is_shuffle", "hour_of_day", "date", "premium", "context_type",
    "hist_user_behavior_reason_start", "hist_user_behavior_reason_end",
]
TRACK_FEATURE_COLUMNS = [
    "acousticness", "beat_strength", "bounciness", "danceability", "dyn_range_mean", "energy",
    "flatness", "instrumentalness", "key", "liveness", "loudness", "mechanism", "mode", "organism",
    "speechiness", "tempo", "time_signature", "valence",
]
TF_COLUMNS = (["track_id", "duration", "release_year", "us_popularity_estimate"]
              + TRACK_FEATURE_COLUMNS + [f"acoustic_vector_{i}" for i in range(8)])

CONTEXT_TYPES = ["user_collection", "editorial_playlist", "catalog", "radio",
                 "personalized_playlist", "charts"]
REASONS_START = ["fwdbtn", "trackdone", "clickrow", "backbtn", "appload", "playbtn",
                 "remote", "trackerror", "endplay"]
REASONS_END = ["fwdbtn", "trackdone", "endplay", "backbtn", "logout", "remote", "clickrow"]
FIRST_DATE = date(2018, 7, 1)
DATES = [FIRST_DATE + timedelta(days=d) for d in range(18)]


def uuid_from(generator: random.Random) -> str:
    return str(uuid.UUID(int=generator.getrandbits(128), version=4))


def make_tracks(generator: random.Random, count: int) -> list[dict]:
    tracks = []
    for _ in range(count):
        track = {
            "track_id": "t_" + uuid_from(generator),
            "duration": round(min(1787.76, 30.01 + generator.lognormvariate(5.3, 0.45)), 6),
            "release_year": min(2018, max(1950, int(2018 - generator.expovariate(1 / 9)))),
            "us_popularity_estimate": round(100 - 9.98 * generator.random() ** 3, 6),
        }
        for column in TRACK_FEATURE_COLUMNS:
            if column == "dyn_range_mean":
                value = round(generator.uniform(0, 40), 6)
            elif column == "loudness":
                value = round(generator.uniform(-60, 1.634), 6)
            elif column == "tempo":
                value = round(generator.uniform(0, 218.77), 6)
            elif column == "key":
                value = generator.randrange(12)
            elif column == "time_signature":
                value = generator.choice([0, 1, 3, 4, 4, 4, 4, 5])
            elif column == "mode":
                value = generator.choice(["major", "minor"])
            else:
                value = round(generator.random(), 6)
            track[column] = value
        for i in range(8):
            track[f"acoustic_vector_{i}"] = round(generator.uniform(-1.12, 1.15), 6)
        tracks.append(track)
    # tf_mini.csv is sorted by release_year (stable: ties keep generation order).
    tracks.sort(key=lambda t: t["release_year"])
    return tracks


def skip_probability(track: dict, shuffle: bool, reason_start: str, previous_skipped: bool | None) -> float:
    """The planted signal: a logistic function of a few columns a model can see."""
    score = (-0.2 + 2.2 * (0.5 - track["energy"]) + 1.4 * (0.5 - track["danceability"])
             + (1.1 if reason_start == "fwdbtn" else 0.0) - (0.6 if reason_start == "trackdone" else 0.0)
             + (0.5 if shuffle else 0.0)
             + (0.9 if previous_skipped else 0.0) - (0.4 if previous_skipped is False else 0.0))
    return 1 / (1 + math.exp(-score))


def session_rows(generator: random.Random, session_id: str, tracks: list[dict], boolean) -> list[list]:
    # log_mini: 167,880 plays in 10,000 sessions (16.8 a session); many sessions reach the cap of 20.
    length = 20 if generator.random() < 0.4 else generator.randint(10, 19)
    shuffle = generator.random() < 0.3
    premium = generator.random() < 0.81
    context = generator.choice(CONTEXT_TYPES)
    day = generator.choice(DATES)
    hour = generator.randrange(24)
    rows = []
    previous_skipped: bool | None = None
    for position in range(1, length + 1):
        track = generator.choice(tracks)
        if position == 1:
            reason_start = generator.choice(["appload", "clickrow", "playbtn", "remote"])
        elif previous_skipped:
            reason_start = "fwdbtn" if generator.random() < 0.8 else generator.choice(REASONS_START)
        else:
            reason_start = "trackdone" if generator.random() < 0.8 else generator.choice(REASONS_START)
        skipped = generator.random() < skip_probability(track, shuffle, reason_start, previous_skipped)
        # Skips nest: very briefly ⊂ briefly ⊂ most of the track; not_skipped = played entirely.
        skip_3 = skipped
        skip_2 = skip_3 and generator.random() < 0.75
        skip_1 = skip_2 and generator.random() < 0.6
        not_skipped = not skip_3
        if skip_3:
            reason_end = "fwdbtn" if generator.random() < 0.85 else generator.choice(["backbtn", "endplay", "remote"])
        elif position == length:
            reason_end = generator.choice(["trackdone", "endplay", "logout"])
        else:
            reason_end = "trackdone" if generator.random() < 0.9 else generator.choice(REASONS_END)
        pause = generator.choices(["none", "short", "long"], weights=[85, 10, 5])[0]
        rows.append([
            session_id, position, length, track["track_id"], boolean(skip_1), boolean(skip_2),
            boolean(skip_3), boolean(not_skipped), int(position > 1 and generator.random() < 0.05),
            int(pause == "none"), int(pause == "short"), int(pause == "long"),
            min(60, int(generator.expovariate(1.5)) if skip_3 else 0),
            min(151, int(generator.expovariate(3.0))), boolean(shuffle),
            (hour + (position * 4) // 60) % 24, day.isoformat(), boolean(premium), context,
            reason_start, reason_end,
        ])
        previous_skipped = skipped
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sessions", type=int, default=MINI_SESSIONS, help="sessions over all log files")
    parser.add_argument("--tracks", type=int, help="candidate tracks (default: in proportion to log_mini)")
    parser.add_argument("--log-files", type=int, default=1, help="1: log_mini.csv; more: log_K_*.csv")
    parser.add_argument("--booleans", choices=["pandas", "lower"], default="pandas")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    generator = random.Random(args.seed)
    track_count = args.tracks or max(10, round(args.sessions * CANDIDATE_TRACKS_PER_SESSION))
    tracks = make_tracks(generator, track_count)
    boolean = (lambda b: "True" if b else "False") if args.booleans == "pandas" else (lambda b: "true" if b else "false")
    args.out.mkdir(parents=True, exist_ok=True)

    played: set[str] = set()
    sessions_per_file = [args.sessions // args.log_files + (k < args.sessions % args.log_files)
                         for k in range(args.log_files)]
    plays = 0
    for k, sessions in enumerate(sessions_per_file):
        name = "log_mini.csv" if args.log_files == 1 else f"log_{k}_{(FIRST_DATE + timedelta(days=k)).strftime('%Y%m%d')}_000000000000.csv"
        ids = sorted(f"{k}_{uuid_from(generator)}" for _ in range(sessions))
        with open(args.out / name, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(LOG_COLUMNS)
            for session_id in ids:
                rows = session_rows(generator, session_id, tracks, boolean)
                played.update(row[3] for row in rows)
                writer.writerows(rows)
                plays += len(rows)

    # Every played track is in tf_mini.csv; like the real mini files, no other track is.
    with open(args.out / "tf_mini.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(TF_COLUMNS)
        for track in tracks:
            if track["track_id"] in played:
                writer.writerow([track[column] for column in TF_COLUMNS])
    print(f"{plays} plays in {args.sessions} sessions, {len(played)} tracks → {args.out}")


if __name__ == "__main__":
    main()
