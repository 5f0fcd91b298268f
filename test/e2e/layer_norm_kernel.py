"""Compiles attn.layer_norm models with attnc, runs them and compares with numpy:
the vector row kernel (residual, no bias, normalization over two dims,
dynamic rows, large offsets and values) and the generic fallback (row size
not a multiple of the vector width, broadcast scale)."""
import json
import os
import subprocess
import sys

import numpy as np

attnc, attn_run, tmp = sys.argv[1:4]
# Extra attnc flags (e.g. --mcpu=haswell for the AVX2 kernels on an AVX-512 host).
EXTRA = os.environ.get("ATTNC_FLAGS", "").split()
os.makedirs(tmp, exist_ok=True)

cases = [  # x shape (None = dynamic), axis, residual, bias, scale shape, offset
    ((3, 5, 32), 2, True, True, (32,), 0.0),
    ((4, 2, 16), 1, False, False, (2, 16), 0.0),       # two normalized dims (n = 32)
    ((None, 7, 64), 2, True, True, (64,), 1000.0),     # dynamic rows; mean far from 0
    ((2, 3, 20), 2, True, True, (20,), 0.0),           # n = 20: generic fallback
    ((6, 32), 1, False, True, (1,), 0.0),              # broadcast scale: generic fallback
]
failed = 0
for i, (xshape, axis, has_res, has_bias, sshape, offset) in enumerate(cases):
    base = os.path.join(tmp, "case%d" % i)
    rng = np.random.default_rng(200 + i)
    dims = ["?" if d is None else str(d) for d in xshape]
    sym = [d if d is not None else "m" for d in xshape]
    xt = "tensor<%sxf32>" % "x".join(dims)
    st = "tensor<%sxf32>" % "x".join(str(d) for d in sshape)
    nshape = xshape[axis:]
    bt = "tensor<%sxf32>" % "x".join(str(d) for d in nshape)
    inputs = [("x", xt, sym, xshape)]
    if has_res:
        inputs.append(("r", xt, sym, xshape))
    inputs.append(("g", st, list(sshape), sshape))
    if has_bias:
        inputs.append(("b", bt, list(nshape), nshape))
    sig = {"inputs": [{"name": n, "dtype": "f32", "shape": s} for n, _, s, _ in inputs],
           "outputs": [{"name": "y", "dtype": "f32", "shape": sym}]}
    text = json.dumps(sig, separators=(",", ":")).replace('"', '\\"')
    res = " residual(%%r : %s)" % xt if has_res else ""
    bias = ", %%b : %s" % bt if has_bias else ""
    with open(base + ".mlir", "w") as f:
        f.write('module attributes {attn.signature = "%s"} {\n'
                '  func.func @main_graph(%s) -> %s {\n'
                '    %%0 = attn.layer_norm %%x%s, %%g%s {axis = %d : i64, epsilon = 1.0e-05 : f64} : %s, %s -> %s\n'
                '    return %%0 : %s\n  }\n}\n'
                % (text, ", ".join("%%%s: %s" % (n, t) for n, t, _, _ in inputs), xt, res, bias, axis,
                   xt, st, xt, xt))
    subprocess.check_call([attnc, base + ".mlir", "-o", base + ".so"] + EXTRA)
    cmd = [attn_run, base + ".so", "--output-dir", base + ".out"]
    vals = {}
    for n, _, _, shape in inputs:
        shape = tuple(9 if d is None else d for d in shape)
        v = rng.standard_normal(shape).astype(np.float32)
        if n == "x":
            v = v * 3 + offset
        vals[n] = v
        np.save("%s.%s.npy" % (base, n), v)
        cmd += ["--input", "%s=%s.%s.npy" % (n, base, n)]
    subprocess.check_call(cmd, stdout=subprocess.DEVNULL)
    # The residual sum in f32, as the graph (and PyTorch) forms it.
    x = (vals["x"] + vals["r"] if has_res else vals["x"]).astype(np.float64)
    red = tuple(range(axis, x.ndim))
    mean = x.mean(axis=red, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=red, keepdims=True)
    ref = (x - mean) / np.sqrt(var + 1e-5) * vals["g"] + (vals["b"] if has_bias else 0.0)
    got = np.load(base + ".out/y.npy")
    err = np.abs(got - ref).max() / max(1.0, np.abs(ref).max()) if got.shape == ref.shape else float("inf")
    ok = err <= 1e-5
    failed += not ok
    print("x%s axis %d residual=%s bias=%s scale%s offset %g: err %.2e %s"
          % (xshape, axis, has_res, has_bias, sshape, offset, err, "PASS" if ok else "FAIL"))
sys.exit(1 if failed else 0)
