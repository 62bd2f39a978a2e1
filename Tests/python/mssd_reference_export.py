#!/usr/bin/env python3
"""Turns Benchmarks/pandas_mssd.py's table into an export directory shaped like etl-export's.

    python mssd_reference_export.py PANDAS_CSV EXPORT_DIR [--break split|label|outcome]

Writes EXPORT_DIR/output.csv (the table, `_id` = session_id:session_position first),
manifest.json (columns with the roles etl-export gives a skip-prediction training row: id, label
is_skipped, split, categorical for the class-map columns, feature for the numbers, other for the
rest), class_maps.json ({column: {class: code}}, the sorted-unique codes pandas_mssd.py used) and
class_map.json (the label's). It lets Tests/python/mssd_model_check.py be proven on the pandas
reference before the pipeline's own export exists.

`--break split` moves one play of a session into another split; `--break label` shuffles the
label across rows (no signal left); `--break outcome` gives the play's outcome columns (skip flags,
seek counts, reason_end) feature roles: the check must fail on each.
"""
import argparse
import json
import os

import numpy as np
import pandas as pd

CATEGORIES = ["context_type", "hist_user_behavior_reason_start", "hist_user_behavior_reason_end", "mode"]
GENERATED_CLASSES = {
    "context_type": ["user_collection", "editorial_playlist", "catalog", "radio", "personalized_playlist", "charts"],
    "hist_user_behavior_reason_start": ["fwdbtn", "trackdone", "clickrow", "backbtn", "appload", "playbtn",
                                        "remote", "trackerror", "endplay"],
    "hist_user_behavior_reason_end": ["fwdbtn", "trackdone", "endplay", "backbtn", "logout", "remote", "clickrow"],
    "mode": ["major", "minor"],
}
OTHER = {"session_id", "track_id_clean", "track_id", "date"}
OUTCOME = {"skip_1", "skip_2", "skip_3", "not_skipped", "hist_user_behavior_reason_end", "hist_user_behavior_n_seekfwd",
           "hist_user_behavior_n_seekback"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table")
    parser.add_argument("export")
    parser.add_argument("--break", dest="breaking", choices=["split", "label", "outcome"])
    args = parser.parse_args()

    frame = pd.read_csv(args.table, dtype={"session_id": str})
    frame.insert(0, "_id", frame["session_id"] + ":" + frame["session_position"].astype(str))
    if args.breaking == "split":
        first_test = frame.index[frame["split"] == "test"][0]
        frame.loc[first_test, "split"] = "training"
    elif args.breaking == "label":
        frame["is_skipped"] = np.random.default_rng(0).permutation(frame["is_skipped"].to_numpy())

    # pandas_mssd.py numbered the classes present in sorted order: with every generated class
    # present, the names follow from the codes' rank; otherwise the codes are named by number.
    class_maps = {}
    for column in CATEGORIES:
        codes = sorted(int(v) for v in frame[column].dropna().unique())
        names = sorted(GENERATED_CLASSES[column])
        if len(codes) != len(names):
            names = [f"class_{code}" for code in codes]
        class_maps[column] = {name: code for name, code in zip(names, codes)}

    roles = {}
    for column in frame.columns:
        roles[column] = ("id" if column == "_id" else "label" if column == "is_skipped" else "split" if column == "split"
                         else "outcome" if column in OUTCOME and args.breaking != "outcome"
                         else "categorical" if column in CATEGORIES else "other" if column in OTHER
                         else "feature")
    os.makedirs(args.export, exist_ok=True)
    frame.to_csv(os.path.join(args.export, "output.csv"), index=False)
    manifest = {
        "collection": "skip_training",
        "rows": len(frame),
        "columns": [{"name": column, "role": roles[column],
                     "type": "int64" if roles[column] == "categorical" else str(frame[column].dtype)}
                    for column in frame.columns],
        "label": {"column": "is_skipped", "class_map": "class_map.json"},
        "class_maps": {"file": "class_maps.json", "columns": CATEGORIES},
    }
    json.dump(manifest, open(os.path.join(args.export, "manifest.json"), "w"), indent=1)
    json.dump(class_maps, open(os.path.join(args.export, "class_maps.json"), "w"), indent=1)
    json.dump({"label": "is_skipped", "classes": {"0": 0, "1": 1}}, open(os.path.join(args.export, "class_map.json"), "w"))
    print(f"{len(frame)} rows → {args.export}")


if __name__ == "__main__":
    main()
