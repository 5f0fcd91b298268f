#!/usr/bin/env python3
"""Prefill of any with-past decoder export, attnc beside ONNX Runtime on the same file (issue #14/#15).

  python3 bench/prefill_export.py --model PATH/model.onnx [--baseline-attnc OLD_ATTNC] [--record]

For exports made outside bench/run.py's own exporter, e.g. Hugging Face Optimum's (`optimum-cli export onnx
--task text-generation-with-past`, which needs transformers < 4.58: see scripts/gen_optimum_fixtures.py for
the venv). The prompt runs with an empty past (past_sequence_length 0: every past input [B, kv_heads, 0, D]),
all-ones attention_mask, position_ids 0..S-1, random input_ids, at batch 1 x 512 and batch 4 x 128 tokens
(--shapes). attnc: `attnc MODEL -o lib.so`, then `attn-run --benchmark N` (min and median of N runs after a
warm-up); ORT: an InferenceSession (intra_op threads = --threads), N runs after one warm-up. The sides
alternate --rounds times; --baseline-attnc adds a second attnc (an older build) to the same alternation.
Logits are compared with ORT's (max|got-ref| / max(1, max|ref|)). --record appends a section to
bench/RESULTS.md with the machine (lscpu) and the load.
"""
import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def lscpu():
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    get = lambda k: (re.search(r"^%s:\s*(.*)$" % re.escape(k), out, re.M) or [None, "?"])[1]
    flags = get("Flags").split()
    return "%s, %s CPUs, avx2=%s, avx512f=%s" % (get("Model name"), get("CPU(s)"), "avx2" in flags,
                                                 "avx512f" in flags)


def inputs_for(model_path, B, S, rng):
    import onnx
    m = onnx.load(model_path, load_external_data=False)
    feeds = {}
    for i in m.graph.input:
        dims = [d.dim_value if d.HasField("dim_value") else None for d in i.type.tensor_type.shape.dim]
        n = i.name
        if n == "input_ids":
            feeds[n] = rng.integers(0, 1000, (B, S)).astype(np.int64)
        elif n == "attention_mask":
            feeds[n] = np.ones((B, S), np.int64)
        elif n == "position_ids":
            feeds[n] = np.tile(np.arange(S, dtype=np.int64), (B, 1))
        elif "past" in n:
            feeds[n] = np.zeros((B, dims[1], 0, dims[3]), np.float32)
        else:
            raise SystemExit("prefill_export.py: unknown input %r" % n)
    return feeds


def save_inputs(feeds, d):
    """Writes the inputs as .npy files in d; returns attn-run's --input arguments."""
    os.makedirs(d, exist_ok=True)
    args = []
    for k, v in feeds.items():
        p = os.path.join(d, k + ".npy")
        np.save(p, v)
        args += ["--input", "%s=%s" % (k, p)]
    return args


def attnc_time(lib, args, runs, threads):
    p = subprocess.run([os.path.join(ROOT, "build/bin/attn-run"), lib, *args, "--benchmark", str(runs), "--json",
                        "--threads", str(threads)], capture_output=True, text=True, check=True)
    j = json.loads(p.stdout.strip().splitlines()[-1])
    return j["min_ms"], j["median_ms"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--baseline-attnc")
    ap.add_argument("--shapes", default="1x512,4x128")
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--record", action="store_true")
    a = ap.parse_args()
    import onnxruntime as ort
    work = tempfile.mkdtemp(prefix="attnc-prefill-")
    sides = {"attnc": os.path.join(ROOT, "build/bin/attnc")}
    if a.baseline_attnc:
        sides["attnc (baseline)"] = a.baseline_attnc
    libs, compile_s = {}, {}
    for name, exe in sides.items():
        libs[name] = os.path.join(work, "%d.so" % len(libs))
        t = time.time()
        subprocess.run([exe, a.model, "-o", libs[name]], check=True)
        compile_s[name] = time.time() - t
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    load0 = os.getloadavg()
    rows = []
    rng = np.random.default_rng(0)
    for shape in a.shapes.split(","):
        B, S = map(int, shape.split("x"))
        feeds = inputs_for(a.model, B, S, rng)
        ref = sess.run(["logits"], feeds)[0]
        res = {k: [] for k in list(sides) + ["ORT"]}
        errs = {}
        for name in sides:
            d = os.path.join(work, "out-%s-%s" % (shape, len(errs)))
            subprocess.run([os.path.join(ROOT, "build/bin/attn-run"), libs[name], *save_inputs(feeds, d),
                            "--output-dir", d], check=True, capture_output=True)
            got = np.load(os.path.join(d, "logits.npy"))
            errs[name] = float(np.abs(got - ref).max() / max(1.0, np.abs(ref).max()))
        args = save_inputs(feeds, os.path.join(work, "in-" + shape))
        for _ in range(a.rounds):
            for name in sides:
                res[name].append(attnc_time(libs[name], args, a.runs, a.threads))
            ts = []
            for _ in range(a.runs):
                t = time.perf_counter()
                sess.run(["logits"], feeds)
                ts.append((time.perf_counter() - t) * 1e3)
            res["ORT"].append((min(ts), float(np.median(ts))))
        for name, r in res.items():
            rows.append({"shape": shape, "impl": name, "min_ms": min(x[0] for x in r),
                         "median_ms": min(x[1] for x in r), "err": errs.get(name)})
    load1 = os.getloadavg()
    hdr = "| shape | impl | min ms | best median ms | vs ORT (median) | err vs ORT |\n|---|---|---|---|---|---|"
    lines = [hdr]
    for r in rows:
        ortm = next(x["median_ms"] for x in rows if x["shape"] == r["shape"] and x["impl"] == "ORT")
        lines.append("| %s | %s | %.1f | %.1f | %s | %s |" % (
            r["shape"], r["impl"], r["min_ms"], r["median_ms"],
            "" if r["impl"] == "ORT" else "%.2fx" % (ortm / r["median_ms"]),
            "ref" if r["err"] is None else "%.1e" % r["err"]))
    table = "\n".join(lines)
    print(table)
    if a.record:
        git = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True).stdout.strip()
        sec = ["", "## Prefill of an exported decoder (`bench/prefill_export.py`), %s (git %s)" % (
            datetime.datetime.now().strftime("%Y-%m-%dT%H:%M:%S"), git), "",
               "- Machine (lscpu): %s; threads %d for every side; load %.2f before, %.2f after" % (
                   lscpu(), a.threads, load0[0], load1[0]),
               "- Model: `%s` (%d MB); compile: %s; onnxruntime %s; %d rounds x %d runs, alternating" % (
                   a.model, os.path.getsize(a.model) // 2**20,
                   ", ".join("%s %.1f s" % (k, v) for k, v in compile_s.items()), ort.__version__,
                   a.rounds, a.runs), "", table, ""]
        with open(os.path.join(ROOT, "bench", "RESULTS.md"), "a") as f:
            f.write("\n".join(sec) + "\n")


if __name__ == "__main__":
    sys.exit(main())
