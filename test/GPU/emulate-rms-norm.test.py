#!/usr/bin/env python3
"""Runs attnc's GPU RMSNorm kernel (attn-gpu-lower-layer-norm on attn.rms_norm) in the SIMT
emulator (simt_emulator.py) and compares it with a float64 numpy reference.

  emulate-rms-norm.test.py ATTN_OPT [CASE...]

For each case: an attn.rms_norm function, lowered by
`attn-opt -attn-gpu-lower-layer-norm -one-shot-bufferize -attn-gpu-lower-layer-norm
-convert-linalg-to-parallel-loops -attn-gpu-map-parallel-loops`, printed generic, emulated on
random inputs rounded to the element type, and compared with h = x (+ r),
h / sqrt(mean(h^2) + eps) * scale (and h itself for the sum result) in float64 from the same
rounded inputs: scaled max error within the case's tolerance (f32 1e-5, f16 2e-3, bf16 1.6e-2).
Prints one line per case and exits 1 on any failure.
"""
import os
import subprocess
import sys
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import simt_emulator as emu  # noqa: E402

TOL = {"f32": 1e-5, "f16": 2e-3, "bf16": 1.6e-2}

# name: (dtype, shape, static type shape (None: = shape), axis, residual, sum result, eps)
CASES = {
    # Llama-like: residual and its sum, rows (3 x 37) not a multiple of the 8 rows per block,
    # n = 100 not a multiple of 32 lanes.
    "f32_residual_sum": ("f32", (3, 37, 100), None, 2, True, True, 1e-6),
    # Dynamic batch and sequence dims, residual, no sum.
    "f32_dynamic": ("f32", (2, 9, 48), ("?", "?", 48), 2, True, False, 1e-5),
    # No residual, fewer rows than one block holds.
    "f32_plain": ("f32", (5, 64), None, 1, False, False, 1e-6),
    # f16 storage, f32 accumulation, with the sum.
    "f16_residual_sum": ("f16", (5, 256), None, 1, True, True, 1e-6),
    # bf16, normalized over two dims (6 x 40) with a [6, 40] scale.
    "bf16_two_dims": ("bf16", (4, 6, 40), None, 1, False, False, 1e-6),
}


def ttype(shape, dt):
    return "tensor<%sx%s>" % ("x".join(map(str, shape)), dt)


def run_case(attn_opt, name, spec, tmp):
    dt, shape, tshape, axis, has_res, has_sum, eps = spec
    tshape = tshape or shape
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    ax = axis % len(shape)
    nshape = shape[ax:]
    x = emu.round_to(rng.standard_normal(shape) * 2.0, dt)
    r = emu.round_to(rng.standard_normal(shape), dt) if has_res else None
    scale = emu.round_to(rng.standard_normal(nshape), dt)
    it, st = ttype(tshape, dt), ttype(nshape, dt)
    sig = ["%%x: %s" % it] + (["%%r: %s" % it] if has_res else []) + ["%%s: %s" % st]
    nres = 2 if has_sum else 1
    rtypes = ", ".join([it] * nres)
    op = "attn.rms_norm %%x%s, %%s {axis = %d : i64, epsilon = %e : f64} : %s, %s -> %s" % (
        " residual(%%r : %s)" % it if has_res else "", axis, eps, it, st, rtypes)
    rets = ", ".join("%%0#%d" % i for i in range(nres))
    src = "func.func @main(%s) -> (%s) {\n  %%0:%d = %s\n  return %s : %s\n}\n" % (
        ", ".join(sig), rtypes, nres, op, rets, rtypes)
    path = os.path.join(tmp, name + ".mlir")
    with open(path, "w") as f:
        f.write(src)
    ir = subprocess.run([attn_opt, path, "-attn-gpu-lower-layer-norm",
                         "-one-shot-bufferize=bufferize-function-boundaries=1 "
                         "function-boundary-type-conversion=identity-layout-map",
                         "-attn-gpu-lower-layer-norm", "-convert-linalg-to-parallel-loops",
                         "-attn-gpu-map-parallel-loops", "-canonicalize", "-cse", "--mlir-print-op-generic",
                         "--mlir-print-local-scope"],
                        check=True, capture_output=True, text=True).stdout
    args = [a.astype(np.float32) for a in (x, r, scale) if a is not None]
    outs, stats = emu.run_function(ir, "main", args)
    hs = x.astype(np.float64) + (r.astype(np.float64) if has_res else 0.0)
    dims = tuple(range(ax, len(shape)))
    ms = (hs * hs).mean(axis=dims, keepdims=True)
    refs = [hs / np.sqrt(ms + eps) * scale.astype(np.float64)]
    if has_sum:
        refs.append(hs)
    problems = []
    if "rmsnorm_" not in ir:
        problems.append("no rms-norm kernel")
    if len(outs) != len(refs):
        problems.append("%d results, expected %d" % (len(outs), len(refs)))
    err = 0.0
    for out, ref in zip(outs, refs):
        if np.isnan(out).any():
            problems.append("%d outputs not written" % int(np.isnan(out).sum()))
        err = max(err, float(np.nanmax(np.abs(out - ref)) / max(1.0, np.abs(ref).max())))
    if err > TOL[dt]:
        problems.append("scaled error %.3g > %g" % (err, TOL[dt]))
    print("%s %s: %s %s axis %d, %d results, scaled error %.2e (tol %g), %d blocks, %d shuffles%s" %
          ("FAIL" if problems else "PASS", name, dt, list(shape), axis, len(outs), err, TOL[dt],
           stats["blocks"], stats["shuffles"], "".join("; " + p for p in problems)))
    return not problems


def main():
    attn_opt = sys.argv[1]
    emu.run_cases(CASES, lambda n, spec, tmp: run_case(attn_opt, n, spec, tmp))


if __name__ == "__main__":
    main()
