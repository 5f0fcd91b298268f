#!/usr/bin/python3
"""Compare attn-run outputs with reference outputs (numpy only; Debian /usr/bin/python3).

  compare.py GOT_DIR EXPECTED_DIR [--tol 1e-4]

For every EXPECTED_DIR/<name>.npy, loads GOT_DIR/<name>.npy and checks, per CONTRACT.md "Numerics":
  * the file exists, and shape and dtype are identical;
  * NaN positions are identical; +-inf in the reference must be the same inf in ours;
    everywhere else ours must be finite;
  * floating point: err = max|got - ref| / max(1, max|ref|) over the elements where ref is
    finite, err <= tol;  integer/bool outputs: exact equality.
Prints one line per output (error and PASS/FAIL); exit 0 if all pass, 1 on any failure or
missing file, 2 on bad usage (or an EXPECTED_DIR without .npy files).

Real positions only (decoder LLMs, issue #14): when the case's case.json (EXPECTED_DIR/../case.json,
or for a shape set EXPECTED_DIR/../../../case.json) has
    "compare": {"real_positions": {"mask_input": "attention_mask", "outputs": ["logits"]}}
then each listed output is compared only at the positions where the mask input (EXPECTED_DIR/../inputs/
<mask_input>.npy, shape = the output's leading dims) is nonzero: logits[b, s, :] of a padded position
s are excluded from the error, the NaN check and the scale. Shape and dtype are still checked in full.
Outputs not listed, and cases without the field, are compared everywhere. --all-positions ignores it.
(In this mode a failure's "worst at [i, ...]" indexes the selected positions: i counts real positions.)
"""
import argparse
import json
import os
import sys

import numpy as np


def compare(got, ref, tol):
    """Returns (ok, err, message)."""
    if got.shape != ref.shape:
        return False, None, "shape %s, expected %s" % (list(got.shape), list(ref.shape))
    if got.dtype != ref.dtype:
        return False, None, "dtype %s, expected %s" % (got.dtype, ref.dtype)
    if ref.size == 0:
        return True, 0.0, "empty"
    if not (np.issubdtype(ref.dtype, np.floating) or np.issubdtype(ref.dtype, np.complexfloating)):
        bad = int(np.count_nonzero(got != ref))
        return bad == 0, (0.0 if bad == 0 else None), ("exact" if bad == 0 else
                                                      "%d of %d elements differ (exact match required)" % (bad, ref.size))
    g = got.astype(np.float64)
    r = ref.astype(np.float64)
    gnan, rnan = np.isnan(g), np.isnan(r)
    if not np.array_equal(gnan, rnan):
        where = np.argwhere(gnan != rnan)[0].tolist()
        return False, None, "NaN positions differ (%d ours, %d reference; first at %s)" % (
            int(gnan.sum()), int(rnan.sum()), where)
    rinf = np.isinf(r)
    if not np.array_equal(g[rinf], r[rinf]):
        return False, None, "inf positions/signs differ from the reference"
    fin = np.isfinite(r)
    if not np.isfinite(g[fin]).all():
        where = np.argwhere(fin & ~np.isfinite(g))[0].tolist()
        return False, None, "non-finite value where the reference is finite (first at %s)" % where
    if not fin.any():
        return True, 0.0, "no finite elements"
    diff = np.abs(g[fin] - r[fin])
    scale = max(1.0, float(np.abs(r[fin]).max()))
    err = float(diff.max()) / scale
    detail = "max_abs_diff=%.3e scale=%.3g" % (float(diff.max()), scale)
    if err > tol:
        at = np.argwhere(fin)[int(diff.argmax())].tolist()
        detail += " worst at %s: got %r ref %r" % (at, float(g[tuple(at)]), float(r[tuple(at)]))
    return err <= tol, err, detail


def real_positions(expected_dir):
    """{output name: mask path} from the case.json that owns EXPECTED_DIR (see the docstring)."""
    exp = os.path.abspath(expected_dir)
    set_dir = os.path.dirname(exp)
    for case_dir in (set_dir, os.path.dirname(os.path.dirname(set_dir))):
        path = os.path.join(case_dir, "case.json")
        if os.path.isfile(path):
            with open(path) as f:
                spec = json.load(f).get("compare", {}).get("real_positions")
            if not spec:
                return {}
            mask = os.path.join(set_dir, "inputs", spec["mask_input"] + ".npy")
            return {name: mask for name in spec["outputs"]}
    return {}


def select_real(got, ref, mask_path):
    """(got, ref) restricted to the positions where the mask is nonzero, or an error message."""
    mask = np.load(mask_path, allow_pickle=False)
    if mask.shape != ref.shape[:mask.ndim]:
        return None, None, "mask %s has shape %s, not the output's leading dims %s" % (
            mask_path, list(mask.shape), list(ref.shape[:mask.ndim]))
    sel = mask != 0
    return got[sel], ref[sel], None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("got_dir")
    ap.add_argument("expected_dir")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--all-positions", action="store_true",
                    help="compare every position even where case.json says real positions only")
    args = ap.parse_args()

    if not os.path.isdir(args.expected_dir):
        print("compare.py: expected dir %s does not exist" % args.expected_dir)
        return 2
    names = sorted(f for f in os.listdir(args.expected_dir) if f.endswith(".npy"))
    if not names:
        print("compare.py: no .npy files in %s" % args.expected_dir)
        return 2
    masks = {} if args.all_positions else real_positions(args.expected_dir)
    failed = 0
    for name in names:
        out = name[:-4]
        path = os.path.join(args.got_dir, name)
        if not os.path.exists(path):
            print("%s: FAIL missing %s" % (out, path))
            failed += 1
            continue
        ref = np.load(os.path.join(args.expected_dir, name), allow_pickle=False)
        try:
            got = np.load(path, allow_pickle=False)
        except Exception as e:  # a malformed .npy is a failure of ours, not a crash of the checker
            print("%s: FAIL cannot load %s: %s" % (out, path, e))
            failed += 1
            continue
        note, shape = "", list(ref.shape)
        if out in masks and got.shape == ref.shape and got.dtype == ref.dtype:
            g_sel, r_sel, msg = select_real(got, ref, masks[out])
            if msg:
                print("%s: FAIL %s" % (out, msg))
                failed += 1
                continue
            note = ", real positions only: %d of %d" % (r_sel.shape[0], int(np.prod(ref.shape[:ref.ndim - r_sel.ndim + 1])))
            got, ref = g_sel, r_sel
        ok, err, detail = compare(got, ref, args.tol)
        detail += note
        err_s = "err=%.3e" % err if err is not None else "err=n/a"
        print("%s: %s %s %s tol=%.0e %s (%s)" % (out, shape, ref.dtype, err_s, args.tol,
                                                  "PASS" if ok else "FAIL", detail))
        failed += not ok
    if os.path.isdir(args.got_dir):
        extra = sorted(set(f for f in os.listdir(args.got_dir) if f.endswith(".npy")) - set(names))
        for f in extra:
            print("note: %s has no reference (ignored)" % f)
    print("compare.py: %s (%d of %d outputs failed)" % ("FAIL" if failed else "PASS", failed, len(names)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
