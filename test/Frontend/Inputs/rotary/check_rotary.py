"""rotary-embedding.test: compiles each RotaryEmbedding fixture (cases.json, made by gen_rotary.py) with
attnc, runs it with attn-run on every committed input set and compares with the expected output
(CONTRACT metric, max|got - ref| / max(1, max|ref|) <= 1e-4). numpy only."""
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
        ref = np.load(base + ".expected.npy").astype(np.float64)
        got = np.load(os.path.join(out, "y.npy"))
        err = np.abs(got - ref).max() / max(1.0, np.abs(ref).max())
        ok = got.shape == ref.shape and err <= 1e-4
        failed += not ok
        print("%s set %d %s: err %.2e %s" % (name, k, got.shape, err, "PASS" if ok else "FAIL"))
sys.exit(1 if failed else 0)
