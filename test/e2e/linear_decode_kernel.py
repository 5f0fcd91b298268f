"""attn.linear at decode row counts (M = 1..8, dynamic: the streaming
matrix-vector kernel over the compile-time-packed weights, chosen at run time)
and just past them (M = 9, 13: the blocked kernel), against numpy: plain,
bias, activations, gated (SwiGLU/GeGLU), merged projections (several
results), K not a multiple of the k-unrolling, run-time weights.

  linear_decode_kernel.py ATTNC ATTN_RUN TMPDIR
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from linear_cases import run_cases  # noqa: E402

# K, output splits, activation, bias, gated, weight constant?, 3-D input?
cases = [
    (64, [256], "none", False, False, True, False),
    (67, [96], "gelu", True, False, True, False),          # K % 4 = 3: k tail
    (128, [64, 32, 64], "none", True, False, True, False),  # merged projections
    (96, [128], "silu", False, True, True, False),          # gated SwiGLU
    (130, [64, 32], "gelu", True, True, True, True),        # gated GeGLU, splits, [b, s, K]
    (48, [160], "relu", True, False, False, False),         # run-time weight (strided panel view)
    (40, [64], "silu", True, True, False, False),           # run-time gated weight (packed)
    (300, [80], "gelu", True, False, True, False),          # 5..8 rows: 2 k-blocks of 128 + a tail of 44
    (256, [48], "silu", True, True, True, True),            # gated, 5..8 rows: 2 whole k-blocks
]
ROWS = [1, 2, 3, 4, 5, 7, 8, 9, 13]
run_cases(cases, ROWS, 500, lambda M, K: (1, M, K),
          lambda c: "K%d splits %s %s bias=%s gated=%s const_w=%s" % (c[0], c[1], c[2], c[3], c[4], c[5]))
