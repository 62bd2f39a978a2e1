#!/usr/bin/env python3
"""Writes mel_filters_22050_2048_128.json: librosa 0.11's Slaney mel filterbank at its defaults,
stored sparsely (first nonzero bin and the nonzero float32 weights of each filter).

Run with a python that has librosa 0.11 (see Benchmarks/README.md for the venv):
    python Tests/Fixtures/audio/librosa/make_mel_reference.py
"""
import json
import os

import librosa
import numpy as np

basis = librosa.filters.mel(sr=22050, n_fft=2048, n_mels=128)  # fmin 0, fmax sr/2, slaney, float32
filters = []
for row in basis:
    nonzero = np.flatnonzero(row)
    first, last = int(nonzero[0]), int(nonzero[-1])
    filters.append({"first_bin": first, "weights": [float(w) for w in row[first:last + 1]]})
out = {
    "schema": "librosa-mel-reference/1",
    "call": "librosa.filters.mel(sr=22050, n_fft=2048, n_mels=128)",
    "versions": {"librosa": librosa.__version__, "numpy": np.__version__},
    "dtype": str(basis.dtype),
    "shape": list(basis.shape),
    "filters": filters,
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mel_filters_22050_2048_128.json")
with open(path, "w") as f:
    json.dump(out, f, separators=(",", ":"))
