#!/usr/bin/env python3
"""Proves an etl-export is a training set a data scientist uses as it is.

Reads the export exactly as the README writes it, with pandas and with pyarrow: output.csv, the
Hive partitions under by_<field>/ and the shards. Selects the features by their role in
manifest.json (never by name), maps the label through class_map.json, trains LightGBM (or
scikit-learn's HistGradientBoosting where LightGBM is not installed) on split=training and scores
split=test. Nothing in here repairs data: a missing label, a string in a feature column or a
row count that differs from the manifest fails the check.

    python train_on_export.py WORK/exports/training [--min-accuracy 0.8]
Exits 1 with the reason when a check fails.
"""
import argparse
import glob
import json
import os
import sys

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pv
import pyarrow.dataset as ds


def fail(message):
    sys.exit(f"train_on_export: {message}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("export")
    parser.add_argument("--min-accuracy", type=float, default=0.8)
    args = parser.parse_args()
    export = args.export

    # --- README: "Reading an export" (pandas) ---
    manifest = json.load(open(f"{export}/manifest.json"))
    features = [c["name"] for c in manifest["columns"] if c["role"] == "feature"]
    label = manifest["label"]["column"]
    classes = json.load(open(f"{export}/class_map.json"))["classes"]
    frame = pd.read_csv(f"{export}/output.csv", dtype={"genres": str})
    # --- end of README lines ---

    if not features:
        fail("no column has the role feature")
    if not all(frame[c].dtype == "float64" for c in features):
        fail("feature columns are not all read as float64: " +
             ", ".join(c for c in features if frame[c].dtype != "float64"))
    if len(frame) != manifest["rows"]:
        fail(f"output.csv has {len(frame)} rows, the manifest says {manifest['rows']}")
    if frame[label].isna().any() or not frame[label].isin(list(classes)).all():
        fail(f"output.csv has rows whose {label} is missing or not in class_map.json")
    other = [c["name"] for c in manifest["columns"] if c["role"] not in ("feature", "label", "id", "split")]
    if any(name in features for name in other):
        fail("a column is both a feature and something else")

    # --- README: pyarrow ---
    parse = pv.ParseOptions(newlines_in_values=True)
    convert = pv.ConvertOptions(strings_can_be_null=True, column_types={"genres": pa.string()})
    table = pv.read_csv(f"{export}/output.csv", parse_options=parse, convert_options=convert)
    # --- end of README lines ---
    if table.num_rows != len(frame) or table.column_names != list(frame.columns):
        fail("pyarrow and pandas read output.csv differently")
    if table.column(label).null_count:
        fail(f"pyarrow reads a missing {label}")
    for name in features:
        if not pa.types.is_floating(table.schema.field(name).type):
            fail(f"pyarrow reads feature {name} as {table.schema.field(name).type}")

    # Non-finite values: empty cells, which both readers take as missing, as many as counted.
    unlabelled_path = f"{export}/unlabelled.csv"
    unlabelled = pd.read_csv(unlabelled_path, dtype={"genres": str}) if os.path.exists(unlabelled_path) else frame.iloc[0:0]
    if len(unlabelled) != manifest["label"]["unlabelled"]["rows"]:
        fail("unlabelled.csv does not hold the rows the manifest counts")
    missing = int(frame[features].isna().sum().sum() + unlabelled[features].isna().sum().sum())
    if missing != manifest["non_finite"]["cells"]:
        fail(f"{missing} missing feature cells, the manifest counts {manifest['non_finite']['cells']} non-finite")

    # Multi-label ids: |-joined in one cell.
    if "genres" in frame.columns:
        lists = frame["genres"].fillna("").str.split("|")
        if not all(all(part.isdigit() for part in ids if part) for ids in lists):
            fail("genres is not a |-joined list of ids")

    # Partitions, with pandas (per part file) and pyarrow (the Hive dataset).
    by = manifest.get("partition_by")
    parts = {}
    if by:
        for folder in sorted(glob.glob(f"{export}/by_{by}/{by}=*")):
            value = folder.rsplit("=", 1)[1]
            # --- README: a partition with pandas ---
            part = pd.concat([pd.read_csv(p, dtype={"genres": str}) for p in sorted(glob.glob(f"{folder}/part-*.csv"))],
                             ignore_index=True)
            # --- end of README lines ---
            part = pd.concat([part, pd.Series(value, index=part.index, name=by)], axis=1)  # from the folder name, as Spark does
            parts[value] = part
        # --- README: the partitions with pyarrow ---
        dataset = ds.dataset(f"{export}/by_{by}", format=ds.CsvFileFormat(parse_options=parse, convert_options=convert),
                             partitioning="hive")
        # --- end of README lines ---
        arrow_parts = dataset.to_table()
        total = sum(len(p) for p in parts.values())
        if total != len(frame) or arrow_parts.num_rows != len(frame):
            fail(f"partitions hold {total} rows (pyarrow {arrow_parts.num_rows}), output.csv {len(frame)}")
        if sorted(set(arrow_parts.column(by).to_pylist())) != sorted(parts):
            fail("pyarrow does not recover the partition column from the folder names")

    # Shards: every row once, rows per class as the manifest lists them.
    shards = manifest.get("shards")
    if shards:
        seen = 0
        for entry in shards["files"]:
            shard = pd.read_csv(f"{export}/{entry['path']}", dtype={"genres": str})
            arrow_shard = pv.read_csv(f"{export}/{entry['path']}", parse_options=parse, convert_options=convert)
            if len(shard) != entry["rows"] or arrow_shard.num_rows != entry["rows"]:
                fail(f"{entry['path']}: {len(shard)} rows, the manifest says {entry['rows']}")
            counts = shard[label].value_counts().to_dict()
            if counts != {k: v for k, v in entry["rows_per_class"].items() if v}:
                fail(f"{entry['path']}: rows per class {counts}, the manifest says {entry['rows_per_class']}")
            seen += len(shard)
        if seen != len(frame):
            fail(f"shards hold {seen} rows, output.csv {len(frame)}")
        for name, total in manifest["label"]["rows_per_class"].items():
            if total >= shards["count"]:
                spread = [entry["rows_per_class"].get(name, 0) for entry in shards["files"]]
                if max(spread) - min(spread) > 1:
                    fail(f"class {name} is not stratified over the shards: {spread}")

    # Train on split=training (the partition if there is one), score split=test; no repair.
    split = next((c["name"] for c in manifest["columns"] if c["role"] == "split"), None)
    train = parts["training"] if by == split and parts else frame[frame[split] == "training"]
    test = parts["test"] if by == split and parts else frame[frame[split] == "test"]
    try:
        import lightgbm
        model = lightgbm.LGBMClassifier(n_estimators=80, min_child_samples=5, verbose=-1)
        learner = f"LightGBM {lightgbm.__version__}"
    except ImportError:
        from sklearn.ensemble import HistGradientBoostingClassifier
        model = HistGradientBoostingClassifier(max_iter=80)
        learner = "HistGradientBoosting"
    model.fit(train[features], train[label].map(classes))
    accuracy = float((model.predict(test[features]) == test[label].map(classes).to_numpy()).mean())
    print(f"{learner}: rows {len(frame)} (+{len(unlabelled)} unlabelled); training {len(train)}, test {len(test)}; "
          f"{len(features)} features; classes {classes}; test accuracy {accuracy:.3f}")
    if accuracy < args.min_accuracy:
        fail(f"accuracy {accuracy:.3f} below {args.min_accuracy}")


if __name__ == "__main__":
    main()
