#!/usr/bin/python3
"""Runs GroupQueryAttention fixtures (gen.py) built for --target=cuda in the
SIMT emulator of test/GPU (simt_emulator.py) and compares with onnxruntime's
outputs (same metric and zero_rows rule as ../onnx-attention/run.py).

usage: emulate.py ATTNC ATTN_OPT TMPDIR CASE...
"""
import glob
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "GPU"))
import simt_emulator as emu  # noqa: E402

attnc, attn_opt, tmp = sys.argv[1:4]
os.makedirs(tmp, exist_ok=True)
with open(os.path.join(HERE, "cases.json")) as f:
    cases = {c["name"]: c for c in json.load(f)["cases"]}
failed = 0
for name in sys.argv[4:]:
    c, d = cases[name], os.path.join(HERE, name)
    dump = os.path.join(tmp, name)
    subprocess.run([attnc, os.path.join(d, "model.onnx"), "--target=cuda", "--dump-ir=" + dump,
                    "--dump-ir-weights", "-o", os.path.join(tmp, name + ".so")],
                   check=True, capture_output=True)
    stage = glob.glob(os.path.join(dump, "*-attn-gpu-map-parallel-loops.mlir"))[0]
    ir = subprocess.run([attn_opt, stage, "--mlir-print-op-generic"], check=True,
                        capture_output=True, text=True).stdout
    args = [np.load(os.path.join(d, "inputs", i + ".npy")) for i in c["inputs"]]
    got, stats = emu.run_function(ir, "main_graph", args)
    status = got[-1] if len(got) > len(c["outputs"]) else np.zeros((), bool)
    problems = ["the status flag is set"] if np.asarray(status).any() else []
    worst = 0.0
    for o, g in zip(c["outputs"], got):
        ref = np.load(os.path.join(d, "expected", o + ".npy")).astype(np.float64)
        g = np.array(g, np.float64)
        for b, first in c.get("zero_rows", {}).get(o, []):
            g[b, first:] = 0
        if g.shape != ref.shape:
            problems.append("%s: shape %s, expected %s" % (o, g.shape, ref.shape))
            continue
        worst = max(worst, float(np.abs(g - ref).max() / max(1.0, np.abs(ref).max())))
    if worst > 1e-4:
        problems.append("scaled error %.3g > 1e-4" % worst)
    failed += bool(problems)
    print("%s %s: %d kernel launches, scaled error %.2e%s" % (
        "FAIL" if problems else "PASS", name, stats.get("launches", 0), worst,
        "".join("; " + p for p in problems)), flush=True)
print("%d case(s), %s" % (len(sys.argv) - 4, "all passed" if not failed else "%d failure(s)" % failed))
sys.exit(1 if failed else 0)
