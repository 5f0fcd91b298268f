"""attn.linear at decode row counts (M = 1..8, dynamic: the streaming
matrix-vector kernel over the compile-time-packed weights, chosen at run time)
and just past them (M = 9, 13: the blocked kernel), against numpy: plain,
bias, activations, gated (SwiGLU/GeGLU), merged projections (several
results), K not a multiple of the k-unrolling, run-time weights.

  linear_decode_kernel.py ATTNC ATTN_RUN TMPDIR
"""
import json
import math
import os
import subprocess
import sys

import numpy as np

attnc, attn_run, tmp = sys.argv[1:4]
EXTRA = os.environ.get("ATTNC_FLAGS", "").split()
os.makedirs(tmp, exist_ok=True)


def gelu(x):
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


ACT = {"none": lambda x: x, "relu": lambda x: np.maximum(x, 0.0), "gelu": gelu,
       "silu": lambda x: x / (1.0 + np.exp(-x))}


def dense(a):
    return 'dense<"0x%s">' % a.astype("<f4").tobytes().hex().upper()


# K, output splits, activation, bias, gated, weight constant?, 3-D input?
cases = [
    (64, [256], "none", False, False, True, False),
    (67, [96], "gelu", True, False, True, False),          # K % 4 = 3: k tail
    (128, [64, 32, 64], "none", True, False, True, False),  # merged projections
    (96, [128], "silu", False, True, True, False),          # gated SwiGLU
    (130, [64, 32], "gelu", True, True, True, True),        # gated GeGLU, splits, [b, s, K]
    (48, [160], "relu", True, False, False, False),         # run-time weight (strided panel view)
    (40, [64], "silu", True, True, False, False),           # run-time gated weight (packed)
]
ROWS = [1, 2, 3, 4, 5, 7, 8, 9, 13]
failed = 0
for i, (K, splits, act, has_bias, gated, const_w, three_d) in enumerate(cases):
    base = os.path.join(tmp, "case%d" % i)
    rng = np.random.default_rng(500 + i)
    nout = sum(splits)
    N = 2 * nout if gated else nout
    w = (rng.standard_normal((K, N)) / math.sqrt(K) * 2).astype(np.float32)
    bias = rng.standard_normal(N).astype(np.float32)
    lead = ["?", "?"] if three_d else ["?"]
    sym = ["b", "s"] if three_d else ["m"]
    xt = "tensor<%sx%dxf32>" % ("x".join(lead), K)
    yts = ["tensor<%sx%dxf32>" % ("x".join(lead), n) for n in splits]
    wt, bt = "tensor<%dx%dxf32>" % (K, N), "tensor<%dxf32>" % N
    inputs = [{"name": "x", "dtype": "f32", "shape": sym + [K]}]
    args = ["%%x: %s" % xt]
    if not const_w:
        inputs.append({"name": "w", "dtype": "f32", "shape": [K, N]})
        args.append("%%w: %s" % wt)
    sig = {"inputs": inputs, "outputs": [{"name": "y%d" % j, "dtype": "f32", "shape": sym + [n]}
                                         for j, n in enumerate(splits)]}
    text = json.dumps(sig, separators=(",", ":")).replace('"', '\\"')
    body = []
    if const_w:
        body.append("    %%w = arith.constant %s : %s" % (dense(w), wt))
    bias_part = ""
    if has_bias:
        body.append("    %%b = arith.constant %s : %s" % (dense(bias), bt))
        bias_part = " bias(%%b : %s)" % bt
    attrs = (["gated"] if gated else []) + ([] if act == "none" else ["activation = #attn.activation<%s>" % act])
    results = ", ".join("%%r#%d" % j for j in range(len(splits)))
    body.append("    %%r:%d = attn.linear %%x, %%w%s {%s} : %s, %s -> %s"
                % (len(splits), bias_part, ", ".join(attrs), xt, wt, ", ".join(yts)))
    body.append("    return %s : %s" % (results, ", ".join(yts)))
    with open(base + ".mlir", "w") as f:
        f.write('module attributes {attn.signature = "%s"} {\n  func.func @main_graph(%s) -> (%s) {\n%s\n  }\n}\n'
                % (text, ", ".join(args), ", ".join(yts), "\n".join(body)))
    subprocess.check_call([attnc, base + ".mlir", "-o", base + ".so"] + EXTRA)
    worst, ok = 0.0, True
    for M in ROWS:
        shape = (1, M, K) if three_d else (M, K)
        x = rng.standard_normal(shape).astype(np.float32)
        np.save(base + ".x.npy", x)
        cmd = [attn_run, base + ".so", "--input", "x=%s.x.npy" % base, "--output-dir", base + ".out"]
        if not const_w:
            np.save(base + ".w.npy", w)
            cmd += ["--input", "w=%s.w.npy" % base]
        subprocess.check_call(cmd, stdout=subprocess.DEVNULL)
        y = x.astype(np.float64) @ w.astype(np.float64)
        if has_bias:
            y = y + bias
        y = ACT[act](y[..., :nout]) * y[..., nout:] if gated else ACT[act](y)
        col = 0
        for j, n in enumerate(splits):
            ref = y[..., col:col + n]
            col += n
            got = np.load(base + ".out/y%d.npy" % j)
            err = np.abs(got - ref).max() / max(1.0, np.abs(ref).max()) if got.shape == ref.shape else float("inf")
            worst = max(worst, err)
            ok = ok and err <= 1e-4
    failed += not ok
    print("case%d K%d splits %s %s bias=%s gated=%s const_w=%s rows %s: err %.2e %s"
          % (i, K, splits, act, has_bias, gated, const_w, ROWS, worst, "PASS" if ok else "FAIL"))
sys.exit(1 if failed else 0)
