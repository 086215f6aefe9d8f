"""Builds a sample VRM animation clip (VRMA 1.0, `VRMC_vrm_animation`) from the default avatar's
humanoid skeleton: `cheer.vrma`, both arms up and a little sway, starting and ending in the
relaxed stance tomoni holds, with a smile (an expression track: `happy`) that rises and fades
with it. `--clip idle` and `--clip glance` write clips for tests (an idle loop; a look to the
avatar's left and up, as a look-at track). Standard library only; deterministic.

Usage: python make_vrma.py --vrm assets/avatars/default.vrm --out assets/animations/cheer.vrma
"""
import argparse, json, math, struct


def quat_z(a):
    return [0.0, 0.0, math.sin(a / 2), math.cos(a / 2)]


def quat_mul(a, b):
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return [aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz]


def quat_y(a):
    return [0.0, math.sin(a / 2), 0.0, math.cos(a / 2)]


def quat_x(a):
    return [math.sin(a / 2), 0.0, 0.0, math.cos(a / 2)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vrm", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--clip", choices=["cheer", "idle", "glance"], default="cheer",
                    help="idle: a 4 s loop (arms held out a little, a slow sway) for tests of idle loops; "
                         "glance: 2 s in the relaxed stance, the eyes turning 20 deg to the avatar's left "
                         "and 15 deg up and back (a look-at track)")
    args = ap.parse_args()
    data = open(args.vrm, "rb").read()
    n = struct.unpack("<I", data[12:16])[0]
    src = json.loads(data[20:20 + n])
    human = src["extensions"]["VRMC_vrm"]["humanoid"]["humanBones"]
    node_bone = {v["node"]: k for k, v in human.items()}
    # The humanoid subtree, parents found through non-humanoid nodes too (rest rotations are
    # identity in the default avatar: it is authored in T-pose).
    parent = {}
    for i, nd in enumerate(src["nodes"]):
        for c in nd.get("children", []):
            parent[c] = i

    def world(i):
        t = [0.0, 0.0, 0.0]
        while i is not None:
            tr = src["nodes"][i].get("translation", [0, 0, 0])
            t = [t[k] + tr[k] for k in range(3)]
            i = parent.get(i)
        return t

    def human_parent(i):
        p = parent.get(i)
        while p is not None and p not in node_bone:
            p = parent.get(p)
        return p

    bones = sorted(node_bone)
    index = {src_i: k for k, src_i in enumerate(bones)}
    nodes = []
    for src_i in bones:
        hp = human_parent(src_i)
        w = world(src_i)
        base = world(hp) if hp is not None else [0.0, 0.0, 0.0]
        nodes.append({"name": node_bone[src_i], "translation": [w[k] - base[k] for k in range(3)]})
    roots = []
    for src_i in bones:
        hp = human_parent(src_i)
        if hp is None:
            roots.append(index[src_i])
        else:
            nodes[index[hp]].setdefault("children", []).append(index[src_i])

    if args.clip == "idle":
        # A loop: the last key is the first. Arms held out from the body more than tomoni's
        # relaxed stance (so a test can tell whose pose it is), a slow sway and nod.
        times = [0.0, 1.0, 2.0, 3.0, 4.0]
        held_r = quat_mul(quat_z(0.95), quat_y(0.1))
        held_l = quat_mul(quat_z(-0.95), quat_y(-0.1))
        tracks = {
            "rightUpperArm": [held_r] * 5,
            "leftUpperArm": [held_l] * 5,
            "spine": [quat_z(0.0), quat_z(0.03), quat_z(0.0), quat_z(-0.03), quat_z(0.0)],
            "head": [quat_x(0.0), quat_x(0.04), quat_x(0.0), quat_x(0.04), quat_x(0.0)],
        }
        return write(args, nodes, roots, times, tracks, smile=False)
    relaxed_r = quat_mul(quat_z(1.32), quat_y(0.15))
    relaxed_l = quat_mul(quat_z(-1.32), quat_y(-0.15))
    if args.clip == "glance":
        # The look-at node's rotation turns the head's forward (+Z) to where the eyes look:
        # yaw about Y (positive: the avatar's left), then pitch about X (positive: down).
        times = [0.0, 0.4, 1.6, 2.0]
        ahead = [0.0, 0.0, 0.0, 1.0]
        aside = quat_mul(quat_y(math.radians(20)), quat_x(math.radians(-15)))
        tracks = {"rightUpperArm": [relaxed_r] * 4, "leftUpperArm": [relaxed_l] * 4}
        return write(args, nodes, roots, times, tracks, smile=False, look=[ahead, aside, aside, ahead])
    # Keyframes: relaxed → arms up (with a sway) → relaxed, over 2.4 s.
    times = [0.0, 0.5, 0.9, 1.3, 1.7, 2.4]
    up_r = [quat_z(-1.15), quat_z(-1.35), quat_z(-1.15), quat_z(-1.35)]
    up_l = [quat_z(1.15), quat_z(1.35), quat_z(1.15), quat_z(1.35)]
    tracks = {
        "rightUpperArm": [relaxed_r] + up_r + [relaxed_r],
        "leftUpperArm": [relaxed_l] + up_l + [relaxed_l],
        "spine": [quat_x(0.0), quat_z(0.05), quat_z(-0.05), quat_z(0.05), quat_z(-0.05), quat_x(0.0)],
        "head": [quat_x(0.0), quat_x(-0.15), quat_x(-0.12), quat_x(-0.15), quat_x(-0.12), quat_x(0.0)],
    }
    write(args, nodes, roots, times, tracks, smile=True)


