#!/usr/bin/env python3
"""The run-time index check of a Gather on the cuda path, in the SIMT
emulator: attn.gather lowered (attn-lower-to-linalg: the gather kernel and an
OR-reduction of "index out of range" into the model's status flag), bufferized,
the check made a parallel kernel (attn-gpu-parallel-flag-reductions), mapped to
gpu.launch kernels; run on in-range indices (flag clear, rows gathered, negative
indices wrapping) and on sets with one bad index at the start, in the middle
and at the end (flag set).  emulate-index-check.test.py ATTN_OPT"""
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import simt_emulator as emu  # noqa: E402

SRC = """func.func @main(%t: tensor<50x8xf32>, %ids: tensor<?x?xi64>) -> tensor<?x?x8xf32> {
  %0 = attn.gather %t[%ids] {axis = 0 : i64} : tensor<50x8xf32>, tensor<?x?xi64> -> tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}
"""


def main():
    attn_opt = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "g.mlir")
        with open(path, "w") as f:
            f.write(SRC)
        ir = subprocess.run([attn_opt, path, "-attn-lower-to-linalg", "-canonicalize",
                             "-one-shot-bufferize=bufferize-function-boundaries=1 "
                             "function-boundary-type-conversion=identity-layout-map",
                             "-attn-gpu-parallel-flag-reductions", "-convert-linalg-to-parallel-loops",
                             "-attn-gpu-map-parallel-loops", "-canonicalize", "--mlir-print-op-generic",
                             "--mlir-print-local-scope"], check=True, capture_output=True, text=True).stdout
    serial_loops = ir.count('"scf.for"')
    rng = np.random.default_rng(3)
    table = rng.standard_normal((50, 8)).astype(np.float32)
    ok = True
    cases = [("in range", 0), ("bad first", (0, 0)), ("bad middle", (3, 17)), ("bad last", (6, 39))]
    for name, bad in cases:
        ids = rng.integers(-50, 50, size=(7, 40)).astype(np.int64)
        if bad:
            ids[bad] = 50 if bad[1] % 2 else -51
        (out, status), stats = emu.run_function(ir, "main", [table, ids])
        want = bool(bad)
        good = bool(np.asarray(status).ravel()[0]) == want
        if not bad:
            good &= np.array_equal(out, table[np.where(ids < 0, ids + 50, ids)])
        ok &= good
        print("%s %s: status %s (expected %s), %d kernel launches" %
              ("PASS" if good else "FAIL", name, bool(np.asarray(status).ravel()[0]), want, stats["launches"]))
    good = serial_loops == 0
    ok &= good
    print("%s no sequential loops in the device program (%d)" % ("PASS" if good else "FAIL", serial_loops))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
