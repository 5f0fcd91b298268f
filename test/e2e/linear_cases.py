"""Shared driver of the attn.linear kernel tests (linear_decode_kernel.py,
linear_tail_kernel.py): writes one attn-dialect model per case, compiles it
with attnc, runs it through attn-run at every row count and compares each
result with a float64 numpy reference (scaled max error <= 1e-4).

A case is (K, output splits, activation, bias?, gated?, weight constant?,
3-D input?). Prints one line per case (`describe(case)` + rows, error,
PASS/FAIL) and exits 1 if any case failed.
"""
import json
import math
import os
import subprocess
import sys

import numpy as np


def gelu(x):
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


ACT = {"none": lambda x: x, "relu": lambda x: np.maximum(x, 0.0), "gelu": gelu,
       "silu": lambda x: x / (1.0 + np.exp(-x))}


def dense(a):
    return 'dense<"0x%s">' % a.astype("<f4").tobytes().hex().upper()


def write_model(path, K, splits, act, has_bias, gated, const_w, three_d, w, bias):
    N = w.shape[1]
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
    with open(path, "w") as f:
        f.write('module attributes {attn.signature = "%s"} {\n  func.func @main_graph(%s) -> (%s) {\n%s\n  }\n}\n'
                % (text, ", ".join(args), ", ".join(yts), "\n".join(body)))


def run_cases(cases, rows, seed, shape_3d, describe):
    """shape_3d(M, K): the [b, s, K] input shape holding M rows."""
    attnc, attn_run, tmp = sys.argv[1:4]
    extra = os.environ.get("ATTNC_FLAGS", "").split()
    os.makedirs(tmp, exist_ok=True)
    failed = 0
    for i, case in enumerate(cases):
        K, splits, act, has_bias, gated, const_w, three_d = case
        base = os.path.join(tmp, "case%d" % i)
        rng = np.random.default_rng(seed + i)
        nout = sum(splits)
        N = 2 * nout if gated else nout
        w = (rng.standard_normal((K, N)) / math.sqrt(K) * 2).astype(np.float32)
        bias = rng.standard_normal(N).astype(np.float32)
        write_model(base + ".mlir", K, splits, act, has_bias, gated, const_w, three_d, w, bias)
        subprocess.check_call([attnc, base + ".mlir", "-o", base + ".so"] + extra)
        worst, ok = 0.0, True
        for M in rows:
            x = rng.standard_normal(shape_3d(M, K) if three_d else (M, K)).astype(np.float32)
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
        print("case%d %s rows %s: err %.2e %s" % (i, describe(case), rows, worst, "PASS" if ok else "FAIL"))
    sys.exit(1 if failed else 0)
