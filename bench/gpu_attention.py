#!/usr/bin/env python3
"""GPU attention benchmark (issue #6): attnc --target=cuda vs PyTorch's
scaled_dot_product_attention on the same GPU, in TFLOP/s.

  python3 bench/gpu_attention.py [--arch sm_90] [--reps 50] [--dtypes bf16,f16,f32] [--quick]

Shapes (B, H, S, D): (1, 16, 4096, 128) and (1, 32, 4096, 64), causal and not,
bf16 / f16 (tensor-core kernel) and f32 (SIMT kernel). Each case is an
attn.attention function (.mlir, static shapes) compiled with attnc, run by
attn-run --benchmark on float32 .npy inputs (attn-run converts them), and
checked against torch SDPA's output on the same inputs (scaled max error;
bf16 1e-2, f16 2e-3, f32 1e-4). FLOPs: 4 B H S^2 D (halved when causal).
Timings are attn-run's median of --reps runs (device time includes the
runtime's host<->device copies of the inputs and output: reported apart as
"copy-inclusive"); torch is timed with CUDA events on resident tensors.

Without a GPU it prints "SKIPPED: no GPU" and exits 0. Writes
bench/results-gpu-<date>.json (unless --no-record) for bench/RESULTS.md.
"""
import argparse
import ctypes
import datetime
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ATTNC = os.path.join(ROOT, "build", "bin", "attnc")
ATTN_RUN = os.path.join(ROOT, "build", "bin", "attn-run")
SHAPES = [(1, 16, 4096, 128), (1, 32, 4096, 64)]
TOL = {"bf16": 1e-2, "f16": 2e-3, "f32": 1e-4}


def gpu_name():
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return None
    n = ctypes.c_int(0)
    if cuda.cuInit(0) != 0 or cuda.cuDeviceGetCount(ctypes.byref(n)) != 0 or n.value == 0:
        return None
    name = ctypes.create_string_buffer(256)
    cuda.cuDeviceGetName(name, 256, 0)
    return name.value.decode()


def model(shape, dt, causal):
    b, h, s, d = shape
    t = "tensor<%dx%dx%dx%dx%s>" % (b, h, s, d, dt)
    attrs = "mask_kind = #attn.mask_kind<none>, scale = %r : f64%s" % (d ** -0.5, ", causal" if causal else "")
    return ("func.func @main_graph(%%query: %s, %%key: %s, %%value: %s) -> %s {\n"
            "  %%0 = attn.attention %%query, %%key, %%value {%s} : %s, %s, %s -> %s\n"
            "  return %%0 : %s\n}\n" % (t, t, t, t, attrs, t, t, t, t, t))


def torch_sdpa(q, k, v, dt, causal, reps):
    import torch
    tdt = {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32}[dt]
    Q, K, V = (torch.from_numpy(x).to("cuda", tdt) for x in (q, k, v))
    f = lambda: torch.nn.functional.scaled_dot_product_attention(Q, K, V, is_causal=causal)
    out = f()
    for _ in range(3):
        f()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        f()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b))
    return out.float().cpu().numpy(), float(np.median(times))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="sm_90")
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--dtypes", default="bf16,f16,f32")
    ap.add_argument("--quick", action="store_true", help="S = 1024 instead of 4096")
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    name = gpu_name()
    if not name:
        print("gpu_attention: SKIPPED: no GPU (libcuda.so.1 / device not found)")
        return 0
    rows = []
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        for shape in SHAPES:
            if args.quick:
                shape = shape[:2] + (1024,) + shape[3:]
            b, h, s, d = shape
            q, k, v = (rng.standard_normal(shape).astype(np.float32) for _ in range(3))
            for nm, x in (("query", q), ("key", k), ("value", v)):
                np.save(os.path.join(tmp, nm + ".npy"), x)
            for causal in (False, True):
                for dt in args.dtypes.split(","):
                    tag = "%s %s %s" % (shape, dt, "causal" if causal else "full")
                    src = os.path.join(tmp, "m.mlir")
                    with open(src, "w") as f:
                        f.write(model(shape, dt, causal))
                    so = os.path.join(tmp, "m.so")
                    subprocess.run([ATTNC, src, "--target=cuda:" + args.arch, "-o", so], check=True)
                    out_dir = os.path.join(tmp, "out")
                    cmd = [ATTN_RUN, so]
                    for n in ("query", "key", "value"):
                        cmd += ["--input", "%s=%s" % (n, os.path.join(tmp, n + ".npy"))]
                    subprocess.run(cmd + ["--output-dir", out_dir], check=True, capture_output=True)
                    got = np.load(os.path.join(out_dir, os.listdir(out_dir)[0])).astype(np.float32)
                    p = subprocess.run(cmd + ["--output-dir", out_dir, "--benchmark", str(args.reps), "--json"],
                                       check=True, capture_output=True, text=True)
                    ms = json.loads(p.stdout.strip().splitlines()[-1])["median_ms"]
                    ref, tms = torch_sdpa(q, k, v, dt, causal, args.reps)
                    err = float(np.abs(got - ref).max() / max(1.0, np.abs(ref).max()))
                    flops = 4.0 * b * h * s * s * d * (0.5 if causal else 1.0)
                    row = {"shape": list(shape), "dtype": dt, "causal": causal, "attnc_ms": ms,
                           "attnc_tflops": flops / ms / 1e9, "torch_sdpa_ms": tms,
                           "torch_tflops": flops / tms / 1e9, "scaled_err_vs_torch": err,
                           "within_tol": err <= TOL[dt]}
                    rows.append(row)
                    print("%-32s attnc %8.3f ms %7.1f TFLOP/s (copy-inclusive) | sdpa %8.3f ms %7.1f TFLOP/s "
                          "| err %.2e %s" % (tag, ms, row["attnc_tflops"], tms, row["torch_tflops"], err,
                                             "ok" if row["within_tol"] else "FAIL"), flush=True)
    res = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "device": name, "arch": args.arch,
           "reps": args.reps, "rows": rows}
    if not args.no_record:
        path = os.path.join(ROOT, "bench", "results-gpu-%s.json" % datetime.date.today().isoformat())
        with open(path, "w") as f:
            json.dump(res, f, indent=1)
        print("wrote", path)
    return 0 if all(r["within_tol"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
