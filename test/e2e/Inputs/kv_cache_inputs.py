#!/usr/bin/python3
"""Inputs for kv_cache_checks.test: kv_cache_inputs.py DIR B T TOTAL [P ...]

DIR/ids.npy [B, T] i64, DIR/mask.npy [B, TOTAL] ones, DIR/pos.npy [B, T] (TOTAL-T ...), DIR/cache.npy
[B, 2, 64, 16] f32 random (seed 0), DIR/cacheB3.npy [3, 2, 64, 16], and DIR/p<P>.npy (rank-0 i64) for
each P (a leading 'm' means minus). same.py-style compare: kv_cache_inputs.py --same A.npy B.npy exits 0
when the two arrays have identical bytes, shapes and dtypes."""
import os
import sys

import numpy as np

if sys.argv[1] == "--same":
    a, b = np.load(sys.argv[2]), np.load(sys.argv[3])
    same = a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()
    print("same" if same else "DIFFERENT: %s %s" % (sys.argv[2], sys.argv[3]))
    sys.exit(0 if same else 1)
d, B, T, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
os.makedirs(d, exist_ok=True)
rng = np.random.default_rng(0)
np.save(os.path.join(d, "ids.npy"), rng.integers(1, 100, (B, T), dtype=np.int64))
np.save(os.path.join(d, "mask.npy"), np.ones((B, total), np.int64))
np.save(os.path.join(d, "pos.npy"), np.tile(np.arange(total - T, total, dtype=np.int64), (B, 1)))
np.save(os.path.join(d, "cache.npy"), rng.standard_normal((B, 2, 64, 16)).astype(np.float32))
np.save(os.path.join(d, "cacheB3.npy"), rng.standard_normal((3, 2, 64, 16)).astype(np.float32))
for p in sys.argv[5:]:
    np.save(os.path.join(d, "p%s.npy" % p), np.array(-int(p[1:]) if p[0] == "m" else int(p), np.int64))
