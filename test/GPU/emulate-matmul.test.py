#!/usr/bin/env python3
"""attn-gpu-tile-matmul's kernels in the SIMT emulator: C += A B on buffers for
sizes that are not tile multiples (M, N past one 64-tile, K not a multiple of
16 or 32), a column-major (strided) A; f32 on the SIMT tiles, f16/bf16 on
tensor cores (mma.sync) and, with tensor-cores=0, on the SIMT tiles; f32
accumulation; compared with float64 numpy.  emulate-matmul.test.py ATTN_OPT"""
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import simt_emulator as emu  # noqa: E402

# (dtype, M, K, N, A column-major, tolerance, tensor cores)
CASES = [("f32", 37, 23, 70, False, 1e-5, True), ("f32", 130, 48, 65, True, 1e-5, True),
         ("f16", 70, 40, 33, False, 1e-3, True), ("bf16", 64, 64, 64, True, 1e-2, True),
         ("f16", 100, 77, 130, True, 1e-3, True), ("f16", 70, 40, 33, False, 1e-3, False)]


def main():
    attn_opt = sys.argv[1]
    rng = np.random.default_rng(7)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for dt, M, K, N, colmajor, tol, tc in CASES:
            at = "memref<%dx%dx%s%s>" % (M, K, dt, ", strided<[1, %d]>" % M if colmajor else "")
            src = ("func.func @main(%%a: %s, %%b: memref<%dx%dx%s>, %%c: memref<%dx%dx%s>) {\n"
                   "  linalg.matmul ins(%%a, %%b : %s, memref<%dx%dx%s>) outs(%%c : memref<%dx%dx%s>)\n"
                   "  return\n}\n" % (at, K, N, dt, M, N, dt, at, K, N, dt, M, N, dt))
            path = os.path.join(tmp, "m.mlir")
            with open(path, "w") as f:
                f.write(src)
            opt = "-attn-gpu-tile-matmul" + ("" if tc else "=tensor-cores=0")
            ir = subprocess.run([attn_opt, path, opt, "--mlir-print-op-generic"],
                                check=True, capture_output=True, text=True).stdout
            assert '"gpu.launch"' in ir and "linalg.matmul" not in ir, ir[:2000]
            kind = "tensor-core" if '"nvvm.mma.sync"' in ir else "SIMT"
            a, b, c = (emu.round_to(rng.standard_normal(s), dt) for s in ((M, K), (K, N), (M, N)))
            A = emu.MemRef.of(a.T.copy()).view(0, (M, K), (1, M)) if colmajor else emu.MemRef.of(a)
            C = emu.MemRef.of(c)
            _, stats = emu.run_function(ir, "main", [A, emu.MemRef.of(b), C])
            ref = c.astype(np.float64) + a.astype(np.float64) @ b.astype(np.float64)
            got = C.to_numpy()
            err = float(np.abs(got - ref).max() / max(1.0, np.abs(ref).max()))
            good = err <= tol and not np.isnan(got).any()
            ok &= good
            print("%s matmul %s [%d,%d]x[%d,%d]%s: %s kernel, %d blocks, %d mma, scaled error %.2e (tol %g)" %
                  ("PASS" if good else "FAIL", dt, M, K, K, N, " (A column-major)" if colmajor else "",
                   kind, stats["blocks"], stats["mma"], err, tol))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
