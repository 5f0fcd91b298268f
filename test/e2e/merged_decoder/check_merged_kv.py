#!/usr/bin/python3
"""merged_decoder_kv_cache.test: the merged decoder compiled with --kv-cache (use_cache_branch fixed to
true, the with-past branch kept) against onnxruntime's outputs of the merged file on every committed set
(cases.json), numpy only.

  check_merged_kv.py ATTN_RUN DRIVER KV_LIB WORK_DIR

DRIVER is test/e2e/Inputs/kv_cache_driver.c built (it writes the inputs after the call, in.<name>.npy).
Per set (B, T new tokens, P past positions): caches [B, H, N, D] full of NaN with rows [0, P) = the set's
past, past_sequence_length = P. Sets with use_cache_branch = False (P = 0) compare the with-past branch
on an empty cache with ORT's NO-past branch: the soundness condition of fixing the flag. Checked: logits
== ORT's, cache rows [0, P+T) == ORT's presents, every other cache element bit-identical (NaN stays),
input_ids / attention_mask unchanged; metric max|got-ref| / max(1, max|ref|) <= 1e-4."""
import json
import os
import subprocess
import sys

import numpy as np

attn_run, driver, lib, work = sys.argv[1:5]
here = os.path.dirname(os.path.abspath(__file__))
cases = json.load(open(os.path.join(here, "cases.json")))
sig = json.loads(subprocess.check_output(
    [attn_run, lib, "--signature", "--json"], text=True).strip().splitlines()[-1])
kv = sig["kv_cache"]
names = [i["name"] for i in sig["inputs"]]
assert "use_cache_branch" not in names, names
N = kv["max_len"]
failed = 0


def err(got, ref):
    if got.shape != ref.shape:
        return np.inf
    if ref.size == 0:
        return 0.0
    return np.abs(got.astype(np.float64) - ref).max() / max(1.0, np.abs(ref).max())


for k, s in enumerate(cases["sets"]):
    d = os.path.join(here, "sets", str(k))
    out = os.path.join(work, "set%d" % k)
    os.makedirs(out, exist_ok=True)
    P = s["past"]
    args = []
    before = {}
    for n in ("input_ids", "attention_mask"):
        args.append("%s=%s" % (n, os.path.join(d, "inputs", n + ".npy")))
    for c in kv["caches"]:
        past = np.load(os.path.join(d, "inputs", c["input"] + ".npy"))
        cache = np.full(past.shape[:2] + (N,) + past.shape[3:], np.nan, np.float32)
        cache[:, :, :P] = past
        before[c["input"]] = cache
        f = os.path.join(out, "cache." + c["input"] + ".npy")
        np.save(f, cache)
        args.append("%s=%s" % (c["input"], f))
    f = os.path.join(out, "past_sequence_length.npy")
    np.save(f, np.array(P, np.int64))
    args.append("%s=%s" % (kv["past_length_input"], f))
    r = subprocess.run([driver, lib, out] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode:
        print("set %d: FAIL driver: %s" % (k, r.stdout))
        failed += 1
        continue
    T = s["seq"]
    e_logits = err(np.load(os.path.join(out, "logits.npy")), np.load(os.path.join(d, "expected", "logits.npy")))
    e_cache, untouched = 0.0, True
    for c in kv["caches"]:
        after = np.load(os.path.join(out, "in." + c["input"] + ".npy"))
        present = np.load(os.path.join(d, "expected", c["output"] + ".npy"))
        e_cache = max(e_cache, err(after[:, :, :P + T], present))
        same = after.view(np.uint32) == before[c["input"]].view(np.uint32)
        untouched &= bool(same[:, :, :P].all() and same[:, :, P + T:].all())
    borrowed = all(np.array_equal(np.load(os.path.join(out, "in.%s.npy" % n)),
                                  np.load(os.path.join(d, "inputs", n + ".npy")))
                   for n in ("input_ids", "attention_mask"))
    ok = e_logits <= 1e-4 and e_cache <= 1e-4 and untouched and borrowed
    failed += not ok
    print("set %d (use_cache_branch=%s P=%d T=%d): logits err %.2e, cache err %.2e, other rows untouched %s, "
          "inputs unchanged %s: %s" % (k, s["use_cache_branch"], P, T, e_logits, e_cache, untouched, borrowed,
                                      "PASS" if ok else "FAIL"))
sys.exit(1 if failed else 0)
