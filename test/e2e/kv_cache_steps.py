#!/usr/bin/python3
"""A --kv-cache library against the plain with-past library of the same export, step by step.

  kv_cache_steps.py --plain P.so --kv K.so --driver kv_cache_driver --runner attn-run --work DIR
                    [--steps 5,1,3,1] [--batch 2] [--pad 0,2] [--seed 0]

Step k feeds T_k random tokens (the first step's rows left-padded by --pad, mask 0 there). The plain
library (attn-run) gets the previous step's present outputs as its past inputs (0 positions first);
the kv library (test/e2e/Inputs/kv_cache_driver.c, which writes the inputs back after the call) gets
its caches from the previous call, past_sequence_length = P, and at step 0 caches full of NaN: a
read of a row the model has not written shows up as NaN in the logits. position_ids (when the model
has them) as Hugging Face's generate() computes them. Per step:
  * logits equal the plain library's at real positions (mask 1): max|got-ref| / max(1, max|ref|) <= 1e-4;
  * cache rows [0, P+T) equal the plain library's present outputs (same metric), and every other
    element of every cache is bit-identical to what was passed in (nothing else is written);
  * the other inputs are unchanged.
Prints one line per step; exit 1 on any failure.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

TOL = 1e-4


def err(got, ref):
    if ref.size == 0:
        return 0.0
    return float(np.abs(got.astype(np.float64) - ref).max()) / max(1.0, float(np.abs(ref).max()))


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.exit("FAIL: %s\n%s%s" % (" ".join(cmd), p.stdout, p.stderr))
    return p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--plain", required=True)
    ap.add_argument("--kv", required=True)
    ap.add_argument("--driver", required=True)
    ap.add_argument("--runner", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--steps", default="5,1,3,1")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--pad", default="")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    os.makedirs(a.work, exist_ok=True)

    sig = json.loads(run([a.runner, a.kv, "--signature", "--json"]).strip().splitlines()[-1])
    kv = sig.get("kv_cache")
    if not kv:
        sys.exit("FAIL: %s has no \"kv_cache\" in its signature" % a.kv)
    n = kv["max_len"]
    pairs = [(c["input"], c["output"]) for c in kv["caches"]]
    inputs = {i["name"]: i for i in sig["inputs"]}
    vocab = sig["outputs"][0]["shape"][-1]
    B = a.batch
    pads = [int(x) for x in a.pad.split(",")] if a.pad else [0] * B
    steps = [int(x) for x in a.steps.split(",")]

    caches = {}
    for name, _ in pairs:
        shape = inputs[name]["shape"]
        caches[name] = np.full((B, shape[1], n, shape[3]), np.nan, np.float32)
    presents = {out: np.zeros((B, inputs[name]["shape"][1], 0, inputs[name]["shape"][3]), np.float32)
                for name, out in pairs}
    mask = np.zeros((B, 0), np.int64)
    ok = True
    P = 0
    for k, T in enumerate(steps):
        d = os.path.join(a.work, "step%d" % k)
        os.makedirs(os.path.join(d, "plain"), exist_ok=True)
        os.makedirs(os.path.join(d, "kv"), exist_ok=True)
        ids = rng.integers(1, vocab, (B, T), dtype=np.int64)
        new_mask = np.ones((B, T), np.int64)
        if k == 0:
            for b, p in enumerate(pads):
                new_mask[b, :p] = 0
                ids[b, :p] = 0
        mask = np.concatenate([mask, new_mask], 1)
        pos = np.cumsum(mask, -1) - 1
        pos = np.where(mask == 0, 1, pos)[:, P:]
        feed = {"input_ids": ids, "attention_mask": mask, "position_ids": pos}
        files = {}
        for name, arr in feed.items():
            if name in inputs:
                files[name] = os.path.join(d, name + ".npy")
                np.save(files[name], arr)
        plain_args, kv_args = [], []
        for name, f in files.items():
            plain_args += ["--input", "%s=%s" % (name, f)]
            kv_args.append("%s=%s" % (name, f))
        for name, out in pairs:
            f = os.path.join(d, "past." + name + ".npy")
            np.save(f, presents[out])
            plain_args += ["--input", "%s=%s" % (name, f)]
            f = os.path.join(d, "cache." + name + ".npy")
            np.save(f, caches[name])
            kv_args.append("%s=%s" % (name, f))
        f = os.path.join(d, "past_sequence_length.npy")
        np.save(f, np.array(P, np.int64))
        kv_args.append("%s=%s" % (kv["past_length_input"], f))
        run([a.runner, a.plain] + plain_args + ["--output-dir", os.path.join(d, "plain")])
        run([a.driver, a.kv, os.path.join(d, "kv")] + kv_args)

        ref = np.load(os.path.join(d, "plain", "logits.npy"))
        got = np.load(os.path.join(d, "kv", "logits.npy"))
        real = mask[:, P:] != 0
        e_logits = err(got[real], ref[real]) if got.shape == ref.shape else float("inf")
        e_cache, untouched, borrowed = 0.0, True, True
        for name, out in pairs:
            present = np.load(os.path.join(d, "plain", out.replace("/", "_") + ".npy"))
            after = np.load(os.path.join(d, "kv", "in." + name + ".npy"))
            before = caches[name]
            if present.shape[2] != P + T or after.shape != before.shape:
                e_cache = float("inf")
                continue
            e_cache = max(e_cache, err(after[:, :, :P + T], present))
            if not np.isfinite(after[:, :, :P + T]).all():
                e_cache = float("inf")
            # rows [0, P) and [P+T, N) are not written: bit-identical
            same = after.view(np.uint32) == before.view(np.uint32)
            untouched &= bool(same[:, :, :P].all() and same[:, :, P + T:].all())
            caches[name] = after
            presents[out] = present
        for name, arr in feed.items():
            if name in inputs:
                borrowed &= bool(np.array_equal(np.load(os.path.join(d, "kv", "in." + name + ".npy")), arr))
        good = e_logits <= TOL and e_cache <= TOL and untouched and borrowed
        ok &= good
        print("step %d: P=%d T=%d logits err %.3g, cache err %.3g, other rows untouched %s, inputs unchanged %s: %s"
              % (k, P, T, e_logits, e_cache, untouched, borrowed, "PASS" if good else "FAIL"))
        P += T
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
