"""attn.linear / MatMul with N not a multiple of the kernel's panel (2
vectors: 16 columns on AVX2, 32 on AVX-512) and a constant weight: the
register-blocked kernel over zero-padded packed panels, the last panel's
bias loads and stores masked to the valid columns. Against numpy at decode
row counts (M <= 8: the streaming kernel) and blocked ones (9, 64, 130),
with bias and activations; merged projections with an odd total (the whole
kernel, then the splits copied out) and a run-time weight with odd N (the
linalg fallback) too.

  linear_tail_kernel.py ATTNC ATTN_RUN TMPDIR
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


# K, output splits, activation, bias, weight constant?, 3-D input?
cases = [
    (32, [1], "none", False, True, False),
    (19, [7], "relu", True, True, False),
    (64, [17], "gelu", True, True, True),         # [b, s, K]
    (48, [100], "silu", True, True, False),
    (96, [1001], "none", True, True, False),
    (33, [1999], "gelu", False, True, False),
    (40, [7, 10], "none", True, True, False),     # merged projections, odd total
    (24, [23], "relu", True, False, False),       # run-time weight: linalg fallback
]
ROWS = [1, 3, 8, 9, 64, 130]
failed = 0
for i, (K, splits, act, has_bias, const_w, three_d) in enumerate(cases):
    base = os.path.join(tmp, "case%d" % i)
    rng = np.random.default_rng(900 + i)
    N = sum(splits)
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
    attrs = [] if act == "none" else ["activation = #attn.activation<%s>" % act]
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
        shape = (2, (M + 1) // 2, K) if three_d else (M, K)
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
        y = ACT[act](y)
        col = 0
        for j, n in enumerate(splits):
            ref = y[..., col:col + n]
            col += n
            got = np.load(base + ".out/y%d.npy" % j)
            err = np.abs(got - ref).max() / max(1.0, np.abs(ref).max()) if got.shape == ref.shape else float("inf")
            worst = max(worst, err)
            ok = ok and err <= 1e-4
    failed += not ok
    print("case%d K%d splits %s %s bias=%s const_w=%s rows %s: err %.2e %s"
          % (i, K, splits, act, has_bias, const_w, ROWS, worst, "PASS" if ok else "FAIL"))
sys.exit(1 if failed else 0)
