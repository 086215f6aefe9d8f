#!/usr/bin/env python3
"""Composes tomoni's ceremony music (made by the project, released CC0 1.0).

Soft additive tones over a slow chord progression; no samples, no third-party material.
Run from this folder: `python3 compose.py` writes procession.wav and recession.wav
(22 050 Hz, mono, 16-bit). Deterministic: the same files every time.
"""
import math
import struct
import wave

RATE = 22050


def note(freq, start, length, gain, buf, bright=0.25):
    """A soft bell-like tone: a few harmonics, quick attack, long exponential decay."""
    i0 = int(start * RATE)
    n = int(length * RATE)
    for k in range(n):
        if i0 + k >= len(buf):
            break
        t = k / RATE
        env = min(1.0, t / 0.02) * math.exp(-t * 1.6)
        s = math.sin(2 * math.pi * freq * t)
        s += bright * math.sin(2 * math.pi * 2 * freq * t) * math.exp(-t * 3)
        s += 0.1 * math.sin(2 * math.pi * 3 * freq * t) * math.exp(-t * 5)
        buf[i0 + k] += gain * env * s


def pad(freqs, start, length, gain, buf):
    """A sustained chord that swells in and out."""
    i0 = int(start * RATE)
    n = int(length * RATE)
    for k in range(n):
        if i0 + k >= len(buf):
            break
        t = k / RATE
        env = math.sin(math.pi * t / length) ** 2
        s = sum(math.sin(2 * math.pi * f * t) for f in freqs) / len(freqs)
        buf[i0 + k] += gain * env * s


def hz(midi):
    return 440.0 * 2 ** ((midi - 69) / 12)


def piece(chords, beat, arp, seconds, name):
    buf = [0.0] * int(seconds * RATE)
    bar = beat * 4
    for i, chord in enumerate(chords):
        t0 = i * bar
        pad([hz(m - 12) for m in chord], t0, bar * 1.1, 0.18, buf)
        for j, idx in enumerate(arp):
            note(hz(chord[idx % len(chord)] + 12 * (idx // len(chord))), t0 + j * beat / 2, 2.5, 0.16, buf)
    peak = max(abs(x) for x in buf) or 1.0
    fade = int(1.5 * RATE)
    with wave.open(name, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        frames = bytearray()
        for k, x in enumerate(buf):
            g = min(1.0, (len(buf) - k) / fade)
            frames += struct.pack("<h", int(max(-1.0, min(1.0, 0.8 * x / peak * g)) * 32767))
        w.writeframes(bytes(frames))


# C major, I–V–vi–IV then IV–V–I, at 66 bpm: a walk down the aisle.
C, G, Am, F = [60, 64, 67], [55, 59, 62], [57, 60, 64], [53, 57, 60]
piece([C, G, Am, F, F, G, C], 60 / 66, [0, 1, 2, 3, 2, 1, 0, 1], 7 * 4 * 60 / 66 + 2, "procession.wav")
# Brighter and quicker for the way out: D major at 92 bpm.
D, A, Bm, Gm = [62, 66, 69], [57, 61, 64], [59, 62, 66], [55, 59, 62]
piece([D, A, Bm, Gm, D, A, D], 60 / 92, [0, 2, 1, 3, 4, 3, 1, 2], 7 * 4 * 60 / 92 + 2, "recession.wav")
