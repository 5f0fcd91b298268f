"""Compiles attn.matmul models (x [M, K] or [B, M, K] by a weight input
w [K, N]) with attnc, runs them and compares with numpy."""
import json
import os
import subprocess
import sys

import numpy as np

attnc, attn_run, tmp = sys.argv[1:4]
os.makedirs(tmp, exist_ok=True)
cases = [  # x shape (None = dynamic), K, N
    ((100, 48), 48, 64),
    ((300, 96), 96, 160),
    ((None, 64), 64, 512),     # dynamic M, run with 193 rows
    ((2, 37, 32), 32, 96),
]
failed = 0
for i, (xshape, K, N) in enumerate(cases):
    base = os.path.join(tmp, "case%d" % i)
    dims = ["?" if d is None else str(d) for d in xshape]
    xt = "tensor<%sxf32>" % "x".join(dims)
    yt = "tensor<%sx%dxf32>" % ("x".join(dims[:-1]), N)
    wt = "tensor<%dx%dxf32>" % (K, N)
    sig = {"inputs": [{"name": "x", "dtype": "f32", "shape": [d if d is not None else "m" for d in xshape]},
                      {"name": "w", "dtype": "f32", "shape": [K, N]}],
           "outputs": [{"name": "y", "dtype": "f32", "shape": [d if d is not None else "m" for d in xshape[:-1]] + [N]}]}
    text = json.dumps(sig, separators=(",", ":")).replace('"', '\\"')
    with open(base + ".mlir", "w") as f:
        f.write('module attributes {attn.signature = "%s"} {\n'
                '  func.func @main_graph(%%x: %s, %%w: %s) -> %s {\n'
                '    %%0 = attn.matmul %%x, %%w : %s, %s -> %s\n'
                '    return %%0 : %s\n  }\n}\n' % (text, xt, wt, yt, xt, wt, yt, yt))
    subprocess.check_call([attnc, base + ".mlir", "-o", base + ".so"])
    rng = np.random.default_rng(i)
    shape = tuple(193 if d is None else d for d in xshape)
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((K, N)).astype(np.float32)
    np.save(base + ".x.npy", x)
    np.save(base + ".w.npy", w)
    subprocess.check_call([attn_run, base + ".so", "--input", "x=%s.x.npy" % base,
                           "--input", "w=%s.w.npy" % base, "--output-dir", base + ".out"],
                          stdout=subprocess.DEVNULL)
    ref = x.astype(np.float64) @ w.astype(np.float64)
    got = np.load(base + ".out/y.npy")
    err = np.abs(got - ref).max() / max(1.0, np.abs(ref).max())
    ok = got.shape == ref.shape and err <= 1e-4
    failed += not ok
    print("x%s K%d N%d: err %.2e %s" % (shape, K, N, err, "PASS" if ok else "FAIL"))
sys.exit(1 if failed else 0)
