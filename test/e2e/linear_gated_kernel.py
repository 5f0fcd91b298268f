"""Compiles gated attn.linear models with attnc, runs them and compares with numpy.

y = act(x · W[:, :N/2] + b[:N/2]) * (x · W[:, N/2:] + b[N/2:]): the matmul
kernel's gated epilogue (SiLU, exact and tanh GELU, ReLU, none), weights
packed at compile time (constants) and at run time (inputs), bias or none,
results that split N/2, dynamic and partial row counts, 3-D inputs, and the
generic fallback (N/2 not a multiple of the vector width; splits off it)."""
import json
import math
import os
import subprocess
import sys

import numpy as np

attnc, attn_run, tmp = sys.argv[1:4]
# Extra attnc flags (e.g. --mcpu=haswell for the AVX2 kernels on an AVX-512 host).
EXTRA = os.environ.get("ATTNC_FLAGS", "").split()
os.makedirs(tmp, exist_ok=True)


def gelu(x):
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def silu(x):
    return x / (1.0 + np.exp(-x))


ACT = {"none": lambda x: x, "relu": lambda x: np.maximum(x, 0.0), "gelu": gelu,
       "gelu_tanh": gelu_tanh, "silu": silu}


def dense(a):
    """A dense attribute from the raw little-endian f32 bytes (MLIR's hex form)."""
    return 'dense<"0x%s">' % a.astype("<f4").tobytes().hex().upper()


cases = [  # x shape (None = dynamic), K, output splits (of N/2), activation, bias, weight constant?
    ((100, 48), 48, [64], "silu", False, True),
    ((100, 48), 48, [64], "silu", True, True),
    ((7, 32), 32, [96], "gelu", True, True),
    ((13, 40), 40, [48], "gelu_tanh", False, True),
    ((2, 37, 32), 32, [32, 64, 32], "relu", True, True),     # splits, 3-D
    ((None, 64), 64, [256], "silu", True, True),             # dynamic rows (run with 193)
    ((300, 48), 48, [64], "silu", True, False),              # run-time weight, packed at run time
    ((5, 24), 24, [32], "none", True, False),                # run-time weight, few rows
    ((5, 16), 16, [20], "silu", True, True),                 # N/2 = 20: generic fallback
    ((6, 16), 16, [12, 8], "gelu", False, True),             # off the tile, with splits: fallback
    ((9, 16), 16, [20, 12], "silu", True, True),             # N/2 = 32 on the tile, splits off: kernel + copies
    ((None, 16), 16, [20], "silu", True, False),             # fallback, run-time weight, dynamic rows
]
failed = 0
for i, (xshape, K, splits, act, has_bias, const_w) in enumerate(cases):
    base = os.path.join(tmp, "case%d" % i)
    rng = np.random.default_rng(300 + i)
    half = sum(splits)
    N = 2 * half
    w = (rng.standard_normal((K, N)) / math.sqrt(K) * 2).astype(np.float32)
    bias = rng.standard_normal(N).astype(np.float32)
    dims = ["?" if d is None else str(d) for d in xshape]
    xt = "tensor<%sxf32>" % "x".join(dims)
    yts = ["tensor<%sx%dxf32>" % ("x".join(dims[:-1]), n) for n in splits]
    wt = "tensor<%dx%dxf32>" % (K, N)
    bt = "tensor<%dxf32>" % N
    sym = [d if d is not None else "m" for d in xshape]
    inputs = [{"name": "x", "dtype": "f32", "shape": sym}]
    args = ["%%x: %s" % xt]
    if not const_w:
        inputs.append({"name": "w", "dtype": "f32", "shape": [K, N]})
        args.append("%%w: %s" % wt)
    sig = {"inputs": inputs,
           "outputs": [{"name": "y%d" % j, "dtype": "f32", "shape": sym[:-1] + [n]}
                       for j, n in enumerate(splits)]}
    text = json.dumps(sig, separators=(",", ":")).replace('"', '\\"')
    body = []
    if const_w:
        body.append("    %%w = arith.constant %s : %s" % (dense(w), wt))
    bias_part = ""
    if has_bias:
        body.append("    %%b = arith.constant %s : %s" % (dense(bias), bt))
        bias_part = " bias(%%b : %s)" % bt
    attrs = ["gated"] + ([] if act == "none" else ["activation = #attn.activation<%s>" % act])
    results = ", ".join("%%r#%d" % j for j in range(len(splits)))
    body.append("    %%r:%d = attn.linear %%x, %%w%s {%s} : %s, %s -> %s"
                % (len(splits), bias_part, ", ".join(attrs), xt, wt, ", ".join(yts)))
    body.append("    return %s : %s" % (results, ", ".join(yts)))
    with open(base + ".mlir", "w") as f:
        f.write('module attributes {attn.signature = "%s"} {\n'
                '  func.func @main_graph(%s) -> (%s) {\n%s\n  }\n}\n'
                % (text, ", ".join(args), ", ".join(yts), "\n".join(body)))
    subprocess.check_call([attnc, base + ".mlir", "-o", base + ".so"] + EXTRA)
    shape = tuple(193 if d is None else d for d in xshape)
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
    y = ACT[act](y[..., :half]) * y[..., half:]
    col = 0
    worst = 0.0
    ok = True
    for j, n in enumerate(splits):
        ref = y[..., col:col + n]
        col += n
        got = np.load(base + ".out/y%d.npy" % j)
        err = np.abs(got - ref).max() / max(1.0, np.abs(ref).max()) if got.shape == ref.shape else float("inf")
        worst = max(worst, err)
        ok = ok and err <= 1e-5
    failed += not ok
    print("x%s K%d splits %s %s bias=%s const_w=%s: err %.2e %s"
          % (shape, K, splits, act, has_bias, const_w, worst, "PASS" if ok else "FAIL"))
sys.exit(1 if failed else 0)
