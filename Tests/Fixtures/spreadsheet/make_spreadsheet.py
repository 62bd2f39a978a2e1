#!/usr/bin/env python3
"""Rewrites the bundled FMA sample (Tests/Fixtures/sample/fma_metadata) as a spreadsheet program
saves it after a round trip: dates as M/D/YY h:mm AM (two-digit year, no seconds) and M/D/YY,
numbers with thousands separators, spaces around ids and numbers, NaN/N/A in empty numeric cells,
set.split with a trailing space, a UTF-8 byte-order mark and CRLF line ends. Two values are
made unreadable on purpose (an optional field each): the extract must keep their rows, null the
values and report them. Writes fma_metadata/ (comma) and fma_metadata_semicolon/ (the same with
`;` as delimiter, as spreadsheets in comma-decimal locales export). Stdlib only, deterministic:

    python3 Tests/Fixtures/spreadsheet/make_spreadsheet.py
"""
import csv
import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
SAMPLE = os.path.join(ROOT, "Tests", "Fixtures", "sample", "fma_metadata")
SCHEMAS = os.path.join(ROOT, "Schemas")

# Files and how many header rows they have.
FILES = {"raw_genres.csv": 1, "genres.csv": 1, "raw_albums.csv": 1, "raw_artists.csv": 1,
         "raw_tracks.csv": 1, "tracks.csv": 3}
# Deliberately unreadable values: (file, id, column) -> text.
UNREADABLE = {("raw_tracks.csv", "3", "track_date_recorded"): "sometime in 2008",
              ("raw_albums.csv", "4", "album_listens"): "lots"}


def numeric_columns():
    """Header names of int and double properties in every schema (the columns worth mangling)."""
    names = set()
    for name in sorted(os.listdir(SCHEMAS)):
        if not name.endswith(".schema.json"):  # Schemas/mssd/ holds another dataset's
            continue
        with open(os.path.join(SCHEMAS, name)) as handle:
            schema = json.load(handle)

        def walk(properties):
            for key, definition in properties.items():
                if "properties" in definition:
                    walk(definition["properties"])
                elif definition.get("x-type") in ("int", "double") and key != "_id":
                    names.update(definition.get("x-columns", [key]))
        walk(schema.get("properties", {}))
    return names


AMPM = re.compile(r"^(\d\d)/(\d\d)/(\d\d)(\d\d) (\d\d):(\d\d):\d\d ([AP]M)$")
SLASH = re.compile(r"^(\d\d)/(\d\d)/(\d\d)(\d\d)$")
ISO = re.compile(r"^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):\d\d$")
INTEGER = re.compile(r"^-?\d+$")


def mangle(value, column, numeric):
    match = AMPM.match(value)
    if match:
        month, day, _, year, hour, minute, marker = match.groups()
        return f"{int(month)}/{int(day)}/{year} {int(hour)}:{minute} {marker}"
    match = SLASH.match(value)
    if match:
        month, day, _, year = match.groups()
        return f"{int(month)}/{int(day)}/{year}"
    match = ISO.match(value)
    if match:
        year, month, day, hour, minute = match.groups()
        return f"{int(month)}/{int(day)}/{year[2:]} {int(hour)}:{minute}"
    if column in numeric:
        if value == "":
            return "NaN"
        if INTEGER.match(value):
            return f"{int(value):,} "
    if column == "set.split" and value:
        return value + " "
    return value


def main():
    numeric = numeric_columns()
    for delimiter, folder in ((",", "fma_metadata"), (";", "fma_metadata_semicolon")):
        out = os.path.join(HERE, folder)
        os.makedirs(out, exist_ok=True)
        for name, header_rows in FILES.items():
            with open(os.path.join(SAMPLE, name), newline="", encoding="utf-8", errors="surrogateescape") as handle:
                rows = list(csv.reader(handle))
            if header_rows == 3:
                columns = [f"{a}.{b}" if a else b for a, b in zip(rows[0], rows[1])]
                columns[0] = rows[2][0]
            else:
                columns = rows[0]
            body = []
            for row in rows[header_rows:]:
                mangled = [row[0] + " "]  # the id, with a trailing space
                for column, value in zip(columns[1:], row[1:]):
                    key = (name, row[0], column)
                    mangled.append(UNREADABLE[key] if key in UNREADABLE else mangle(value, column, numeric))
                body.append(mangled)
            path = os.path.join(out, name)
            with open(path, "w", newline="", encoding="utf-8", errors="surrogateescape") as handle:
                handle.write("\ufeff")
                writer = csv.writer(handle, delimiter=delimiter, lineterminator="\r\n")
                writer.writerows(rows[:header_rows])
                writer.writerows(body)


if __name__ == "__main__":
    main()
