#!/usr/bin/env python3
"""attn-gpu-tile-matmul's kernels in the SIMT emulator: C += A B on buffers for
sizes that are not tile multiples (M, N past one 64-tile, K not a multiple of
16 or 32), a column-major (strided) A; f32 on the SIMT tiles, f16/bf16 on
tensor cores (mma.sync) and, with tensor-cores=0, on the SIMT tiles; f32
accumulation; compared with float64 numpy.  Then the fused epilogues: a zero
fill before the matmul (dropped: C = acc) and an elementwise linalg.generic
after it (bias broadcast over rows, relu or exact GELU) into another buffer
or in place.  emulate-matmul.test.py ATTN_OPT"""
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
        ok &= epilogues(attn_opt, rng, tmp)
    sys.exit(0 if ok else 1)


# (dtype, M, K, N, activation, in place, tolerance, tensor cores)
EPILOGUES = [("f32", 37, 23, 70, "relu", False, 1e-5, True), ("f32", 65, 40, 33, "gelu", True, 1e-5, True),
             ("f16", 70, 40, 33, "gelu", False, 2e-3, True), ("bf16", 20, 64, 130, "relu", True, 1.6e-2, True)]


def epilogues(attn_opt, rng, tmp):
    from math import erf
    ok = True
    for dt, M, K, N, act, inplace, tol, tc in EPILOGUES:
        body = {"relu": "    %%y = arith.maximumf %%s, %%z : %s\n" % dt,
                "gelu": ("    %%h = arith.constant 0.5 : {t}\n    %%r2 = arith.constant 0.70710678118654757 : {t}\n"
                         "    %%o = arith.constant 1.0 : {t}\n    %%xs = arith.mulf %%s, %%r2 : {t}\n"
                         "    %%e = math.erf %%xs : {t}\n    %%e1 = arith.addf %%e, %%o : {t}\n"
                         "    %%hx = arith.mulf %%s, %%h : {t}\n    %%y = arith.mulf %%hx, %%e1 : {t}\n").format(t=dt)}[act]
        out = "%c" if inplace else "%d"
        src = ("#id = affine_map<(i, j) -> (i, j)>\n#col = affine_map<(i, j) -> (j)>\n"
               "func.func @main(%%a: memref<{M}x{K}x{t}>, %%b: memref<{K}x{N}x{t}>, %%bias: memref<{N}x{t}>, "
               "%%d: memref<{M}x{N}x{t}>) {{\n"
               "  %%zero = arith.constant 0.0 : {t}\n  %%z = arith.constant 0.0 : {t}\n"
               "  %%c = memref.alloc() : memref<{M}x{N}x{t}>\n"
               "  linalg.fill ins(%%zero : {t}) outs(%%c : memref<{M}x{N}x{t}>)\n"
               "  linalg.matmul ins(%%a, %%b : memref<{M}x{K}x{t}>, memref<{K}x{N}x{t}>) outs(%%c : memref<{M}x{N}x{t}>)\n"
               "  linalg.generic {{indexing_maps = [#id, #col, #id], iterator_types = [\"parallel\", \"parallel\"]}} "
               "ins(%%c, %%bias : memref<{M}x{N}x{t}>, memref<{N}x{t}>) outs({out} : memref<{M}x{N}x{t}>) {{\n"
               "  ^bb0(%%x: {t}, %%bb: {t}, %%old: {t}):\n    %%s = arith.addf %%x, %%bb : {t}\n{body}"
               "    linalg.yield %%y : {t}\n  }}\n"
               "{copy}  memref.dealloc %%c : memref<{M}x{N}x{t}>\n  return\n}}\n").replace("%%", "%").format(
                   M=M, K=K, N=N, t=dt, out=out, body=body.replace("%%", "%"),
                   copy="  memref.copy %%c, %%d : memref<{M}x{N}x{t}> to memref<{M}x{N}x{t}>\n".replace("%%", "%").format(
                       M=M, N=N, t=dt) if inplace else "")
        path = os.path.join(tmp, "e.mlir")
        with open(path, "w") as f:
            f.write(src)
        opt = "-attn-gpu-tile-matmul" + ("" if tc else "=tensor-cores=0")
        ir = subprocess.run([attn_opt, path, opt, "-attn-lower-memref-copy", "-convert-linalg-to-parallel-loops",
                             "-attn-gpu-map-parallel-loops", "--mlir-print-op-generic", "--mlir-print-local-scope"],
                            check=True, capture_output=True, text=True).stdout
        launches = ir.count('"gpu.launch"')
        fused = "linalg.generic" not in ir and "linalg.fill" not in ir
        kind = "tensor-core" if '"nvvm.mma.sync"' in ir else "SIMT"
        a, b, bias = (emu.round_to(rng.standard_normal(s), dt) for s in ((M, K), (K, N), (N,)))
        D = emu.MemRef.of(np.full((M, N), np.nan, dtype=np.float32))
        _, stats = emu.run_function(ir, "main", [emu.MemRef.of(a), emu.MemRef.of(b), emu.MemRef.of(bias), D])
        y = a.astype(np.float64) @ b.astype(np.float64) + bias.astype(np.float64)
        ref = np.maximum(y, 0) if act == "relu" else 0.5 * y * (1 + np.vectorize(erf)(y / np.sqrt(2)))
        got = D.to_numpy()
        err = float(np.abs(got - ref).max() / max(1.0, np.abs(ref).max()))
        good = err <= tol and not np.isnan(got).any() and fused
        ok &= good
        print("%s epilogue %s [%d,%d]x[%d,%d] + bias, %s%s: %s kernel, fused %s, %d kernels, scaled error %.2e (tol %g)" %
              ("PASS" if good else "FAIL", dt, M, K, K, N, act, " in place" if inplace else "", kind, fused,
               launches, err, tol))
    return ok


if __name__ == "__main__":
    main()
