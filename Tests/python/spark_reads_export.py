#!/usr/bin/env python3
"""Reads a partitioned etl-export with Spark exactly as written and prints what Spark sees.

Not part of `swift test` (pyspark is ~300 MB); run by hand:
    python3 -m venv /tmp/spark-venv && /tmp/spark-venv/bin/pip install pyspark   # Java 17 present
    /tmp/spark-venv/bin/python Tests/python/spark_reads_export.py WORK/exports/training/by_split split
Exits 1 if the partition column is not recovered or the row count differs from output.csv.
"""
import os
import sys

from pyspark.sql import SparkSession


def main():
    partitions, column = sys.argv[1], sys.argv[2]
    spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    # As the README writes it: multiLine for quoted newlines, escape='"' for doubled quotes.
    frame = spark.read.csv(partitions, header=True, inferSchema=True, multiLine=True, escape='"')
    whole = spark.read.csv(os.path.join(os.path.dirname(partitions.rstrip("/")), "output.csv"), header=True,
                           multiLine=True, escape='"')
    values = sorted(str(row[0]) for row in frame.select(column).distinct().collect())
    print(f"{frame.count()} rows, {len(frame.columns)} columns; {column} recovered: {values}")
    ok = frame.columns[-1] == column and frame.count() == whole.count()
    spark.stop()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
