"""attn.linear / MatMul with N not a multiple of the kernel's panel (2
vectors: 16 columns on AVX2, 32 on AVX-512) and a constant weight: the
register-blocked kernel over zero-padded packed panels, the last panel's
bias loads and stores masked to the valid columns. Against numpy at decode
row counts (M <= 8: the streaming kernel) and blocked ones (9, 64, 130),
with bias and activations; merged projections with an odd total (the whole
kernel, then the splits copied out) and a run-time weight with odd N (the
linalg fallback) too.

  linear_tail_kernel.py ATTNC ATTN_RUN TMPDIR
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from linear_cases import run_cases  # noqa: E402

# K, output splits, activation, bias, gated, weight constant?, 3-D input?
cases = [
    (32, [1], "none", False, False, True, False),
    (19, [7], "relu", True, False, True, False),
    (64, [17], "gelu", True, False, True, True),         # [b, s, K]
    (48, [100], "silu", True, False, True, False),
    (96, [1001], "none", True, False, True, False),
    (33, [1999], "gelu", False, False, True, False),
    (40, [7, 10], "none", True, False, True, False),     # merged projections, odd total
    (24, [23], "relu", True, False, False, False),       # run-time weight: linalg fallback
    (300, [77], "silu", True, False, True, False),       # M = 5..8: two 4-row tiles, k-block tail
]
ROWS = [1, 3, 5, 8, 9, 64, 130]
run_cases(cases, ROWS, 900, lambda M, K: (2, (M + 1) // 2, K),
          lambda c: "K%d splits %s %s bias=%s const_w=%s" % (c[0], c[1], c[2], c[3], c[5]))
