"""Inputs and check for cast_bf16_rounding.test (numpy only)."""
import os
import sys

import numpy as np


def rne_bf16(x):
    """float32 -> bfloat16 (as float32), round to nearest even; NaN stays a quiet NaN."""
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    out = r.astype(np.uint32).view(np.float32)
    return np.where(np.isnan(x), np.float32(np.nan), out)


def ties():
    f = np.float32
    vals = [1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8, -(1 + 2.0 ** -8), -(1 + 3 * 2.0 ** -8),
            2 + 2.0 ** -7, 1 + 2.0 ** -8 + 2.0 ** -20, 1 + 2.0 ** -8 - 2.0 ** -20,
            np.finfo(np.float32).max, -np.finfo(np.float32).max, 3.3961e38,
            np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40, -1e-40, 2.0 ** -126 * 1.00390625,
            0.48033667, 0.49968487, 0.81910545, 65504.0, 1e-3, 7.0]
    a = np.array(vals, dtype=f)
    return np.resize(a, (4, 6))


def main():
    mode, t = sys.argv[1], sys.argv[2]
    if mode == "same":  # same A.npy B.npy: bit-identical (NaNs where NaNs)
        a, b = np.load(t).astype(np.float32), np.load(sys.argv[3]).astype(np.float32)
        n = np.isnan(a)
        ok = a.shape == b.shape and bool(np.isnan(b[n]).all()) and np.array_equal(
            a.view(np.uint32)[~n], b.view(np.uint32)[~n])
        print("identical" if ok else "DIFFERENT")
        return
    rs = np.random.RandomState(3)
    sets = {"ties": ties(),
            "r1": rs.uniform(-4, 4, (3, 5)).astype(np.float32),
            "r2": (rs.standard_normal((7, 33)) * 1e3).astype(np.float32),
            "r3": rs.uniform(-1, 1, (16, 64)).astype(np.float32) * np.float32(1e-30)}
    if mode == "save":
        with open(os.path.join(t, "dynamic.onnxtext"), "w") as f:
            f.write('<ir_version: 8, opset_import: ["" : 17]>\n'
                    'cast (float[N, M] x) => (bfloat16[N, M] y)\n{\n  y = Cast<to = 16>(x)\n}\n')
        with open(os.path.join(t, "back.onnxtext"), "w") as f:
            f.write('<ir_version: 8, opset_import: ["" : 17]>\n'
                    'back (bfloat16[N, M] x) => (float[N, M] y)\n{\n  y = Cast<to = 1>(x)\n}\n')
        for k, v in sets.items():
            np.save(os.path.join(t, k + ".npy"), v)
            d = "%d, %d" % v.shape  # one model per shape: static dims
            with open(os.path.join(t, k + ".onnxtext"), "w") as f:
                f.write('<ir_version: 8, opset_import: ["" : 17]>\n'
                        'cast (float[%s] x) => (bfloat16[%s] y)\n{\n  y = Cast<to = 16>(x)\n}\n'
                        % (d, d))
        return
    for k, v in sets.items():
        got = np.load(os.path.join(t, "o_" + k, "y.npy")).astype(np.float32)
        want = rne_bf16(v)
        same = got.shape == want.shape and np.array_equal(
            got.view(np.uint32)[~np.isnan(want)], want.view(np.uint32)[~np.isnan(want)]) and \
            bool(np.isnan(got[np.isnan(want)]).all())
        if same:
            print("%s: bit-exact" % k)
        else:
            bad = np.flatnonzero(got.view(np.uint32) != want.view(np.uint32))[:5]
            print("%s: MISMATCH at %s: in %s got %s want %s" % (
                k, bad, v.ravel()[bad], got.ravel()[bad], want.ravel()[bad]))


main()
