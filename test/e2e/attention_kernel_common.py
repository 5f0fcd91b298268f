"""Shared by attention_llm_kernel.py, attention_decode_kernel.py and
attention_window_fill_kernel.py: compile one attn.attention model with attnc, run it with attn-run on the given inputs, and compare the output with a
float64 reference. Only numpy is needed."""
import os
import subprocess

import numpy as np

EXTRA = os.environ.get("ATTNC_FLAGS", "").split()


def ty(shape, elt="f32"):
    return "tensor<%sx%s>" % ("x".join(map(str, shape)), elt)


def compile_and_run(attnc, attn_run, base, x):
    """Compiles base.mlir to base.so and runs it on the arrays `x` (name -> array); returns
    the output 'out'."""
    subprocess.check_call([attnc, base + ".mlir", "-o", base + ".so"] + EXTRA)
    cmd = [attn_run, base + ".so", "--output-dir", base + ".out"]
    for n, arr in x.items():
        np.save("%s.%s.npy" % (base, n), arr)
        cmd += ["--input", "%s=%s.%s.npy" % (n, base, n)]
    subprocess.check_call(cmd, stdout=subprocess.DEVNULL)
    return np.load(base + ".out/out.npy")


def compare(name, got, ref):
    """max|got - ref| / max(1, max|ref|) <= 1e-4 over the non-NaN reference entries, NaN exactly
    where the reference has NaN. Returns (ok, the line to print)."""
    got = got.astype(np.float64)
    nan_ok = got.shape == ref.shape and np.array_equal(np.isnan(got), np.isnan(ref))
    fin = ~np.isnan(ref)
    err = np.abs(got[fin] - ref[fin]).max() / max(1.0, np.abs(ref[fin]).max()) \
        if nan_ok and fin.any() else 0.0
    ok = nan_ok and err <= 1e-4
    return ok, "%s: err %.2e%s %s" % (name, err, "" if nan_ok else " NaN mismatch",
                                       "PASS" if ok else "FAIL")
