#!/usr/bin/python3
"""Run a compiled e2e fixture with attn-run, taking the --input list from the case's case.json.

  run_case.py ATTN_RUN LIB CASE_DIR OUT_DIR [--set K] [-- EXTRA_ATTN_RUN_ARGS...]

CASE_DIR is test/e2e/<case>; inputs are CASE_DIR/inputs/<name>.npy, or for a dynamic-shape case
CASE_DIR/shapes/<K>/inputs/<name>.npy (--set K is required there). OUT_DIR is created and any
stale .npy in it removed, so an old output can never pass the comparison. Prints the command, then
exits with attn-run's exit status (stdlib only: no numpy needed).
"""
import argparse
import json
import os
import subprocess
import sys


def main():
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("attn_run")
    ap.add_argument("lib")
    ap.add_argument("case_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--set", type=int, dest="set_k")
    args = ap.parse_args(argv)

    with open(os.path.join(args.case_dir, "case.json")) as f:
        case = json.load(f)
    if "shape_sets" in case:
        if args.set_k is None:
            sys.exit("run_case.py: %s is a dynamic-shape case; pass --set K (0..%d)"
                     % (case["case"], len(case["shape_sets"]) - 1))
        base = os.path.join(args.case_dir, "shapes", str(args.set_k))
        inputs = case["shape_sets"][args.set_k]["inputs"]
    else:
        if args.set_k is not None:
            sys.exit("run_case.py: %s has no shape sets" % case["case"])
        base = args.case_dir
        inputs = case["inputs"]

    os.makedirs(args.out_dir, exist_ok=True)
    for f in os.listdir(args.out_dir):
        if f.endswith(".npy"):
            os.remove(os.path.join(args.out_dir, f))

    cmd = [args.attn_run, args.lib]
    for i in inputs:
        cmd += ["--input", "%s=%s" % (i["name"], os.path.join(base, "inputs", i["name"] + ".npy"))]
    cmd += ["--output-dir", args.out_dir] + extra
    print("run_case.py: " + " ".join(cmd), flush=True)
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())
