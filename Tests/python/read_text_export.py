#!/usr/bin/env python3
"""Reads a text-heavy export (tracks: HTML with newlines, quotes and commas) with pandas and with
pyarrow exactly as the README writes, and checks every row and the text of one cell.

    python read_text_export.py WORK/exports/tracks TRACK_ID EXPECTED_TEXT_FILE
Exits 1 with the reason when a reader gets a different row count or text.
"""
import json
import sys

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pv


def main():
    export, track_id, expected_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    expected = open(expected_file, encoding="utf-8", newline="").read()
    manifest = json.load(open(f"{export}/manifest.json"))

    frame = pd.read_csv(f"{export}/output.csv", dtype={"genres": str})
    parse = pv.ParseOptions(newlines_in_values=True)
    convert = pv.ConvertOptions(strings_can_be_null=True, column_types={"genres": pa.string()})
    table = pv.read_csv(f"{export}/output.csv", parse_options=parse, convert_options=convert)

    for reader, rows, text in [
        ("pandas", len(frame), frame.loc[frame["track_id"] == track_id, "information"].iloc[0]),
        ("pyarrow", table.num_rows,
         table.column("information").to_pylist()[table.column("track_id").to_pylist().index(track_id)]),
    ]:
        if rows != manifest["rows"]:
            sys.exit(f"read_text_export: {reader} reads {rows} rows, the manifest says {manifest['rows']}")
        if text != expected:
            sys.exit(f"read_text_export: {reader} reads track {track_id}'s information as {text!r}")
    print(f"pandas and pyarrow read {manifest['rows']} text-heavy rows as written")


if __name__ == "__main__":
    main()
