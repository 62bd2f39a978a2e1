#!/usr/bin/env python3
"""Builds an FMA-like benchmark corpus: the CC0 golden clips re-encoded as 44.1 kHz stereo MP3
(FMA's format), each looped to about 30 s (FMA's clip length), N copies.

    /tmp/librosa-venv/bin/python Benchmarks/make_mp3_corpus.py ../shared/golden/audio /tmp/bench-mp3 [--copies 4]

Needs librosa (decode + soxr resample) and soundfile's bundled libsndfile >= 1.1 (MP3 writing)."""
import argparse
import pathlib

import librosa
import numpy as np
import soundfile as sf


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("source")
    parser.add_argument("out")
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(pathlib.Path(args.source).iterdir()):
        if path.suffix.lower() not in {".ogg", ".flac", ".mp3", ".wav"}:
            continue
        audio, _ = librosa.load(path, sr=44100, mono=False, res_type="soxr_hq")
        audio = np.atleast_2d(audio)
        if audio.shape[0] == 1:
            audio = np.vstack([audio, audio])
        frames = int(args.seconds * 44100)
        audio = np.tile(audio, (1, frames // audio.shape[1] + 1))[:, :frames]
        peak = np.max(np.abs(audio)) or 1.0
        audio = (audio / peak * 0.9).T
        for copy in range(args.copies):
            target = out / f"{copy + 1}-{path.stem}.mp3"
            sf.write(target, audio, 44100, format="MP3")
            print(target)


if __name__ == "__main__":
    main()
