#!/usr/bin/python3
"""attnc --logits=last against --logits=all on one with-past fixture (numpy only).

  compare_last_logits.py ATTN_RUN ALL.so LAST.so CASE_DIR WORK_DIR

For each shape set K of CASE_DIR/case.json: attn-run both libraries on the set's inputs
(run_case.py); the last library's logits must be [B, 1, V] and equal the all library's last
column (max|got-ref|/max(1,max|ref|) <= 1e-4); every other output (the presents) must be equal
too. Also checks that the last library's signature says logits [batch, 1, V]. Exit 1 on any
mismatch (all sets are run)."""
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def metric(got, ref):
    return float(np.max(np.abs(got.astype(np.float64) - ref))) / max(1.0, float(np.max(np.abs(ref))))


def main():
    if len(sys.argv) != 6:
        print(__doc__)
        return 2
    attn_run, lib_all, lib_last, case_dir, work = sys.argv[1:6]
    sig = json.loads(subprocess.check_output([attn_run, lib_last, "--signature", "--json"]).decode().splitlines()[-1])
    logits_sig = [o for o in sig["outputs"] if o["name"] == "logits"]
    if len(logits_sig) != 1 or logits_sig[0]["shape"][1] != 1:
        print("compare_last_logits.py: FAIL signature logits %s" % logits_sig)
        return 1
    with open(os.path.join(case_dir, "case.json")) as f:
        sets = json.load(f)["shape_sets"]
    failed = []
    for s in sets:
        k = s["set"]
        outs = {}
        for tag, lib in (("all", lib_all), ("last", lib_last)):
            out = os.path.join(work, "%s%d" % (tag, k))
            if subprocess.call([sys.executable, os.path.join(HERE, "..", "run_case.py"), attn_run, lib,
                                case_dir, out, "--set", str(k)]):
                failed.append(k)
                break
            outs[tag] = out
        if len(outs) != 2:
            continue
        ok = True
        for name in sorted(os.listdir(outs["all"])):
            ref = np.load(os.path.join(outs["all"], name))
            got = np.load(os.path.join(outs["last"], name))
            if name == "logits.npy":
                if got.shape != (ref.shape[0], 1, ref.shape[2]):
                    print("set %d: logits shape %s, expected %s" % (k, got.shape, (ref.shape[0], 1, ref.shape[2])))
                    ok = False
                    continue
                ref = ref[:, -1:, :]
            if got.shape != ref.shape:
                print("set %d: %s shape %s, expected %s" % (k, name, got.shape, ref.shape))
                ok = False
                continue
            m = metric(got, ref)
            print("set %d: %s %s metric %.3g" % (k, name, got.shape, m))
            ok = ok and m <= 1e-4
        if not ok:
            failed.append(k)
    print("compare_last_logits.py: %s (%d sets, failed: %s)" % ("FAIL" if failed else "PASS", len(sets),
                                                               failed or "none"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
