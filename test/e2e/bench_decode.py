"""Checks the pieces of bench/decode.py that need neither torch nor ORT:
the decode-attention model it writes (one query per (group, head) against a
K/V of C positions, grouped-query heads) compiled by attnc and run by attn-run
against a float64 numpy reference, and bench/stream_triad.c (built with
clang -fopenmp when one with omp.h is there, on small arrays: its self-check)."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np

src, attnc, attn_run, tmp = sys.argv[1:5]
sys.path.insert(0, os.path.join(src, "bench"))
import decode  # noqa: E402  (standard library only at import time)

EXTRA = os.environ.get("ATTNC_FLAGS", "").split()
os.makedirs(tmp, exist_ok=True)
failed = 0
for i, (G, H, KV, C, D) in enumerate([(2, 12, 4, 37, 64), (3, 4, 4, 5, 32), (1, 8, 1, 300, 64)]):
    base = os.path.join(tmp, "attn%d" % i)
    decode.attention_mlir(base + ".mlir", G, H, KV, C, D)
    subprocess.check_call([attnc, base + ".mlir", "-o", base + ".so"] + EXTRA)
    rng = np.random.default_rng(i)
    x = {"q": rng.standard_normal((G, H, 1, D)).astype(np.float32),
         "k": rng.standard_normal((G, KV, C, D)).astype(np.float32),
         "v": rng.standard_normal((G, KV, C, D)).astype(np.float32)}
    cmd = [attn_run, base + ".so", "--output-dir", base + ".out"]
    for n, a in x.items():
        np.save("%s.%s.npy" % (base, n), a)
        cmd += ["--input", "%s=%s.%s.npy" % (n, base, n)]
    subprocess.check_call(cmd, stdout=subprocess.DEVNULL)
    q = x["q"].astype(np.float64)
    k = np.repeat(x["k"].astype(np.float64), H // KV, axis=1)
    v = np.repeat(x["v"].astype(np.float64), H // KV, axis=1)
    s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(D)
    p = np.exp(s - s.max(-1, keepdims=True))
    ref = (p / p.sum(-1, keepdims=True)) @ v
    got = np.load(os.path.join(base + ".out", "out.npy"))
    err = float(np.abs(got - ref).max() / max(1.0, np.abs(ref).max()))
    ok = got.shape == ref.shape and err <= 1e-4
    failed += not ok
    print("decode attention G%d H%d KV%d C%d D%d: err %.2e %s" % (G, H, KV, C, D, err, "OK" if ok else "FAIL"))

cc = next((c for c in ("clang-22", "clang", "cc") if shutil.which(c) and subprocess.run(
    [c, "-O2", "-fopenmp", os.path.join(src, "bench", "stream_triad.c"), "-o", os.path.join(tmp, "triad")],
    capture_output=True).returncode == 0), None)
if cc is None:
    print("stream_triad: no C compiler with OpenMP here: not built")
else:
    out = subprocess.run([os.path.join(tmp, "triad"), "4", "3"], capture_output=True, text=True)
    j = json.loads(out.stdout.strip().splitlines()[-1])
    ok = out.returncode == 0 and j["check"] is True and j["triad_gbs"] > 0 and j["mib_per_array"] == 4
    failed += not ok
    print("stream_triad: %s" % ("OK" if ok else "FAIL " + out.stdout + out.stderr))
    bad = subprocess.run([os.path.join(tmp, "triad"), "0"], capture_output=True, text=True)
    ok = bad.returncode == 1 and "usage" in bad.stderr
    failed += not ok
    print("stream_triad bad args: %s" % ("OK" if ok else "FAIL"))
print("FAILED" if failed else "ALL OK")
sys.exit(1 if failed else 0)
