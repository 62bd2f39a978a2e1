#!/usr/bin/env python3
"""Proves an MSSD skip-prediction export trains a model that beats the majority class.

    python mssd_model_check.py EXPORT_DIR [--min-margin 0.0]

EXPORT_DIR holds output.csv, manifest.json and class_maps.json (and class_map.json, the label's).
The columns come from the manifest's roles, never from their names: every column whose role is
`feature` or `categorical` is a feature (not the id, label, split, partition key, `other`, nor
`session_id`); categorical columns hold class-map codes and are given to the model as
categories. Columns that describe the outcome of the play the label is about (the skip flags,
`hist_user_behavior_reason_end`, the seek counts during the play) must have the role `outcome`
(the schema's `"x-role": "outcome"`): a manifest that calls one a feature fails the check, since a
model that read it would learn the label from itself.

Checks, each failing with the reason (exit 1): every session_id lies in one split; the class-map
columns hold only codes of class_maps.json (or are empty); the label's values are classes of
class_map.json. Then trains LightGBM (scikit-learn's HistGradientBoosting where LightGBM is not
installed) on split=training, predicts split=test, prints the test accuracy and the majority-class
baseline (the share of the test split's most common class), and exits 1 unless the accuracy beats
the baseline by more than --min-margin.
"""
import argparse
import json
import os
import sys

import pandas as pd

# Observed during or after the play whose skip is the label.
OUTCOME_COLUMNS = {"skip_1", "skip_2", "skip_3", "not_skipped", "is_skipped", "hist_user_behavior_reason_end",
                   "hist_user_behavior_n_seekfwd", "hist_user_behavior_n_seekback"}
NOT_FEATURE_ROLES = {"id", "label", "split", "partition_key", "other", "outcome"}


def fail(message):
    sys.exit(f"mssd_model_check: {message}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export")
    parser.add_argument("--min-margin", type=float, default=0.0,
                        help="the accuracy must exceed the baseline by more than this (default 0)")
    args = parser.parse_args()
    export = args.export

    manifest = json.load(open(os.path.join(export, "manifest.json")))
    if not manifest.get("label"):
        fail("the manifest names no label column")
    label = manifest["label"]["column"]
    classes = json.load(open(os.path.join(export, manifest["label"].get("class_map", "class_map.json"))))["classes"]
    class_maps_path = os.path.join(export, "class_maps.json")
    class_maps = json.load(open(class_maps_path)) if os.path.exists(class_maps_path) else {}

    roles = {column["name"]: column["role"] for column in manifest["columns"]}
    split = next((name for name, role in roles.items() if role == "split"), None)
    if split is None:
        fail("no column has the role split")
    if "session_id" not in roles:
        fail("the export has no session_id column: the session-disjoint split cannot be checked")
    categorical = [name for name, role in roles.items() if role == "categorical"]
    features = [name for name, role in roles.items() if role not in NOT_FEATURE_ROLES and name != "session_id"]
    leaking = sorted(name for name in features if name in OUTCOME_COLUMNS)
    if leaking:
        fail(f"the manifest gives {', '.join(leaking)} the role feature or categorical, but they describe the play's outcome: the export must mark them outcome")
    left_out = sorted(name for name, role in roles.items() if role == "outcome")
    if not features:
        fail("no column has the role feature or categorical")

    frame = pd.read_csv(os.path.join(export, "output.csv"), dtype={"session_id": str, split: str})
    if len(frame) != manifest["rows"]:
        fail(f"output.csv has {len(frame)} rows, the manifest says {manifest['rows']}")

    # Split by session: a session in two splits lets a model learn the session, not the skip.
    splits_per_session = frame.groupby("session_id")[split].nunique()
    straddling = splits_per_session[splits_per_session > 1]
    if len(straddling):
        fail(f"{len(straddling)} sessions lie in more than one split, e.g. {straddling.index[0]}")

    for name in categorical:
        if name not in class_maps:
            fail(f"{name} is categorical but class_maps.json has no map for it")
        codes = set(class_maps[name].values())
        present = frame[name].dropna()
        if not present.map(lambda value: float(value).is_integer() and int(value) in codes).all():
            fail(f"{name} holds values that are not codes of class_maps.json")
        frame[name] = pd.Categorical(frame[name].astype("Int64"), categories=sorted(codes))
    labels = frame[label].astype("Int64").astype(str) if frame[label].dtype != object else frame[label]
    if not labels.isin(list(classes)).all():
        fail(f"{label} holds values that are not classes of class_map.json")
    frame["_target"] = labels.map(classes)

    train = frame[frame[split] == "training"]
    test = frame[frame[split] == "test"]
    if train.empty or test.empty:
        fail(f"training ({len(train)} rows) and test ({len(test)} rows) must both hold rows")
    try:
        import lightgbm
        model = lightgbm.LGBMClassifier(n_estimators=120, learning_rate=0.05, min_child_samples=20, verbose=-1)
        learner = f"LightGBM {lightgbm.__version__}"
    except ImportError:
        from sklearn.ensemble import HistGradientBoostingClassifier
        model = HistGradientBoostingClassifier(max_iter=120, categorical_features="from_dtype")
        learner = "scikit-learn HistGradientBoosting"
    model.fit(train[features], train["_target"])
    accuracy = float((model.predict(test[features]) == test["_target"].to_numpy()).mean())
    baseline = float(test["_target"].value_counts(normalize=True).max())
    print(f"{learner}: training {len(train)} rows, test {len(test)} rows, {frame['session_id'].nunique()} sessions; "
          f"{len(features)} features ({len(categorical)} categorical: {', '.join(categorical) or 'none'}); "
          f"left out as outcomes of the play: {', '.join(left_out) or 'none'}")
    print(f"test accuracy {accuracy:.4f}; majority-class baseline {baseline:.4f}")
    if not accuracy > baseline + args.min_margin:
        fail(f"accuracy {accuracy:.4f} does not beat the majority-class baseline {baseline:.4f}"
             + (f" by more than {args.min_margin}" if args.min_margin else ""))


if __name__ == "__main__":
    main()
