#!/usr/bin/python3
"""Compile one with-past fixture and check every shape set (numpy only).

  run_past.py ATTNC ATTN_RUN CASE_DIR WORK_DIR [--model=MODEL] [ATTNC FLAGS...]

attnc CASE_DIR/model.onnx (or MODEL: another export of the same weights, e.g. optimum_llama/model.onnx
checked on llama_sdpa's sets) -o WORK_DIR/model.so [FLAGS], then for each shape set K of case.json:
run_case.py (attn-run with the set's inputs) and compare_past.py. Prints each step; exit 1 if any
step fails (all sets are run, so one report shows every failing set).
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    if len(sys.argv) < 5:
        print(__doc__)
        return 2
    attnc, attn_run, case_dir, work = sys.argv[1:5]
    flags = sys.argv[5:]
    model = os.path.join(case_dir, "model.onnx")
    if flags and flags[0].startswith("--model="):
        model = flags.pop(0)[len("--model="):]
    os.makedirs(work, exist_ok=True)
    lib = os.path.join(work, "model.so")
    cmd = [attnc, model, "-o", lib] + flags
    print("run_past.py: " + " ".join(cmd), flush=True)
    if subprocess.call(cmd):
        print("run_past.py: FAIL compile")
        return 1
    with open(os.path.join(case_dir, "case.json")) as f:
        sets = json.load(f)["shape_sets"]
    failed = []
    for s in sets:
        k = s["set"]
        out = os.path.join(work, "out%d" % k)
        print("-- set %d (%s: batch %d, past %d, seq %d)" % (k, s["what"], s["batch"], s["past"], s["seq"]),
              flush=True)
        rc = subprocess.call([sys.executable, os.path.join(HERE, "..", "run_case.py"), attn_run, lib, case_dir,
                              out, "--set", str(k)])
        if rc == 0:
            rc = subprocess.call([sys.executable, os.path.join(HERE, "compare_past.py"), out, case_dir,
                                  "--set", str(k)])
        if rc:
            failed.append(k)
    print("run_past.py: %s (%d sets, failed: %s)" % ("FAIL" if failed else "PASS", len(sets), failed or "none"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
