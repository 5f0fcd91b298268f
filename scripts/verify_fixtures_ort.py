#!/usr/bin/env python3
"""Cross-check the e2e fixtures with onnxruntime (pip `python3`; needs onnxruntime + numpy).

For every case in test/e2e/MANIFEST.json and examples/selfattn (or the cases named on the command line) this runs
model.onnx in onnxruntime (CPU, fp32, graph optimizations disabled) on each stored input set and
compares with the stored PyTorch outputs using the CONTRACT metric
max|ort - ref| / max(1, max|ref|) (only at the real positions where case.json's "compare" says so, as
test/e2e/compare.py does). The result goes into case.json as "ort_check" (a sanity note:
the reference stays PyTorch's output). Exit 1 if any case exceeds --tol (default 1e-4).

  python3 scripts/verify_fixtures_ort.py [CASE...] [--tol 1e-4] [--no-write]
"""
import argparse
import json
import os
import re
import sys
from collections import OrderedDict

import numpy as np
import onnxruntime as ort

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
E2E = os.path.join(ROOT, "test", "e2e")
EXAMPLE = "examples/selfattn"   # the README demo (a copy of selfattn_causal), checked too


def sanitize(name):
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def metric(got, ref):
    got = got.astype(np.float64)
    ref = ref.astype(np.float64)
    if not np.array_equal(np.isnan(got), np.isnan(ref)):
        return float("inf")
    fin = np.isfinite(ref)
    if not fin.any():
        return 0.0
    return float(np.abs(got[fin] - ref[fin]).max() / max(1.0, np.abs(ref[fin]).max()))


def input_sets(case):
    if "shape_sets" in case:
        return [(s["set"], s["inputs"], s["outputs"]) for s in case["shape_sets"]]
    return [(None, case["inputs"], case["outputs"])]


def dump_json(obj, path):
    text = json.dumps(obj, indent=2)
    text = re.sub(r"\[\s*([^\[\]{}]*?)\s*\]",
                  lambda m: "[" + re.sub(r"\s*\n\s*", " ", m.group(1)) + "]", text)
    with open(path, "w") as f:
        f.write(text + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cases", nargs="*")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--no-write", action="store_true", help="do not record the result in case.json")
    args = ap.parse_args()
    with open(os.path.join(E2E, "MANIFEST.json")) as f:
        manifest = json.load(f)
    dirs = OrderedDict((n, c["dir"]) for n, c in manifest["cases"].items())
    if os.path.exists(os.path.join(ROOT, EXAMPLE, "case.json")):
        dirs[EXAMPLE] = EXAMPLE
    names = args.cases or list(dirs)
    failed = False
    for name in names:
        case_path = os.path.join(ROOT, dirs[name], "case.json")
        with open(case_path) as f:
            case = json.load(f, object_pairs_hook=OrderedDict)
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        so.intra_op_num_threads = 1
        sess = ort.InferenceSession(os.path.join(ROOT, case["model_file"]), so,
                                    providers=["CPUExecutionProvider"])
        worst = 0.0
        per_set = []
        real = case.get("compare", {}).get("real_positions")
        for k, ins, outs in input_sets(case):
            feed = {i["name"]: np.load(os.path.join(ROOT, i["file"])) for i in ins}
            got = sess.run([o["name"] for o in outs], feed)
            for o, g in zip(outs, got):
                ref = np.load(os.path.join(ROOT, o["file"]))
                assert os.path.basename(o["file"]) == sanitize(o["name"]) + ".npy"
                if g.shape != ref.shape or g.dtype != ref.dtype:
                    err = float("inf")
                else:
                    if real and o["name"] in real["outputs"]:
                        sel = feed[real["mask_input"]] != 0
                        g, ref = g[sel], ref[sel]
                    err = metric(g, ref)
                worst = max(worst, err)
                per_set.append(err)
        ok = worst <= args.tol
        failed |= not ok
        print("%-26s ort vs pytorch: %.3e  %s" % (name, worst, "PASS" if ok else "FAIL"))
        if not args.no_write:
            case["ort_check"] = OrderedDict([
                ("onnxruntime", ort.__version__),
                ("interpreter", sys.executable),
                ("settings", "CPUExecutionProvider, ORT_DISABLE_ALL, 1 thread"),
                ("max_err", worst),
                ("per_set_err" if len(per_set) > 1 else "err", per_set if len(per_set) > 1 else per_set[0]),
                ("within_tol", ok),
            ])
            dump_json(case, case_path)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
