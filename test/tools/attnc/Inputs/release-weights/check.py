"""Runs the two release-weights libraries on one input and checks them against numpy: the
one-function module computes x @ w, the two-function one x @ w + x @ w (both functions read the
same weight blob, so neither may free it early). Usage: check.py ATTN_RUN WORKDIR"""
import os
import subprocess
import sys

import numpy as np

attn_run, work = sys.argv[1:3]
w = (np.arange(32, dtype=np.float32).reshape(4, 8) / 10).astype(np.float32)
x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
np.save(os.path.join(work, "x.npy"), x)
for name, ref in (("one", x @ w), ("two", 2 * (x @ w))):
    out = os.path.join(work, name + "-out")
    subprocess.run([attn_run, os.path.join(work, name + ".so"), "--input",
                    "input0=" + os.path.join(work, "x.npy"), "--output-dir", out], check=True,
                   stdout=subprocess.DEVNULL)
    files = os.listdir(out)
    got = np.load(os.path.join(out, files[0]))
    err = float(np.max(np.abs(got - ref)) / max(1.0, float(np.max(np.abs(ref)))))
    print("%s: shape %s err %s" % (name, got.shape, "ok" if err <= 1e-5 else "WRONG %g" % err))