def write(args, nodes, roots, times, tracks, smile, look=None):
    nodes = [dict(nd) for nd in nodes]
    roots = list(roots)
    blob = bytearray()
    accessors, views = [], []

    def add(values, comp, typ, minmax=False):
        off = len(blob)
        for v in values:
            blob.extend(struct.pack("<" + "f" * comp, *(v if comp > 1 else [v])))
        views.append({"buffer": 0, "byteOffset": off, "byteLength": len(blob) - off})
        acc = {"bufferView": len(views) - 1, "componentType": 5126, "count": len(values), "type": typ}
        if minmax:
            acc["min"], acc["max"] = [min(values)], [max(values)]
        accessors.append(acc)
        return len(accessors) - 1

    t_acc = add(times, 1, "SCALAR", True)
    samplers, channels = [], []
    name_to_node = {nd["name"]: k for k, nd in enumerate(nodes)}
    for bone, qs in tracks.items():
        if bone not in name_to_node:
            continue
        o = add(qs, 4, "VEC4")
        samplers.append({"input": t_acc, "output": o, "interpolation": "LINEAR"})
        channels.append({"sampler": len(samplers) - 1, "target": {"node": name_to_node[bone], "path": "rotation"}})
    # The smile: VRMA animates an expression through a node of its own whose translation.x is
    # the weight.
    happy = None
    if smile:
        happy = len(nodes)
        nodes.append({"name": "happy"})
        roots.append(happy)
        o = add([[w, 0.0, 0.0] for w in [0.0, 0.8, 1.0, 1.0, 0.8, 0.0]], 3, "VEC3")
        samplers.append({"input": t_acc, "output": o, "interpolation": "LINEAR"})
        channels.append({"sampler": len(samplers) - 1, "target": {"node": happy, "path": "translation"}})
    # The look-at track: a node of its own whose rotation is where the eyes look.
    look_node = None
    if look:
        look_node = len(nodes)
        nodes.append({"name": "lookAt"})
        roots.append(look_node)
        o = add(look, 4, "VEC4")
        samplers.append({"input": t_acc, "output": o, "interpolation": "LINEAR"})
        channels.append({"sampler": len(samplers) - 1, "target": {"node": look_node, "path": "rotation"}})
    while len(blob) % 4:
        blob.append(0)
    doc = {
        "asset": {"version": "2.0", "generator": "tomoni xtask animation (make_vrma.py)"},
        "extensionsUsed": ["VRMC_vrm_animation"],
        "extensions": {"VRMC_vrm_animation": {
            "specVersion": "1.0",
            "humanoid": {"humanBones": {nd["name"]: {"node": k} for k, nd in enumerate(nodes)
                                        if k not in (happy, look_node)}},
            **({"expressions": {"preset": {"happy": {"node": happy}}}} if smile else {}),
            **({"lookAt": {"node": look_node, "offsetFromHeadBone": [0.0, 0.06, 0.0]}} if look else {}),
        }},
        "scene": 0,
        "scenes": [{"nodes": roots}],
        "nodes": nodes,
        "animations": [{"name": args.clip, "samplers": samplers, "channels": channels}],
        "accessors": accessors,
        "bufferViews": views,
        "buffers": [{"byteLength": len(blob)}],
    }
    js = json.dumps(doc, separators=(",", ":")).encode()
    while len(js) % 4:
        js += b" "
    total = 12 + 8 + len(js) + 8 + len(blob)
    with open(args.out, "wb") as f:
        f.write(struct.pack("<III", 0x46546C67, 2, total))
        f.write(struct.pack("<II", len(js), 0x4E4F534A))
        f.write(js)
        f.write(struct.pack("<II", len(blob), 0x004E4942))
        f.write(bytes(blob))


if __name__ == "__main__":
    main()
