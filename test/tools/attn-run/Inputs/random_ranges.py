"""random_ranges.py DIR...: checks attn-run's random inputs through the outputs
of test/runtime/Inputs/fake_types.c (written by --output-dir into each DIR):
floats in [-1, 1) (h2 = 2h, g2 = 2g in [-2, 2), d3 = 3d in [-3, 3)), integers
in [0, 10) (b_i8 = b - 128), bool 0/1 (keep = mask && ids > 0, with both
values present). Prints one line per DIR, comparing each with the first."""
import os
import sys

import numpy as np


def load(d):
    return {n[:-4]: np.load(os.path.join(d, n)) for n in os.listdir(d) if n.endswith(".npy")}


first = None
for d in sys.argv[1:]:
    o = load(d)
    problems = []
    for name, lo, hi in (("h2", -2, 2), ("g2", -2, 2), ("d3", -3, 3)):
        v = o[name].astype(np.float64)
        if not (np.all(v >= lo) and np.all(v < hi)):
            problems.append("%s outside [%d, %d): %s" % (name, lo, hi, v))
    b = o["b_i8"].astype(np.int64) + 128
    if not (np.all(b >= 0) and np.all(b < 10)):
        problems.append("b outside [0, 10): %s" % b)
    keep = o["keep"]
    if keep.dtype != np.bool_:
        problems.append("keep is %s" % keep.dtype)
    line = os.path.basename(d) + ": " + ("ranges ok" if not problems else "; ".join(problems))
    if first is None:
        first = o
    else:
        same = all(np.array_equal(first[k], o[k]) for k in first)
        line += ", same as a" if same else ", differs from a"
    print(line)
