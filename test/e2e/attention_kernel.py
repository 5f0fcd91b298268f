"""Compiles single-attention models (bench/attention_model.py) with attnc,
runs them with attn-run and compares with a float64 numpy reference."""
import os
import subprocess
import sys

import numpy as np

model_py, attnc, attn_run, tmp = sys.argv[1:5]
# Extra attnc flags (e.g. --mcpu=haswell for the AVX2 kernels on an AVX-512 host).
EXTRA = os.environ.get("ATTNC_FLAGS", "").split()
os.makedirs(tmp, exist_ok=True)
cases = [  # B, H, S, D, causal
    (1, 1, 300, 64, True),    # 7 query blocks split over tasks, causal
    (1, 1, 300, 64, False),
    (2, 3, 77, 128, False),   # partial blocks, D=128
    (1, 2, 129, 32, True),
    (4, 8, 5, 64, False),     # short sequences
]
failed = 0
for i, (B, H, S, D, causal) in enumerate(cases):
    base = os.path.join(tmp, "case%d" % i)
    args = [sys.executable, model_py, str(B), str(H), str(S), str(D), "-o", base + ".mlir"]
    if causal:
        args.insert(-2, "--causal")
    subprocess.check_call(args)
    subprocess.check_call([attnc, base + ".mlir", "-o", base + ".so"] + EXTRA)
    rng = np.random.default_rng(i)
    x = {n: (rng.standard_normal((B, H, S, D)) * 2).astype(np.float32) for n in "qkv"}
    cmd = [attn_run, base + ".so", "--output-dir", base + ".out"]
    for n, a in x.items():
        np.save(base + "." + n + ".npy", a)
        cmd += ["--input", "%s=%s.%s.npy" % (n, base, n)]
    subprocess.check_call(cmd, stdout=subprocess.DEVNULL)
    q, k, v = (x[n].astype(np.float64) for n in "qkv")
    s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(D)
    if causal:
        s = np.where(np.triu(np.ones((S, S), bool), 1), -np.inf, s)
    p = np.exp(s - s.max(-1, keepdims=True))
    ref = (p / p.sum(-1, keepdims=True)) @ v
    got = np.load(base + ".out/out.npy")
    err = np.abs(got - ref).max() / max(1.0, np.abs(ref).max())
    ok = got.shape == ref.shape and err <= 1e-4
    failed += not ok
    print("B%d H%d S%d D%d%s: err %.2e %s" % (B, H, S, D, " causal" if causal else "", err,
                                             "PASS" if ok else "FAIL"))

