"""Compiles single-attention models (bench/attention_model.py) with attnc,
runs them with attn-run and compares with a float64 numpy reference."""
import os
import subprocess
import sys

import numpy as np

model_py, attnc, attn_run, tmp = sys.argv[1:5]
os.makedirs(tmp, exist_ok=True)
cases = [  # B, H, S, D, causal
    (1, 1, 300, 64, True),    # 7 query blocks split over tasks, causal
    (1, 1, 300, 64, False),
    (2, 3, 77, 128, False),   # partial blocks, D=128
    (1, 2, 129, 32, True),
    (4, 8, 5, 64, False),     # short sequences
]
failed = 0
for i, (B, H, S, D, causal) in enumerate(cases):
    base = os.path.join(tmp, "case%d" % i)
    args = [sys.executable, model_py, str(B), str(H), str(S), str(D), "-o", base + ".mlir"]
    if causal:
        args.insert(-2, "--causal")
    subprocess.check_call(args)
    subprocess.check_call([attnc, base + ".mlir", "-o", base + ".so"])
    rng = np.random.default_rng(i)
    x = {n: (rng.standard_normal((B, H, S, D)) * 2).astype(np.float32) for n in "qkv"}
    cmd = [attn_run, base + ".so", "--output-dir", base + ".out"]
    for n, a in x.items():
        np.save(base + "." + n + ".npy", a)
        cmd += ["--input", "%s=%s.%s.npy" % (n, base, n)]
    subprocess.check_call(cmd, stdout=subprocess.DEVNULL)
    q, k, v = (x[n].astype(np.float64) for n in "qkv")
    s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(D)
    if causal:
        s = np.where(np.triu(np.ones((S, S), bool), 1), -np.inf, s)
    p = np.exp(s - s.max(-1, keepdims=True))
    ref = (p / p.sum(-1, keepdims=True)) @ v
    got = np.load(base + ".out/out.npy")
    err = np.abs(got - ref).max() / max(1.0, np.abs(ref).max())
    ok = got.shape == ref.shape and err <= 1e-4
    failed += not ok
    print("B%d H%d S%d D%d%s: err %.2e %s" % (B, H, S, D, " causal" if causal else "", err,
                                             "PASS" if ok else "FAIL"))
sys.exit(1 if failed else 0)
