"""Compiles elementwise attn models with attnc (attn-vectorize-elementwise writes them as vector
loops) and compares with numpy: full, per-column (bias), per-row and scalar operands; static and
dynamic shapes; column counts that leave a masked tail; a size that runs in parallel; f32, i64,
i32 and f64 element types, integer division and remainder (tail lanes must not divide by 0)."""
import json
import os
import subprocess
import sys

import numpy as np

attnc, attn_run, tmp = sys.argv[1:4]
# Extra attnc flags (e.g. --mcpu=haswell for the AVX2 kernels on an AVX-512 host).
EXTRA = os.environ.get("ATTNC_FLAGS", "").split()
os.makedirs(tmp, exist_ok=True)
MT = {"f32": "f32", "f64": "f64", "i64": "i64", "i32": "i32"}
NP = {"f32": np.float32, "f64": np.float64, "i64": np.int64, "i32": np.int32}


def tt(shape, dt):
    return "tensor<%sx%s>" % ("x".join("?" if d is None else str(d) for d in shape), MT[dt]) if shape else \
        "tensor<%s>" % MT[dt]


# name, x shape (None dynamic), run shape, dtype, body(ops on %x %c %r %s) -> result, numpy fn
cases = [
    ("bias_tanh", (None, 37), (300, 37), "f32",
     ["%0 = attn.add %x, %c : {X}, {C} -> {X}", "%1 = attn.tanh %0 : {X}", "%2 = attn.mul %1, %r : {X}, {R} -> {X}",
      "%y = attn.sub %2, %s : {X}, {S} -> {X}"],
     lambda x, c, r, s: np.tanh(x + c) * r - s),
    ("residual_3d", (2, None, 128), (2, 2100, 128), "f32",   # 537600 elements: the parallel path
     ["%0 = attn.add %x, %x : {X}, {X} -> {X}", "%y = attn.mul %0, %c : {X}, {C} -> {X}"],
     lambda x, c, r, s: (x + x) * c),
    ("f64_exp", (5, 19), (5, 19), "f64",
     ["%0 = attn.exp %x : {X}", "%y = attn.div %0, %r : {X}, {R} -> {X}"],
     lambda x, c, r, s: np.exp(x) / r),
    ("i64_divmod", (None, 21), (6, 21), "i64",
     ["%0 = attn.div %x, %c : {X}, {C} -> {X}", "%1 = attn.mul %0, %r : {X}, {R} -> {X}",
      "%y = attn.add %1, %s : {X}, {S} -> {X}"],
     lambda x, c, r, s: np.trunc(x / c).astype(np.int64) * r + s),
    ("i32_max", (9, 40), (9, 40), "i32",
     ["%0 = attn.max %x, %c : {X}, {C} -> {X}", "%y = attn.sub %0, %s : {X}, {S} -> {X}"],
     lambda x, c, r, s: np.maximum(x, c) - s),
]
failed = 0
for i, (name, shape, run_shape, dt, body, ref_fn) in enumerate(cases):
    base = os.path.join(tmp, name)
    X, C = tt(shape, dt), tt((shape[-1],), dt)
    R, S = tt(shape[:-1] + (1,), dt), tt((), dt)
    sym = ["d%d" % j if d is None else d for j, d in enumerate(shape)]
    sig = {"inputs": [{"name": "x", "dtype": dt, "shape": sym},
                      {"name": "c", "dtype": dt, "shape": [shape[-1]]},
                      {"name": "r", "dtype": dt, "shape": sym[:-1] + [1]},
                      {"name": "s", "dtype": dt, "shape": []}],
           "outputs": [{"name": "y", "dtype": dt, "shape": sym}]}
    text = json.dumps(sig, separators=(",", ":")).replace('"', '\\"')
    ops = "\n".join("    " + l.format(X=X, C=C, R=R, S=S) for l in body)
    with open(base + ".mlir", "w") as f:
        f.write('module attributes {attn.signature = "%s"} {\n  func.func @main_graph(%%x: %s, %%c: %s, '
                '%%r: %s, %%s: %s) -> %s {\n%s\n    return %%y : %s\n  }\n}\n' % (text, X, C, R, S, X, ops, X))
    subprocess.check_call([attnc, base + ".mlir", "-o", base + ".so"] + EXTRA)
    rng = np.random.default_rng(300 + i)
    if dt.startswith("f"):
        vals = {"x": rng.standard_normal(run_shape), "c": rng.standard_normal(run_shape[-1]),
                "r": rng.standard_normal(run_shape[:-1] + (1,)) + 3, "s": rng.standard_normal(())}
    else:
        vals = {"x": rng.integers(-1000, 1000, run_shape), "c": rng.integers(1, 9, run_shape[-1]) * rng.choice([-1, 1], run_shape[-1]),
                "r": rng.integers(-5, 6, run_shape[:-1] + (1,)), "s": rng.integers(-50, 50, ())}
    cmd = [attn_run, base + ".so", "--output-dir", base + ".out"]
    for n, v in vals.items():
        v = np.asarray(v).astype(NP[dt])
        vals[n] = v
        np.save("%s.%s.npy" % (base, n), v)
        cmd += ["--input", "%s=%s.%s.npy" % (n, base, n)]
    subprocess.check_call(cmd, stdout=subprocess.DEVNULL)
    ref = ref_fn(*(vals[n].astype(np.float64) if dt.startswith("f") else vals[n] for n in "xcrs"))
    got = np.load(base + ".out/y.npy")
    err = np.abs(got.astype(np.float64) - ref).max() / max(1.0, np.abs(ref).max())
    ok = got.shape == ref.shape and got.dtype == NP[dt] and err <= (1e-6 if dt != "i64" and dt != "i32" else 0)
    failed += not ok
    print("%s %s %s: err %.2e %s" % (name, run_shape, dt, err, "PASS" if ok else "FAIL"))
sys.exit(1 if failed else 0)
