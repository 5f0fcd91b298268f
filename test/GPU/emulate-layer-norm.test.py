#!/usr/bin/env python3
"""Runs attnc's GPU layer-norm kernel (attn-gpu-lower-layer-norm) in the SIMT
emulator (simt_emulator.py) and compares it with a float64 numpy reference.

  emulate-layer-norm.test.py ATTN_OPT [CASE...]

For each case: an attn.layer_norm function, lowered by
`attn-opt -attn-gpu-lower-layer-norm -one-shot-bufferize -attn-gpu-lower-layer-norm
-convert-linalg-to-parallel-loops -attn-gpu-map-parallel-loops` (the CUDA
pipeline's kernel construction; the last two for the dynamic broadcast checks), printed generic, emulated on random
inputs rounded to the element type, and compared with
((x + r) - mean) / sqrt(var + eps) * scale + bias computed in float64 from the
same rounded inputs: scaled max error max|got - ref| / max(1, max|ref|) within
the case's tolerance (f32 1e-5, f16 2e-3, bf16 1.6e-2: the output's rounding).
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

# name: (dtype, shape, static type shape (None: = shape), axis, residual, bias, offset, eps)
CASES = {
    # BERT/seed-like: residual + bias, rows (3 x 37) not a multiple of the 8
    # rows per block, n = 100 not a multiple of 32 lanes.
    "f32_residual_bias": ("f32", (3, 37, 100), None, 2, True, True, 0.0, 1e-5),
    # A large common offset: the two-pass variance keeps its precision
    # (E[x^2] - E[x]^2 would lose it in f32).
    "f32_offset": ("f32", (4, 9, 64), None, -1, False, True, 300.0, 1e-5),
    # Dynamic batch and sequence dims, residual, no bias.
    "f32_dynamic": ("f32", (2, 9, 48), ("?", "?", 48), 2, True, False, 0.0, 1e-12),
    # f16 storage, f32 accumulation; fewer rows than one block holds.
    "f16_residual": ("f16", (5, 256), None, 1, True, True, 0.0, 1e-5),
    # bf16, normalized over two dims (6 x 40) with [6, 40] scale and bias.
    "bf16_two_dims": ("bf16", (4, 6, 40), None, 1, False, True, 0.0, 1e-5),
}


def ttype(shape, dt):
    return "tensor<%sx%s>" % ("x".join(map(str, shape)), dt)


def run_case(attn_opt, name, spec, tmp):
    dt, shape, tshape, axis, has_res, has_bias, offset, eps = spec
    tshape = tshape or shape
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    ax = axis % len(shape)
    nshape = shape[ax:]
    x = emu.round_to(rng.standard_normal(shape) * 2.0 + offset, dt)
    r = emu.round_to(rng.standard_normal(shape), dt) if has_res else None
    scale = emu.round_to(rng.standard_normal(nshape), dt)
    bias = emu.round_to(rng.standard_normal(nshape), dt) if has_bias else None
    it, st = ttype(tshape, dt), ttype(nshape, dt)
    sig = ["%%x: %s" % it] + (["%%r: %s" % it] if has_res else []) + ["%%s: %s" % st] + \
          (["%%b: %s" % st] if has_bias else [])
    op = "attn.layer_norm %%x%s, %%s%s {axis = %d : i64, epsilon = %e : f64} : %s, %s -> %s" % (
        " residual(%%r : %s)" % it if has_res else "", ", %%b : %s" % st if has_bias else "",
        axis, eps, it, st, it)
    src = "func.func @main(%s) -> %s {\n  %%0 = %s\n  return %%0 : %s\n}\n" % (", ".join(sig), it, op, it)
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
    args = [a.astype(np.float32) for a in (x, r, scale, bias) if a is not None]
    (out,), stats = emu.run_function(ir, "main", args)
    xs = x.astype(np.float64) + (r.astype(np.float64) if has_res else 0.0)
    dims = tuple(range(ax, len(shape)))
    mean = xs.mean(axis=dims, keepdims=True)
    var = ((xs - mean) ** 2).mean(axis=dims, keepdims=True)
    ref = (xs - mean) / np.sqrt(var + eps) * scale.astype(np.float64)
    if has_bias:
        ref = ref + bias.astype(np.float64)
    problems = []
    if "layernorm_" not in ir:
        problems.append("no layer-norm kernel")
    if np.isnan(out).any():
        problems.append("%d outputs not written" % int(np.isnan(out).sum()))
    err = float(np.nanmax(np.abs(out - ref)) / max(1.0, np.abs(ref).max()))
    if err > TOL[dt]:
        problems.append("scaled error %.3g > %g" % (err, TOL[dt]))
    print("%s %s: %s %s axis %d, scaled error %.2e (tol %g), %d blocks, %d shuffles%s" %
          ("FAIL" if problems else "PASS", name, dt, list(shape), axis, err, TOL[dt], stats["blocks"],
           stats["shuffles"], "".join("; " + p for p in problems)))
    return not problems


def main():
    attn_opt = sys.argv[1]
    emu.run_cases(CASES, lambda n, spec, tmp: run_case(attn_opt, n, spec, tmp))


if __name__ == "__main__":
    main()
