"""if-*.test: compiles each If fixture (cases.json, made by gen_if.py) with attnc, runs it with attn-run on
every committed input set and compares each output with onnx.reference's (CONTRACT metric,
max|got - ref| / max(1, max|ref|) <= 1e-4, shapes equal). numpy only. Extra arguments go to attnc."""
import json
import os
import subprocess
import sys

import numpy as np

attnc, attn_run, tmp = sys.argv[1:4]
EXTRA = sys.argv[4:]
here = os.path.dirname(os.path.abspath(__file__))
os.makedirs(tmp, exist_ok=True)
failed = 0
for case in json.load(open(os.path.join(here, "cases.json"))):
    name = case["name"]
    lib = os.path.join(tmp, name + ".so")
    subprocess.check_call([attnc, os.path.join(here, name + ".onnx"), "-o", lib] + EXTRA)
    for k in range(case["sets"]):
        base = os.path.join(here, "%s.%d" % (name, k))
        out = os.path.join(tmp, "%s.%d.out" % (name, k))
        cmd = [attn_run, lib, "--output-dir", out]
        for n in case["inputs"]:
            cmd += ["--input", "%s=%s.%s.npy" % (n, base, n)]
        subprocess.check_call(cmd, stdout=subprocess.DEVNULL)
        for o in case["outputs"]:
            ref = np.load("%s.%s.expected.npy" % (base, o)).astype(np.float64)
            got = np.load(os.path.join(out, o + ".npy"))
            err = np.abs(got - ref).max() / max(1.0, np.abs(ref).max()) if got.shape == ref.shape else np.inf
            ok = got.shape == ref.shape and err <= 1e-4
            failed += not ok
            print("%s set %d %s %s: err %.2e %s" % (name, k, o, got.shape, err, "PASS" if ok else "FAIL"))
sys.exit(1 if failed else 0)
