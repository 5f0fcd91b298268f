"""merged_decoder.test: compiles the merged decoder (an If on use_cache_branch, see gen_merged_decoder.py)
with attnc, runs every committed input set (both branches) with attn-run and compares every output with
onnxruntime's on the same file (CONTRACT metric, max|got - ref| / max(1, max|ref|) <= 1e-4, shapes equal).
numpy only. Extra arguments go to attnc."""
import json
import os
import subprocess
import sys

import numpy as np

attnc, attn_run, tmp = sys.argv[1:4]
EXTRA = sys.argv[4:]
here = os.path.dirname(os.path.abspath(__file__))
os.makedirs(tmp, exist_ok=True)
cases = json.load(open(os.path.join(here, "cases.json")))
lib = os.path.join(tmp, "merged_decoder.so")
subprocess.check_call([attnc, os.path.join(here, "model.onnx"), "-o", lib] + EXTRA)
failed = 0
for k, s in enumerate(cases["sets"]):
    d = os.path.join(here, "sets", str(k))
    out = os.path.join(tmp, "out%d" % k)
    cmd = [attn_run, lib, "--output-dir", out]
    for n in cases["inputs"]:
        cmd += ["--input", "%s=%s" % (n, os.path.join(d, "inputs", n + ".npy"))]
    subprocess.check_call(cmd, stdout=subprocess.DEVNULL)
    for o in cases["outputs"]:
        ref = np.load(os.path.join(d, "expected", o + ".npy")).astype(np.float64)
        got = np.load(os.path.join(out, o + ".npy"))
        err = np.abs(got - ref).max() / max(1.0, np.abs(ref).max()) if got.shape == ref.shape else np.inf
        ok = got.shape == ref.shape and err <= 1e-4
        failed += not ok
        print("set %d (use_cache_branch=%s past=%d) %s %s: err %.2e %s"
              % (k, s["use_cache_branch"], s["past"], o, got.shape, err, "PASS" if ok else "FAIL"))
sys.exit(1 if failed else 0)
