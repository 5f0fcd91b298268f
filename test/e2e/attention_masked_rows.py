"""Compiles single-attention models with causal_fill / nan_to_zero (the forms
attn-fuse-attention makes of Hugging Face's eager masks and of PyTorch's SDPA
export) with attnc, runs them with attn-run on left-padded masks (rows whose
keys up to the diagonal are all padding, items with every key padded) and
compares with the unfused graph computed in float32 with numpy:

  eager: softmax(q.k^T * scale + where(causal & pad, 0, finfo.min)) . v
  sdpa:  p = softmax(q.k^T * scale + where(causal & pad, 0, -inf)); where(isnan(p), 0, p) . v

Head dim 8 takes the generic loop lowering, 64 (and 32) the vector kernel;
S = 100 and 130 exceed the kernel's 48-row query blocks, so causal key-block
skipping meets fully masked rows (their skipped keys must still count).

usage: attention_masked_rows.py ATTNC ATTN_RUN TMPDIR
"""
import json
import os
import subprocess
import sys

import numpy as np

attnc, attn_run, tmp = sys.argv[1:4]
os.makedirs(tmp, exist_ok=True)
F32_MIN = float(np.finfo(np.float32).min)

# B, H, S, D, form
cases = [
    (3, 2, 5, 8, "eager"),
    (3, 2, 100, 64, "eager"),
    (2, 1, 130, 32, "eager"),
    (1, 1, 1, 8, "eager"),
    (3, 2, 7, 8, "sdpa"),
    (3, 2, 100, 64, "sdpa"),
    (3, 2, 9, 8, "sdpa_padding"),
    (3, 2, 70, 64, "sdpa_padding"),
]


def write_model(path, B, H, S, D, form):
    t = "tensor<%dx%dx%dx%dxf32>" % (B, H, S, D)
    mt = "tensor<%dx1x1x%dxf32>" % (B, S)
    shape = [B, H, S, D]
    sig = {"inputs": [{"name": n, "dtype": "f32", "shape": shape} for n in "qkv"] +
           [{"name": "mask", "dtype": "f32", "shape": [B, 1, 1, S]}],
           "outputs": [{"name": "out", "dtype": "f32", "shape": shape}]}
    sig_text = json.dumps(sig, separators=(",", ":")).replace('"', '\\"')
    attrs = {"eager": "causal, causal_fill = %r : f64" % F32_MIN,
             "sdpa": "causal, nan_to_zero",
             "sdpa_padding": "nan_to_zero"}[form]
    with open(path, "w") as f:
        f.write('''module attributes {attn.signature = "%s"} {
  func.func @main_graph(%%q: %s, %%k: %s, %%v: %s, %%m: %s) -> %s {
    %%0 = attn.attention %%q, %%k, %%v mask(%%m : %s) {%s, mask_kind = #attn.mask_kind<additive>, scale = %r : f64} : %s, %s, %s -> %s
    return %%0 : %s
  }
}
''' % (sig_text, t, t, t, mt, t, mt, attrs, 1.0 / np.sqrt(D), t, t, t, t, t))


def reference(q, k, v, keep, form, scale):
    S = q.shape[2]
    causal = np.tril(np.ones((S, S), bool)) if form != "sdpa_padding" else np.ones((S, S), bool)
    allowed = causal[None, None] & keep[:, None, None, :]
    fill = np.float32(F32_MIN) if form == "eager" else np.float32(-np.inf)
    with np.errstate(all="ignore"):
        s = (q @ k.transpose(0, 1, 3, 2)) * np.float32(scale) + np.where(allowed, np.float32(0), fill)
        m = s.max(-1, keepdims=True)
        e = np.exp(s - m)
        p = e / e.sum(-1, keepdims=True)
        if form != "eager":
            p = np.where(np.isnan(p), np.float32(0), p)
    return p @ v


failed = 0
for i, (B, H, S, D, form) in enumerate(cases):
    base = os.path.join(tmp, "case%d" % i)
    write_model(base + ".mlir", B, H, S, D, form)
    subprocess.check_call([attnc, base + ".mlir", "-o", base + ".so"])
    rng = np.random.default_rng(i)
    x = {n: (rng.standard_normal((B, H, S, D)) * 2).astype(np.float32) for n in "qkv"}
    keep = np.ones((B, S), bool)
    keep[0, :min(3, S - 1)] = False          # left padding
    if B > 1:
        keep[1, :max(S - 2, 0)] = False      # most rows fully masked up to the diagonal
    if B > 2:
        keep[2, :] = False                   # every key padded
    pad_value = np.float32(F32_MIN) if form == "eager" else np.float32(-np.inf)
    x["mask"] = np.where(keep, np.float32(0), pad_value)[:, None, None, :].astype(np.float32)
    cmd = [attn_run, base + ".so", "--output-dir", base + ".out"]
    for n, a in x.items():
        np.save(base + "." + n + ".npy", a)
        cmd += ["--input", "%s=%s.%s.npy" % (n, base, n)]
    subprocess.check_call(cmd, stdout=subprocess.DEVNULL)
    ref = reference(x["q"], x["k"], x["v"], keep, form, 1.0 / np.sqrt(D))
    got = np.load(base + ".out/out.npy")
    same_nan = np.array_equal(np.isnan(got), np.isnan(ref))
    fin = ~np.isnan(ref)
    err = np.abs(got[fin] - ref[fin]).max() / max(1.0, np.abs(ref[fin]).max())
    ok = got.shape == ref.shape and same_nan and err <= 1e-4 and not np.isnan(ref).any()
    failed += not ok
    print("B%d H%d S%d D%d %s: err %.2e%s %s" % (B, H, S, D, form, err,
                                              "" if same_nan else " (NaN positions differ)",
                                              "PASS" if ok else "FAIL"))
sys.exit(1 if failed else 0)
