#!/usr/bin/env python3
"""Builds ring.gltf, the ceremony's ring prop (made by the project, CC0 1.0): a gold band,
2.2 cm across, with a small diamond, its axis along +Y. Run from this folder."""
import base64
import json
import math
import struct


def torus(R, r, nu, nv):
    pos, nrm, idx = [], [], []
    for i in range(nu + 1):
        u = 2 * math.pi * i / nu
        for j in range(nv + 1):
            v = 2 * math.pi * j / nv
            cx, cz = math.cos(u), math.sin(u)
            n = (cx * math.cos(v), math.sin(v), cz * math.cos(v))
            pos.append((cx * R + r * n[0], r * n[1], cz * R + r * n[2]))
            nrm.append(n)
    for i in range(nu):
        for j in range(nv):
            a, b = i * (nv + 1) + j, (i + 1) * (nv + 1) + j
            idx += [a, a + 1, b, b, a + 1, b + 1]
    return pos, nrm, idx


def gem(cx, cy, cz, s):
    """An octahedron standing on the band (flat-shaded: each face its own vertices)."""
    top, bot = (cx, cy + s * 1.4, cz), (cx, cy, cz)
    ring = [(cx + s * math.cos(a), cy + s * 0.8, cz + s * math.sin(a)) for a in [k * math.pi / 3 for k in range(6)]]
    pos, nrm, idx = [], [], []
    for k in range(6):
        p, q = ring[k], ring[(k + 1) % 6]
        for tri in ((top, q, p), (bot, p, q)):
            a = [tri[1][i] - tri[0][i] for i in range(3)]
            b = [tri[2][i] - tri[0][i] for i in range(3)]
            n = [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
            ln = math.sqrt(sum(x * x for x in n)) or 1.0
            for v in tri:
                idx.append(len(pos))
                pos.append(v)
                nrm.append(tuple(x / ln for x in n))
    return pos, nrm, idx


meshes = [torus(0.0095, 0.0016, 48, 12), gem(0.0, 0.0095 + 0.0012, 0.0, 0.0028)]
blob = bytearray()
views, accessors, prims = [], [], []
for m, (pos, nrm, idx) in enumerate(meshes):
    for data, fmt, target, typ in ((pos, "<3f", 34962, "VEC3"), (nrm, "<3f", 34962, "VEC3"), (idx, "<I", 34963, "SCALAR")):
        off = len(blob)
        for d in data:
            blob += struct.pack(fmt, *(d if isinstance(d, tuple) else (d,)))
        while len(blob) % 4:
            blob += b"\0"
        views.append({"buffer": 0, "byteOffset": off, "byteLength": len(blob) - off, "target": target})
        acc = {"bufferView": len(views) - 1, "componentType": 5126 if typ == "VEC3" else 5125, "count": len(data), "type": typ}
        if data is pos:
            acc["min"] = [min(p[i] for p in pos) for i in range(3)]
            acc["max"] = [max(p[i] for p in pos) for i in range(3)]
        accessors.append(acc)
    base = 3 * m
    prims.append({"attributes": {"POSITION": base, "NORMAL": base + 1}, "indices": base + 2, "material": m})

doc = {
    "asset": {"version": "2.0", "generator": "tomoni make_ring.py", "copyright": "CC0 1.0, the tomoni project"},
    "scene": 0,
    "scenes": [{"nodes": [0]}],
    "nodes": [{"name": "ring", "mesh": 0}],
    "meshes": [{"name": "ring", "primitives": prims}],
    "materials": [
        {"name": "gold", "pbrMetallicRoughness": {"baseColorFactor": [1.0, 0.78, 0.34, 1.0], "metallicFactor": 1.0, "roughnessFactor": 0.25},
         "emissiveFactor": [0.25, 0.18, 0.05]},
        {"name": "diamond", "pbrMetallicRoughness": {"baseColorFactor": [0.92, 0.96, 1.0, 1.0], "metallicFactor": 0.0, "roughnessFactor": 0.05},
         "emissiveFactor": [0.5, 0.55, 0.6]},
    ],
    "accessors": accessors,
    "bufferViews": views,
    "buffers": [{"byteLength": len(blob), "uri": "data:application/octet-stream;base64," + base64.b64encode(bytes(blob)).decode()}],
}
with open("ring.gltf", "w") as f:
    json.dump(doc, f, indent=1)
