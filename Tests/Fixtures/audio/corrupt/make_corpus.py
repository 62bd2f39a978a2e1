#!/usr/bin/env python3
"""Regenerates the damaged / unusual audio corpus in this directory (stdlib only, no sox).

The generated files are committed, so tests never need this script; run it only to change the
corpus:  python3 Tests/Fixtures/audio/corrupt/make_corpus.py
Truncated files are cut from CC0 clips one directory up; the rest is synthetic (CC0).
"""
import math
import os
import struct
import wave

HERE = os.path.dirname(os.path.abspath(__file__))
CLIPS = os.path.dirname(HERE)


def write_wav(name, rate, channels, frames):
    """frames: list of per-frame tuples of floats in [-1, 1], written as 16-bit PCM."""
    with wave.open(os.path.join(HERE, name), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        data = bytearray()
        for frame in frames:
            for value in frame:
                data += struct.pack("<h", max(-32768, min(32767, round(value * 32767))))
        out.writeframes(bytes(data))


def truncate(source, name, keep_bytes):
    with open(os.path.join(CLIPS, source), "rb") as f:
        data = f.read()
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data[:keep_bytes])


def sine(freq, rate, t):
    return math.sin(2 * math.pi * freq * t / rate)


# Nothing at all, and not audio at all.
open(os.path.join(HERE, "zero_bytes.mp3"), "wb").close()
with open(os.path.join(HERE, "text_renamed.mp3"), "w") as f:
    f.write("This is a plain text file that was renamed to .mp3 by mistake.\n" * 20)

# Cut mid-stream (the headers survive, the audio data stops part-way).
truncate("loop_compus_160k.mp3", "truncated.mp3", 40_000)
truncate("loop_amen_full.flac", "truncated.flac", 60_000)
truncate("explosion_22050_mono.ogg", "truncated.ogg", 3_000)
# A WAV header announcing 1 s of data with none of it present.
with open(os.path.join(HERE, "header_only.wav"), "wb") as f:
    f.write(b"RIFF" + struct.pack("<I", 36 + 88200) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 44100, 88200, 2, 16)
            + b"data" + struct.pack("<I", 88200))

# 0.05 s at 44.1 kHz: 2205 samples -> 1103 at 22.05 kHz -> 3 frames, shorter than one FFT window.
write_wav("short_50ms_44100.wav", 44100, 1, [(0.5 * sine(440, 44100, t),) for t in range(2205)])

# 8 channels, 0.25 s at 44.1 kHz, a different tone on every channel (the downmix is their mean).
write_wav("eight_channels.wav", 44100, 8,
          [tuple(0.1 * sine(220 * (c + 1), 44100, t) for c in range(8)) for t in range(11025)])

# 96 kHz mono, 0.5 s of a 1 kHz tone.
write_wav("tone_1khz_96k.wav", 96000, 1, [(0.5 * sine(1000, 96000, t),) for t in range(48000)])

# 1 s of digital silence at 22.05 kHz (no resampling: exact zeros reach the DSP).
write_wav("all_silence_22050.wav", 22050, 1, [(0.0,)] * 22050)

# 1 s of a constant +0.5 (pure DC) at 22.05 kHz.
write_wav("dc_offset_22050.wav", 22050, 1, [(0.5,)] * 22050)

# An MP3 with 3 000 bytes of noise spliced into the middle: libmpg123 prints "Note: Illegal
# Audio-MPEG-Header …" / "Trying to resync" lines on stderr while it skips them.
with open(os.path.join(CLIPS, "loop_compus_160k.mp3"), "rb") as f:
    clip = f.read()
noise, state = bytearray(), 12345
for _ in range(3000):
    state = (1103515245 * state + 12345) % 2**31
    noise.append(state >> 16 & 0xFF)
middle = len(clip) // 2
with open(os.path.join(HERE, "resync_garbage.mp3"), "wb") as f:
    f.write(clip[:middle] + bytes(noise) + clip[middle:])

# A WAV whose header announces ten hours (mono 16-bit, 44.1 kHz) but which holds one second.
ten_hours = 10 * 3600 * 44100 * 2
with open(os.path.join(HERE, "ten_hours_announced_one_second.wav"), "wb") as f:
    f.write(b"RIFF" + struct.pack("<I", 36 + ten_hours) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 44100, 88200, 2, 16)
            + b"data" + struct.pack("<I", ten_hours))
    f.write(b"".join(struct.pack("<h", round(0.5 * 32767 * sine(440, 44100, t))) for t in range(44100)))
