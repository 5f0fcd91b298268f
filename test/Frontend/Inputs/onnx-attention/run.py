#!/usr/bin/python3
"""Compiles and runs the attention-node fixtures made by gen.py and compares
with the committed reference outputs (ONNX reference evaluator / onnxruntime).

usage: run.py ATTNC ATTN_RUN TMPDIR GROUP [--emit-check]

Runs every case of cases.json whose group is GROUP. Metric (CONTRACT.md):
max|got - ref| / max(1, max|ref|) <= 1e-4, NaN positions identical.
With --emit-check, also asserts that `attnc --emit=attn` has exactly one
attn.attention and no attn.softmax for each case. A case's "zero_rows"
({output: [[batch, first_row], ...]}) lists output rows that the reference
leaves unspecified (right-padded prompt queries): they are zeroed in ours
before comparing (the reference has zeros there). `--cases DIR` reads another
fixture directory of the same layout (test/Frontend/Inputs/ms-gqa). Needs
numpy only.
"""
import json
import os
import subprocess
import sys

import numpy as np

attnc, attn_run, tmp, group = sys.argv[1:5]
emit_check = "--emit-check" in sys.argv[5:]
here = os.path.dirname(os.path.abspath(__file__))
if "--cases" in sys.argv[5:]:
    here = os.path.abspath(sys.argv[sys.argv.index("--cases") + 1])
os.makedirs(tmp, exist_ok=True)
with open(os.path.join(here, "cases.json")) as f:
    cases = [c for c in json.load(f)["cases"] if c["group"] == group]
assert cases, "no case in group " + group

failed = 0
for c in cases:
    name = c["name"]
    d = os.path.join(here, name)
    lib = os.path.join(tmp, name + ".so")
    out = os.path.join(tmp, name + ".out")
    os.makedirs(out, exist_ok=True)
    model = os.path.join(d, "model.onnx")
    if emit_check:
        ir = subprocess.run([attnc, model, "--emit=attn", "-o", "-"],
                            capture_output=True, text=True)
        n_att = ir.stdout.count("attn.attention ")
        n_sm = ir.stdout.count("attn.softmax")
        if ir.returncode != 0 or n_att != 1 or n_sm != 0:
            print("%s: FAIL --emit=attn: rc %d, %d attn.attention, %d attn.softmax\n%s"
                  % (name, ir.returncode, n_att, n_sm, ir.stderr))
            failed += 1
            continue
    p = subprocess.run([attnc, model, "-o", lib], capture_output=True, text=True)
    if p.returncode != 0:
        print("%s: FAIL compile (rc %d)\n%s" % (name, p.returncode, p.stderr))
        failed += 1
        continue
    cmd = [attn_run, lib, "--output-dir", out]
    for i in c["inputs"]:
        cmd += ["--input", "%s=%s" % (i, os.path.join(d, "inputs", i + ".npy"))]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        print("%s: FAIL run (rc %d)\n%s" % (name, p.returncode, p.stderr))
        failed += 1
        continue
    for o in c["outputs"]:
        ref = np.load(os.path.join(d, "expected", o + ".npy"))
        got = np.load(os.path.join(out, o + ".npy"))
        for b, first in c.get("zero_rows", {}).get(o, []):
            got[b, first:] = 0
        if got.shape != ref.shape:
            print("%s/%s: FAIL shape %s, expected %s" % (name, o, got.shape, ref.shape))
            failed += 1
            continue
        if not np.array_equal(np.isnan(got), np.isnan(ref)):
            print("%s/%s: FAIL NaN positions differ" % (name, o))
            failed += 1
            continue
        fin = ~np.isnan(ref)
        err = float(np.max(np.abs(got[fin].astype(np.float64) - ref[fin]), initial=0.0))
        err /= max(1.0, float(np.max(np.abs(ref[fin]), initial=0.0)))
        ok = err <= 1e-4
        failed += not ok
        print("%s/%s: %s err %.3g" % (name, o, "PASS" if ok else "FAIL", err))
print("%d case(s), %s" % (len(cases), "all passed" if not failed else "%d failure(s)" % failed))
sys.exit(1 if failed else 0)
