#!/usr/bin/python3
"""Compiles each fixture of gen.py with attnc, runs it with attn-run on the stored inputs and
compares every output with the stored reference (test/e2e/compare.py: the CONTRACT metric).

  run.py ATTNC ATTN_RUN COMPARE_PY TMPDIR CASE...
"""
import os
import subprocess
import sys

attnc, attn_run, compare, tmp = sys.argv[1:5]
here = os.path.dirname(os.path.abspath(__file__))
os.makedirs(tmp, exist_ok=True)
failed = 0
for case in sys.argv[5:]:
    so = os.path.join(tmp, case + ".so")
    subprocess.check_call([attnc, os.path.join(here, case + ".onnx"), "-o", so])
    cmd = [attn_run, so, "--output-dir", os.path.join(tmp, case)]
    inputs = os.path.join(here, case, "inputs")
    for f in sorted(os.listdir(inputs)):
        cmd += ["--input", "%s=%s" % (f[:-4], os.path.join(inputs, f))]
    subprocess.check_call(cmd, stdout=subprocess.DEVNULL)
    r = subprocess.run([sys.executable, compare, os.path.join(tmp, case),
                        os.path.join(here, case, "expected")], capture_output=True, text=True)
    failed += r.returncode != 0
    print("%s: %s" % (case, "PASS" if r.returncode == 0 else "FAIL\n" + r.stdout + r.stderr))
sys.exit(1 if failed else 0)
