#!/usr/bin/env python3
"""librosa's throughput for the features MusicETL computes (README, "Audio features"), on a directory of audio.

    python Benchmarks/librosa_features.py <audio-dir> [--repeat N] [--json]

Uses librosa 0.11 at its defaults, exactly as ../shared/golden/ was computed:
    y, sr = librosa.load(path)                  # 22 050 Hz mono float32, soxr_hq
    librosa.feature.mfcc(y=y, sr=sr)            # 20 MFCC, 128 Slaney mels, n_fft 2048, hop 512
    librosa.feature.spectral_centroid(y=y, sr=sr)
    librosa.feature.zero_crossing_rate(y)
plus the seven summary statistics per row (numpy / scipy.stats), on one core.

Prints audio-seconds per second (best of --repeat rounds) for: load only, the feature stage only
(signal in memory) and the whole; with --json the last line is a JSON object (read by bench-features when LIBROSA_PYTHON is
set). Set up the interpreter as Benchmarks/README.md describes.
"""
import argparse
import json
import os
import sys
import time
import warnings

# One core, like the Swift single-core numbers (BLAS threads would otherwise use every CPU).
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

import librosa  # noqa: E402
import numpy as np  # noqa: E402
import scipy.stats  # noqa: E402

# librosa warns on clips shorter than n_fft and scipy on constant rows; both are expected here.
warnings.filterwarnings("ignore")

EXTENSIONS = {".mp3", ".flac", ".ogg", ".oga", ".opus", ".wav", ".aif", ".aiff"}


def audio_files(directory):
    found = []
    for root, _, names in os.walk(directory):
        found += [os.path.join(root, n) for n in names if os.path.splitext(n)[1].lower() in EXTENSIONS]
    return sorted(found)


def summarise(matrix):
    return {
        "mean": np.mean(matrix, axis=1), "std": np.std(matrix, axis=1),
        "skew": scipy.stats.skew(matrix, axis=1), "kurtosis": scipy.stats.kurtosis(matrix, axis=1),
        "median": np.median(matrix, axis=1), "min": np.min(matrix, axis=1), "max": np.max(matrix, axis=1),
    }


def features(y, sr):
    mfcc = librosa.feature.mfcc(y=y, sr=sr)
    centroid = librosa.feature.spectral_centroid(y=y, sr=sr)
    zcr = librosa.feature.zero_crossing_rate(y)
    return [summarise(m.astype(np.float64)) for m in (mfcc, centroid, zcr)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("directory")
    parser.add_argument("--repeat", type=int, default=3, help="rounds over the files; the best counts (default 3)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the results")
    args = parser.parse_args()
    files = audio_files(args.directory)
    if not files:
        sys.exit(f"librosa_features: no audio files under {args.directory}")

    # Warm-up: imports, numba compilation of the zero-crossing kernel, file cache.
    signals = [librosa.load(f) for f in files]
    features(*signals[0])
    audio_seconds = sum(len(y) / sr for y, sr in signals)

    # Rounds alternate the three modes; each keeps its best round (as bench-features does), so a
    # drifting machine speed does not favour one mode.
    def timed(body):
        start = time.perf_counter()
        body()
        return time.perf_counter() - start

    load_time = feature_time = whole_time = float("inf")
    for _ in range(args.repeat):
        load_time = min(load_time, timed(lambda: [librosa.load(f) for f in files]))
        feature_time = min(feature_time, timed(lambda: [features(y, sr) for y, sr in signals]))
        whole_time = min(whole_time, timed(lambda: [features(*librosa.load(f)) for f in files]))

    total = audio_seconds
    result = {
        "files": len(files),
        "audio_seconds": total,
        "load_audio_seconds_per_second": total / load_time,
        "feature_stage_audio_seconds_per_second": total / feature_time,
        "audio_seconds_per_second": total / whole_time,
        "files_per_second": len(files) / whole_time,
        "versions": {"librosa": librosa.__version__, "numpy": np.__version__},
    }
    print(f"librosa {librosa.__version__}: {len(files)} files, {audio_seconds:.1f} audio-s, best of {args.repeat} rounds, 1 core")
    print(f"  load (decode+resample) only   {result['load_audio_seconds_per_second']:9.1f} audio-s/s")
    print(f"  feature stage only            {result['feature_stage_audio_seconds_per_second']:9.1f} audio-s/s")
    print(f"  whole                         {result['audio_seconds_per_second']:9.1f} audio-s/s"
          f"  {result['files_per_second']:.1f} files/s")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
