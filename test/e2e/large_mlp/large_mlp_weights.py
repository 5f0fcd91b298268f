"""Writes weights.bin for large_mlp/model.onnx into DIR and, with --check, compares attn-run's
output with numpy. Usage: large_mlp_weights.py DIR [--check OUT.npy X.npy]"""
import sys

import numpy as np

LAYERS, E = 24, 1024


def weights():
    rng = np.random.default_rng(2024)
    for _ in range(LAYERS):
        w = (rng.standard_normal((E, E), dtype=np.float32) * np.float32(np.sqrt(2.0 / E)))
        b = (rng.standard_normal(E, dtype=np.float32) * np.float32(0.1))
        yield w, b


d = sys.argv[1]
if len(sys.argv) == 2:
    with open(d + "/weights.bin", "wb") as f:
        for w, b in weights():
            w.tofile(f)
            b.tofile(f)
    x = np.random.default_rng(7).standard_normal((5, E), dtype=np.float32)
    np.save(d + "/x.npy", x)
    sys.exit(0)
got, x = np.load(sys.argv[3]), np.load(sys.argv[4]).astype(np.float64)
for w, b in weights():
    x = np.maximum(x @ w.astype(np.float64) + b, 0.0)
err = np.abs(got - x).max() / max(1.0, np.abs(x).max())
print("large_mlp: shape %s, max |y| %.3g, err %.2e" % (got.shape, np.abs(x).max(), err))
sys.exit(0 if got.shape == x.shape and err <= 1e-4 else 1)
