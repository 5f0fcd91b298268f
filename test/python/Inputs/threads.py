#!/usr/bin/python3
"""The GIL is released while compiling and running: two threads compile and run a model at
once while the main thread keeps running Python code (its longest stall is far shorter than
a compile). Also checks that both threads' results match the reference."""
import os
import sys
import threading
import time

import numpy as np

import attnc

fixture = sys.argv[1]
d = os.path.join(fixture, "shapes", "2", "inputs")
ins = {f[:-4]: np.load(os.path.join(d, f)) for f in os.listdir(d)}
ref = np.load(os.path.join(fixture, "shapes", "2", "expected", "out.npy"))
results, errors, compiles = {}, [], []


def work(i):
    try:
        t0 = time.perf_counter()
        m = attnc.compile(os.path.join(fixture, "model.onnx"))
        compiles.append(time.perf_counter() - t0)
        out = None
        for _ in range(20):
            out = m(**ins)["out"]
        m.benchmark(runs=200, warmup=0, **ins)
        results[i] = out
    except Exception as e:  # noqa: BLE001
        errors.append(e)


threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
for t in threads:
    t.start()
last, stall = time.perf_counter(), 0.0
while any(t.is_alive() for t in threads):
    now = time.perf_counter()
    stall = max(stall, now - last)
    last = now
    sum(range(100))  # Python code, needs the GIL
for t in threads:
    t.join()
if errors:
    print("FAIL:", errors)
    sys.exit(1)
for i in range(2):
    err = float(np.abs(results[i] - ref).max()) / max(1.0, float(np.abs(ref).max()))
    print("thread %d: err %s" % (i, "ok" if err <= 1e-4 else err))
# Were the GIL held while compiling, the main thread would stall for a whole compile.
shortest = min(compiles)
print("shortest compile %.3f s, main thread's longest stall %.3f s" % (shortest, stall))
print("GIL released:", "yes" if stall < 0.5 * shortest else "NO")
