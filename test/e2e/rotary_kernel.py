"""Compiles attn.rotary models with attnc and compares with numpy (float64): the half-split and
interleaved forms, partial rotary (R < D), cos/sin broadcast as [S, R] / [1, S, 1, R] / [B, S, 1, R] /
[1, 1, S, R], dynamic batch and sequence (and a dynamic cos dim), rotary widths that leave a
masked tail for 8 and 16 lanes and widths wider than one vector, a parallel-sized case. ATTNC_FLAGS
picks the CPU (e.g. --mcpu=x86-64-v3 for AVX2, --mcpu=znver4 for AVX-512)."""
import json
import os
import subprocess
import sys

import numpy as np

attnc, attn_run, tmp = sys.argv[1:4]
EXTRA = os.environ.get("ATTNC_FLAGS", "").split()
os.makedirs(tmp, exist_ok=True)


def tt(shape):
    return "tensor<%sxf32>" % "x".join("?" if d is None else str(d) for d in shape)


def rotary_ref(x, c, s, interleaved):
    r = c.shape[-1]
    y = x[..., :r]
    if interleaved:
        rot = np.empty_like(y)
        rot[..., 0::2] = -y[..., 1::2]
        rot[..., 1::2] = y[..., 0::2]
    else:
        rot = np.concatenate([-y[..., r // 2:], y[..., :r // 2]], axis=-1)
    out = x.copy()
    out[..., :r] = y * c + rot * s
    return out


# name, x type shape (None = dynamic), x run shape, cos type shape, cos run shape, interleaved
cases = [
    ("half_bshd", (None, None, 4, 16), (2, 7, 4, 16), (1, None, 1, 16), (1, 7, 1, 16), False),
    ("half_bhsd", (None, 2, None, 64), (3, 2, 9, 64), (1, 1, None, 64), (1, 1, 9, 64), False),
    ("half_2d_cos", (None, 3, None, 128), (1, 3, 5, 128), (None, 128), (5, 128), False),
    ("half_per_batch", (None, None, 2, 32), (2, 6, 2, 32), (None, None, 1, 32), (2, 6, 1, 32), False),
    ("half_tail", (2, None, 3, 20), (2, 5, 3, 20), (1, None, 1, 20), (1, 5, 1, 20), False),   # R/2 = 10
    ("partial", (None, None, 4, 32), (2, 5, 4, 32), (1, None, 1, 12), (1, 5, 1, 12), False),  # R = 12 < D
    ("partial_wide", (None, None, 2, 96), (1, 4, 2, 96), (1, None, 1, 48), (1, 4, 1, 48), False),
    ("interleaved", (None, None, 4, 64), (2, 7, 4, 64), (1, None, 1, 64), (1, 7, 1, 64), True),
    ("interleaved_tail", (None, None, 2, 20), (2, 3, 2, 20), (1, None, 1, 20), (1, 3, 1, 20), True),
    ("interleaved_partial", (None, None, 2, 40), (2, 3, 2, 40), (1, None, 1, 18), (1, 3, 1, 18), True),
    ("dyn_cos_broadcast", (None, None, 4, 16), (2, 6, 4, 16), (None, None, 1, 16), (1, 6, 1, 16), False),
    ("parallel", (None, None, 8, 64), (4, 300, 8, 64), (1, None, 1, 64), (1, 300, 1, 64), False),
    ("rank1", (8,), (8,), (8,), (8,), False),
    ("static", (2, 3, 2, 24), (2, 3, 2, 24), (3, 1, 24), (3, 1, 24), True),
]
failed = 0
for i, (name, xs, xr, cs, cr, inter) in enumerate(cases):
    base = os.path.join(tmp, name)
    X, C = tt(xs), tt(cs)
    sym = ["x%d" % j if d is None else d for j, d in enumerate(xs)]
    csym = ["c%d" % j if d is None else d for j, d in enumerate(cs)]
    sig = {"inputs": [{"name": "x", "dtype": "f32", "shape": sym},
                      {"name": "c", "dtype": "f32", "shape": csym},
                      {"name": "s", "dtype": "f32", "shape": csym}],
           "outputs": [{"name": "y", "dtype": "f32", "shape": sym}]}
    text = json.dumps(sig, separators=(",", ":")).replace('"', '\\"')
    with open(base + ".mlir", "w") as f:
        f.write('module attributes {attn.signature = "%s"} {\n  func.func @main_graph(%%x: %s, %%c: %s, %%s: %s) -> %s {\n'
                '    %%y = attn.rotary %%x, %%c, %%s %s: %s, %s, %s -> %s\n    return %%y : %s\n  }\n}\n'
                % (text, X, C, C, X, "{interleaved} " if inter else "", X, C, C, X, X))
    subprocess.check_call([attnc, base + ".mlir", "-o", base + ".so"] + EXTRA)
    rng = np.random.default_rng(500 + i)
    vals = {"x": rng.standard_normal(xr).astype(np.float32),
            "c": rng.standard_normal(cr).astype(np.float32),
            "s": rng.standard_normal(cr).astype(np.float32)}
    cmd = [attn_run, base + ".so", "--output-dir", base + ".out"]
    for n, v in vals.items():
        np.save("%s.%s.npy" % (base, n), v)
        cmd += ["--input", "%s=%s.%s.npy" % (n, base, n)]
    subprocess.check_call(cmd, stdout=subprocess.DEVNULL)
    ref = rotary_ref(*(vals[n].astype(np.float64) for n in "xcs"), inter)
    got = np.load(base + ".out/y.npy")
    err = np.abs(got.astype(np.float64) - ref).max() / max(1.0, np.abs(ref).max())
    ok = got.shape == ref.shape and got.dtype == np.float32 and err <= 1e-6
    failed += not ok
    print("%s %s: err %.2e %s" % (name, xr, err, "PASS" if ok else "FAIL"))
sys.exit(1 if failed else 0)