# [B, S, H, D] layouts (query/key/value/result perms, as attn-fold-attention-
# transposes leaves BERT/GPT-2 attention) with masks: an additive padding mask
# [B, 1, 1, Sk] (vector loads), an i64 [B, 1, Sq, Sk] fill mask (vector loads
# and per-lane tails), a bool [1, 1, Sq, Sk] fill mask (per-lane), and a
# [B, 1, 1, 1] mask (one broadcast element).
import json
layout_cases = [  # B, H, Sq, Sk, D, mask kind, mask shape, mask dtype
    (2, 3, 37, 45, 32, "additive", (2, 1, 1, 45), "f32"),
    (2, 2, 50, 50, 64, "fill_if_zero", (2, 1, 50, 50), "i64"),
    (1, 4, 20, 19, 32, "fill_if_nonzero", (1, 1, 20, 19), "bool"),
    (3, 2, 9, 33, 32, "additive", (3, 1, 1, 1), "f32"),
]
NP = {"f32": np.float32, "i64": np.int64, "bool": np.bool_}
MT = {"f32": "f32", "i64": "i64", "bool": "i1"}
for i, (B, H, Sq, Sk, D, kind, mshape, mdt) in enumerate(layout_cases):
    base = os.path.join(tmp, "layout%d" % i)
    qt = "tensor<%dx%dx%dx%dxf32>" % (B, Sq, H, D)
    kt = "tensor<%dx%dx%dx%dxf32>" % (B, Sk, H, D)
    mt = "tensor<%sx%s>" % ("x".join(map(str, mshape)), MT[mdt])
    sig = {"inputs": [{"name": "q", "dtype": "f32", "shape": [B, Sq, H, D]},
                      {"name": "k", "dtype": "f32", "shape": [B, Sk, H, D]},
                      {"name": "v", "dtype": "f32", "shape": [B, Sk, H, D]},
                      {"name": "m", "dtype": mdt, "shape": list(mshape)}],
           "outputs": [{"name": "out", "dtype": "f32", "shape": [B, Sq, H, D]}]}
    text = json.dumps(sig, separators=(",", ":")).replace('"', '\\"')
    perm = "array<i64: 0, 2, 1, 3>"
    fill = ", fill_value = -1.0e+09 : f64" if kind != "additive" else ""
    with open(base + ".mlir", "w") as f:
        f.write('module attributes {attn.signature = "%s"} {\n'
                '  func.func @main_graph(%%q: %s, %%k: %s, %%v: %s, %%m: %s) -> %s {\n'
                '    %%0 = attn.attention %%q, %%k, %%v mask(%%m : %s) {mask_kind = #attn.mask_kind<%s>, '
                'scale = %r : f64%s, query_perm = %s, key_perm = %s, value_perm = %s, result_perm = %s} '
                ': %s, %s, %s -> %s\n    return %%0 : %s\n  }\n}\n'
                % (text, qt, kt, kt, mt, qt, mt, kind, float(1.0 / np.sqrt(D)), fill, perm, perm, perm, perm,
                   qt, kt, kt, qt, qt))
    subprocess.check_call([attnc, base + ".mlir", "-o", base + ".so"] + EXTRA)
    rng = np.random.default_rng(50 + i)
    x = {"q": rng.standard_normal((B, Sq, H, D)), "k": rng.standard_normal((B, Sk, H, D)),
         "v": rng.standard_normal((B, Sk, H, D))}
    x = {n: (a * 2).astype(np.float32) for n, a in x.items()}
    if mdt == "f32" and mshape[-1] == 1:
        # One value per row: a -1e9 there would mask (and, in f32, flatten)
        # every key of the row alike; plain values test the broadcast.
        m = rng.standard_normal(mshape).astype(np.float32)
    elif mdt == "f32":
        m = np.where(rng.random(mshape) < 0.3, -1e9, rng.standard_normal(mshape)).astype(np.float32)
    elif mdt == "i64":
        m = rng.integers(-1, 2, mshape).astype(np.int64)
    else:
        m = rng.random(mshape) < 0.4
    x["m"] = m
    cmd = [attn_run, base + ".so", "--output-dir", base + ".out"]
    for n, a in x.items():
        np.save(base + "." + n + ".npy", a)
        cmd += ["--input", "%s=%s.%s.npy" % (n, base, n)]
    subprocess.check_call(cmd, stdout=subprocess.DEVNULL)
    q, k, v = (x[n].astype(np.float64).transpose(0, 2, 1, 3) for n in "qkv")
    s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(D)
    if kind == "additive":
        s = s + m
    else:
        cond = (m == 0) if kind == "fill_if_zero" else (m != 0)
        s = np.where(cond, -1e9, s)
    p = np.exp(s - s.max(-1, keepdims=True))
    ref = ((p / p.sum(-1, keepdims=True)) @ v).transpose(0, 2, 1, 3)
    got = np.load(base + ".out/out.npy")
    err = np.abs(got - ref).max() / max(1.0, np.abs(ref).max()) if got.shape == ref.shape else float("inf")
    ok = err <= 1e-4
    failed += not ok
    print("BSHD B%d H%d Sq%d Sk%d D%d %s mask%s %s: err %.2e %s"
          % (B, H, Sq, Sk, D, kind, mshape, mdt, err, "PASS" if ok else "FAIL"))
sys.exit(1 if failed else 0)
