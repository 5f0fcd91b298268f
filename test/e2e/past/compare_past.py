#!/usr/bin/python3
"""Compare a with-past step's outputs with PyTorch's at the real positions (numpy only).

  compare_past.py GOT_DIR CASE_DIR --set K [--tol 1e-4] [--all-positions]

CASE_DIR/case.json (scripts/gen_past_fixtures.py) describes shape set K: its past length P and the
attention_mask input [B, P+T]. For every output of the set (CASE_DIR/shapes/K/expected/<name>.npy):
  * logits [B, T, V]: compared only at the query positions whose mask is 1 (mask[:, P:]);
  * present K/V [B, kv_heads, P+T, D]: compared only at the positions j whose mask[:, j] is 1
    (a padded position's K/V is not part of the model's contract past the first layer);
shape and dtype in full, then test/e2e/compare.py's metric (max|got-ref| / max(1, max|ref|), NaN positions,
finite elsewhere). --all-positions compares everything. Exit 0 if all pass, 1 on a failure, 2 on bad usage.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from compare import compare  # noqa: E402  (test/e2e/compare.py)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("got_dir")
    ap.add_argument("case_dir")
    ap.add_argument("--set", type=int, required=True, dest="set_k")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--all-positions", action="store_true")
    args = ap.parse_args()

    with open(os.path.join(args.case_dir, "case.json")) as f:
        case = json.load(f)
    if not 0 <= args.set_k < len(case["shape_sets"]):
        print("compare_past.py: no shape set %d in %s" % (args.set_k, args.case_dir))
        return 2
    spec = case["shape_sets"][args.set_k]
    base = os.path.join(args.case_dir, "shapes", str(args.set_k))
    past = spec["past"]
    mask = np.load(os.path.join(base, "inputs", "attention_mask.npy"), allow_pickle=False) != 0
    failed = 0
    for out in spec["outputs"]:
        name = out["name"]
        ref = np.load(os.path.join(base, "expected", name + ".npy"), allow_pickle=False)
        path = os.path.join(args.got_dir, name + ".npy")
        if not os.path.exists(path):
            print("%s: FAIL missing %s" % (name, path))
            failed += 1
            continue
        got = np.load(path, allow_pickle=False)
        note = ""
        if not args.all_positions and got.shape == ref.shape and got.dtype == ref.dtype:
            if name == "logits":
                sel = mask[:, past:]
                got, ref = got[sel], ref[sel]
            else:
                sel = mask
                got, ref = np.moveaxis(got, 2, 1)[sel], np.moveaxis(ref, 2, 1)[sel]
            note = ", real positions only: %d of %d" % (int(sel.sum()), sel.size)
        ok, err, detail = compare(got, ref, args.tol)
        print("%s: %s err=%s tol=%.0e %s (%s%s)" % (name, out["shape"], "%.3e" % err if err is not None else "n/a",
                                                   args.tol, "PASS" if ok else "FAIL", detail, note))
        failed += not ok
    print("compare_past.py: %s (%d of %d outputs failed)" % ("FAIL" if failed else "PASS", failed,
                                                             len(spec["outputs"])))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
