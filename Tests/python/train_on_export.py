#!/usr/bin/env python3
"""Proves an etl-export is directly usable for model training.

Reads the export with pandas exactly as written (output.csv and the Hive partition folders
under by_split/),
trains a scikit-learn classifier of genre_top on split=training and evaluates it on split=test.
Exits 1 when the export cannot be read as expected or the accuracy is below --min-accuracy.

    python train_on_export.py WORK/exports/training [--min-accuracy 0.9]
"""
import argparse
import glob
import os
import sys

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score


def read_partition(export, split):
    parts = sorted(glob.glob(os.path.join(export, "by_split", f"split={split}", "part-*.csv")))
    if not parts:
        sys.exit(f"no part files for split={split} in {export}")
    frame = pd.concat([pd.read_csv(part) for part in parts], ignore_index=True)
    frame["split"] = split  # recovered from the folder name, as Spark does
    return frame


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("export")
    parser.add_argument("--min-accuracy", type=float, default=0.9)
    args = parser.parse_args()

    whole = pd.read_csv(os.path.join(args.export, "output.csv"))
    features = [c for c in whole.columns if c.startswith(("mfcc_", "spectral_centroid_", "zcr_"))]
    if len(features) != 154:
        sys.exit(f"expected 154 feature columns, found {len(features)}")
    if not all(whole[c].dtype == "float64" for c in features):
        sys.exit("feature columns are not all read as float64")

    train = read_partition(args.export, "training")
    test = read_partition(args.export, "test")
    parted = len(train) + len(test) + len(read_partition(args.export, "validation"))
    if parted != len(whole):
        sys.exit(f"partitions hold {parted} rows, output.csv {len(whole)}")

    model = LogisticRegression(max_iter=2000)
    model.fit(train[features], train["genre_top"])
    accuracy = accuracy_score(test["genre_top"], model.predict(test[features]))
    print(f"rows: {len(whole)}; training {len(train)}, test {len(test)}; "
          f"classes {sorted(whole['genre_top'].unique())}; test accuracy {accuracy:.3f}")
    if accuracy < args.min_accuracy:
        sys.exit(f"accuracy {accuracy:.3f} below {args.min_accuracy}")


if __name__ == "__main__":
    main()
