"""Compiles attn.rms_norm models with attnc, runs them with attn-run and compares with a float64
numpy reference of h = x (+ r); h / sqrt(mean(h^2) + eps) * g (and h, the second result):
the vector row kernel (n a multiple of the vector width: residual with and without the sum
result, two normalized dims, dynamic rows, U = 1/2/4 accumulator chains, large values) and
the generic fallback (n = 20, a broadcast scale, a dynamic normalized dim, f64).

  rms_norm_kernel.py ATTNC ATTN_RUN TMPDIR     (ATTNC_FLAGS: extra attnc flags)

Writes TMPDIR/<case>.mlir for FileCheck tests too; prints one line per case, exits 1 on a
failure."""
import json
import os
import subprocess
import sys

import numpy as np

attnc, attn_run, tmp = sys.argv[1:4]
EXTRA = os.environ.get("ATTNC_FLAGS", "").split()
os.makedirs(tmp, exist_ok=True)

# name: x shape (None = dynamic), run shapes, axis, residual, sum result, scale shape, dtype, scale of x
CASES = {
    "res_sum": ((3, 5, 64), [(3, 5, 64)], 2, True, True, (64,), "f32", 1.0),
    "res_only": ((None, None, 48), [(2, 7, 48), (1, 1, 48), (3, 0, 48)], 2, True, False, (48,), "f32", 1.0),
    "plain_two_dims": ((4, 2, 16), [(4, 2, 16)], 1, False, False, (2, 16), "f32", 1.0),
    "dyn_rows_big": ((None, 128), [(37, 128), (1, 128)], 1, False, False, (128,), "f32", 1000.0),
    "wide_row": ((2, 4096), [(2, 4096)], 1, True, True, (4096,), "f32", 1.0),
    "fallback_n20": ((3, 20), [(3, 20)], 1, True, True, (20,), "f32", 1.0),
    "fallback_bcast": ((6, 32), [(6, 32)], 1, False, False, (1,), "f32", 1.0),
    "fallback_dyn_n": ((2, None), [(2, 24), (2, 5)], 1, True, True, (1,), "f32", 1.0),
    "f64": ((4, 32), [(4, 32)], 1, True, True, (32,), "f64", 1.0),
}
NP = {"f32": np.float32, "f64": np.float64}
EPS = 1e-6


def write_case(name, spec):
    xshape, _, axis, has_res, with_sum, sshape, dt, _ = spec
    dims = ["?" if d is None else str(d) for d in xshape]
    sym = [d if d is not None else "d%d" % i for i, d in enumerate(xshape)]
    xt = "tensor<%sx%s>" % ("x".join(dims), dt)
    st = "tensor<%sx%s>" % ("x".join(str(d) for d in sshape), dt)
    inputs = [("x", xt, sym)] + ([("r", xt, sym)] if has_res else []) + [("g", st, list(sshape))]
    outs = [("y", sym)] + ([("h", sym)] if with_sum else [])
    sig = {"inputs": [{"name": n, "dtype": dt, "shape": s} for n, _, s in inputs],
           "outputs": [{"name": n, "dtype": dt, "shape": s} for n, s in outs]}
    text = json.dumps(sig, separators=(",", ":")).replace('"', '\\"')
    res = " residual(%%r : %s)" % xt if has_res else ""
    rtypes = ", ".join([xt] * len(outs))
    path = os.path.join(tmp, name + ".mlir")
    with open(path, "w") as f:
        f.write('module attributes {attn.signature = "%s"} {\n'
                '  func.func @main_graph(%s) -> (%s) {\n'
                '    %%0:%d = attn.rms_norm %%x%s, %%g {axis = %d : i64, epsilon = %e : f64} : %s, %s -> %s\n'
                '    return %s : %s\n  }\n}\n'
                % (text, ", ".join("%%%s: %s" % (n, t) for n, t, _ in inputs), rtypes, len(outs), res,
                   axis, EPS, xt, st, rtypes, ", ".join("%%0#%d" % i for i in range(len(outs))), rtypes))
    return path


failed = 0
for ci, (name, spec) in enumerate(CASES.items()):
    xshape, runs, axis, has_res, with_sum, sshape, dt, mag = spec
    path = write_case(name, spec)
    so = os.path.join(tmp, name + ".so")
    subprocess.check_call([attnc, path, "-o", so] + EXTRA)
    for k, shape in enumerate(runs):
        rng = np.random.default_rng(1000 * ci + k)
        vals = {"x": rng.standard_normal(shape) * mag}
        if has_res:
            vals["r"] = rng.standard_normal(shape)
        vals["g"] = rng.standard_normal(sshape)
        base = os.path.join(tmp, "%s_%d" % (name, k))
        cmd = [attn_run, so, "--output-dir", base + ".out"]
        for n, v in vals.items():
            v = np.asarray(v).astype(NP[dt])
            vals[n] = v
            np.save("%s.%s.npy" % (base, n), v)
            cmd += ["--input", "%s=%s.%s.npy" % (n, base, n)]
        subprocess.check_call(cmd, stdout=subprocess.DEVNULL)
        h = vals["x"].astype(np.float64) + (vals["r"].astype(np.float64) if has_res else 0.0)
        red = tuple(range(axis, len(shape)))
        ms = np.mean(h * h, axis=red, keepdims=True) if h.size else np.zeros_like(h)
        ref = {"y": h / np.sqrt(ms + EPS) * vals["g"].astype(np.float64)}
        if with_sum:
            ref["h"] = h
        for n, r in ref.items():
            got = np.load("%s.out/%s.npy" % (base, n))
            err = (np.abs(got.astype(np.float64) - r).max() / max(1.0, np.abs(r).max())) if r.size else 0.0
            ok = got.shape == r.shape and got.dtype == NP[dt] and err <= 1e-5
            failed += not ok
            print("%s %s %s: err %.2e %s" % (name, shape, n, err, "PASS" if ok else "FAIL"))
sys.exit(1 if failed else 0)
