"""Range with run-time start/limit/delta (issue #12): the element count is
ceil((limit - start) / delta) computed without overflow for any int64
operands, and element i is start + i * delta (int64 wraps as ONNX Runtime's
and numpy's do). Usage: check_range.py ATTNC ATTN_RUN WORKDIR"""
import math
import os
import subprocess
import sys

import numpy as np

attnc, attn_run, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
models = {
    "i64": ("int64", np.int64),
    "i32": ("int32", np.int32),
    "f32": ("float", np.float32),
}
cases = {
    "i64": [(0, 10, 3), (10, 0, -3), (5, 5, 1), (0, 10, -1), (-2**63, 2**63 - 1, 2**62),
            (2**63 - 1, -2**63, -2**62), (-2**63, 2**63 - 1, 2**63 - 1), (2**63 - 2, 2**63 - 1, 7),
            (2**63 - 1, -2**63, -2**63)],
    "i32": [(0, 7, 2), (-2**31, 2**31 - 1, 2**30), (3, -3, -4)],
    "f32": [(0.0, 1.0, 0.25), (1.0, 0.0, -0.3), (0.5, 0.5, 1.0), (-2.0, 3.0, 1.5), (0.0, 1.0, -1.0)],
}


def expected(kind, s, l, d):
    if kind == "f32":
        s32, l32, d32 = np.float32(s), np.float32(l), np.float32(d)
        n = max(0, int(np.ceil((l32 - s32) / d32)))
        return (s32 + np.arange(n, dtype=np.float32) * d32).astype(np.float32)
    n = max(0, -((s - l) // d))  # ceil((l - s) / d) with Python integers
    bits = 64 if kind == "i64" else 32
    wrap = lambda v: (v + 2**(bits - 1)) % 2**bits - 2**(bits - 1)
    return np.array([wrap(s + i * d) for i in range(n)], dtype=models[kind][1])


for kind, (tname, dt) in models.items():
    src = os.path.join(work, kind + ".onnxtext")
    with open(src, "w") as f:
        f.write('<ir_version: 8, opset_import: ["" : 17]>\n'
                f"g ({tname} s, {tname} l, {tname} d) => ({tname}[n] y) {{ y = Range(s, l, d) }}\n")
    lib = os.path.join(work, kind + ".so")
    subprocess.run([attnc, src, "-o", lib], check=True)
    for i, (s, l, d) in enumerate(cases[kind]):
        cdir = os.path.join(work, f"{kind}.{i}")
        os.makedirs(cdir, exist_ok=True)
        args = []
        for name, v in (("s", s), ("l", l), ("d", d)):
            np.save(os.path.join(cdir, name + ".npy"), np.array(v, dtype=dt))
            args += ["--input", f"{name}={os.path.join(cdir, name + '.npy')}"]
        p = subprocess.run([attn_run, lib, *args, "--output-dir", cdir], capture_output=True, text=True)
        ref = expected(kind, s, l, d)
        if p.returncode != 0:
            print(f"{kind} ({s}, {l}, {d}): FAIL rc={p.returncode} {p.stderr.strip()}")
            continue
        got = np.load(os.path.join(cdir, "y.npy"))
        ok = got.shape == ref.shape and got.dtype == ref.dtype and (
            np.array_equal(got, ref) if kind != "f32" else np.allclose(got, ref, rtol=0, atol=1e-6))
        print(f"{kind} ({s}, {l}, {d}): {got.shape[0]} elements {'PASS' if ok else 'FAIL'}"
              + ("" if ok else f" got {got[:8]} want {ref[:8]}"))
