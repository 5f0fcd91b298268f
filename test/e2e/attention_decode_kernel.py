"""Decode-shaped attention (few query rows against many keys) through attnc +
attn-run against a float64 numpy reference: the flash-decoding path (keys split
into chunks across tasks, partial max/sum/output merged) and the flash path it
falls back to (one chunk: Lk < 256, or more query rows than one block).

  attention_decode_kernel.py ATTNC ATTN_RUN TMPDIR

Lq = 1, 4, 16 queries with GQA (G = 1, 2, 4, 8), Lk = 1, 7, 300, 2000 keys,
bottom-right causal, left-padding masks (additive -inf, i64 fill_if_zero with
a finite fill, items with every key padded: NaN rows, 0 with nan_to_zero,
uniform weights with a finite fill), sliding windows, soft-capping, [B, S, H,
D] layouts, K/V read through a strided view (a slice of a longer cache,
as --kv-cache makes), and batches whose kv entries alone make enough tasks
(no key split). Extra attnc flags come from ATTNC_FLAGS.
"""
import json
import os
import sys

import numpy as np

from attention_kernel_common import compare, compile_and_run

attnc, attn_run, tmp = sys.argv[1:4]
os.makedirs(tmp, exist_ok=True)
F32_MIN = float(np.finfo(np.float32).min)

# name, B, Hq, Hkv, Lq, Lk, D, attrs, mask ("add" | "i64" | None), cache (N or 0), perms
CASES = [
    ("lq1_lk1", 1, 8, 2, 1, 1, 64, {"causal": True}, None, 0, False),
    ("lq1_lk7", 2, 8, 2, 1, 7, 64, {"causal": True}, "add", 0, False),
    ("lq1_lk300_mha", 1, 4, 4, 1, 300, 64, {"causal": True}, None, 0, False),
    ("lq1_lk2000_gqa4", 1, 8, 2, 1, 2000, 64, {"causal": True}, None, 0, False),
    ("lq1_lk2000_mqa_d128", 2, 8, 1, 1, 2000, 128, {"causal": True}, "add", 0, False),
    ("lq4_lk300_gqa2", 2, 4, 2, 4, 300, 32, {"causal": True}, "add", 0, False),
    ("lq4_lk2000_gqa4_i64", 1, 8, 2, 4, 2000, 64, {"causal": True}, "i64", 0, False),
    ("lq16_lk300_gqa2", 1, 4, 2, 16, 300, 64, {"causal": True}, None, 0, False),
    ("lq16_lk2000_gqa8", 1, 8, 1, 16, 2000, 32, {"causal": True}, "add", 0, False),
    ("lq4_lk2000_window", 1, 8, 2, 4, 2000, 64, {"causal": True, "window": 700}, None, 0, False),
    ("lq1_lk300_window_small", 2, 4, 2, 1, 300, 32, {"causal": True, "window": 50}, "add", 0, False),
    ("lq4_lk300_softcap", 1, 8, 4, 4, 300, 64, {"causal": True, "softcap": 5.0}, "add", 0, False),
    ("lq1_lk2000_nocausal", 1, 4, 2, 1, 2000, 64, {}, "add", 0, False),
    ("lq1_lk300_nan0", 3, 4, 2, 1, 300, 32, {"causal": True, "nan_to_zero": True}, "add", 0, False),
    ("lq4_lk2000_perms", 2, 4, 2, 4, 2000, 32, {"causal": True}, "add", 0, True),
    ("lq1_cache_slice", 2, 8, 2, 1, 300, 64, {"causal": True}, "add", 512, False),
    ("lq4_cache_slice_gqa4", 1, 8, 2, 4, 2000, 32, {"causal": True}, None, 2048, False),
    # split counts: 16 x 4 = 64 kv entries make enough tasks, the keys stay whole (flash path);
    # 9 x 4 = 36 entries split 2000 keys into 4 chunks of 512
    ("lq1_lk2000_b16_unsplit", 16, 8, 4, 1, 2000, 32, {"causal": True}, "add", 0, False),
    ("lq1_lk2000_b9_split", 9, 8, 4, 1, 2000, 32, {"causal": True}, "add", 0, False),
]


def reference(q, k, v, mask, kind, scale, a, Sq, Sk):
    G = q.shape[1] // k.shape[1]
    k = np.repeat(k, G, axis=1)
    v = np.repeat(v, G, axis=1)
    s = q @ k.transpose(0, 1, 3, 2) * scale
    if "softcap" in a:
        s = a["softcap"] * np.tanh(s / a["softcap"])
    if kind == "add":
        s = s + mask
    elif kind == "i64":
        s = np.where(mask == 0, F32_MIN, s)
    if a.get("causal"):
        o = Sk - Sq
        qi = np.arange(Sq)[:, None]
        ki = np.arange(Sk)[None, :]
        hide = ki > qi + o
        if "window" in a:
            hide |= ki <= qi + o - a["window"]
        s = np.where(hide, -np.inf, s)
    with np.errstate(invalid="ignore"):
        m = s.max(-1, keepdims=True)
        p = np.exp(s - m)
        r = (p / p.sum(-1, keepdims=True)) @ v
    if a.get("nan_to_zero"):
        r = np.nan_to_num(r, nan=0.0)
    return r


ty = lambda s: "tensor<%sxf32>" % "x".join(map(str, s))
failed = 0
for ci, (name, B, Hq, Hkv, Sq, Sk, D, a, mkind, cache, perms) in enumerate(CASES):
    base = os.path.join(tmp, name)
    scale = float(1.0 / np.sqrt(D))
    if perms:  # stored [B, S, H, D]
        qst, kst = [B, Sq, Hq, D], [B, Sk, Hkv, D]
    else:
        qst, kst = [B, Hq, Sq, D], [B, Hkv, Sk, D]
    kin = [B, Hkv, cache, D] if cache else kst  # the cache the model slices
    mshape = [B, 1, 1, Sk]
    inputs = [("q", qst, "f32"), ("k", kin, "f32"), ("v", kin, "f32")]
    if mkind:
        inputs.append(("m", mshape, "i64" if mkind == "i64" else "f32"))
    sig = {"inputs": [{"name": n, "dtype": d, "shape": s} for n, s, d in inputs],
           "outputs": [{"name": "out", "dtype": "f32", "shape": qst}]}
    text = json.dumps(sig, separators=(",", ":")).replace('"', '\\"')
    attrs = ["scale = %r : f64" % scale]
    if mkind == "add":
        attrs.append("mask_kind = #attn.mask_kind<additive>")
    elif mkind == "i64":
        attrs += ["mask_kind = #attn.mask_kind<fill_if_zero>", "fill_value = %r : f64" % F32_MIN]
    else:
        attrs.append("mask_kind = #attn.mask_kind<none>")
    if a.get("causal"):
        attrs += ["causal", "causal_align = #attn.causal_align<bottom_right>"]
    if "window" in a:
        attrs.append("window = %d : i64" % a["window"])
    if "softcap" in a:
        attrs.append("softcap = %r : f64" % a["softcap"])
    if a.get("nan_to_zero"):
        attrs.append("nan_to_zero")
    if perms:
        p = "array<i64: 0, 2, 1, 3>"
        attrs += ["query_perm = " + p, "key_perm = " + p, "value_perm = " + p, "result_perm = " + p]
    mty = "tensor<%sx%s>" % ("x".join(map(str, mshape)), "i64" if mkind == "i64" else "f32")
    args = ", ".join("%%%s: %s" % (n, mty if n == "m" else ty(s)) for n, s, _ in inputs)
    body = ""
    kk, vv = "%k", "%v"
    if cache:
        for n in "kv":
            body += ("    %%%ss = tensor.extract_slice %%%s[0, 0, 0, 0] [%d, %d, %d, %d] [1, 1, 1, 1] : %s to %s\n"
                     % (n, n, B, Hkv, Sk, D, ty(kin), ty(kst)))
        kk, vv = "%ks", "%vs"
    mpart = " mask(%%m : %s)" % mty if mkind else ""
    with open(base + ".mlir", "w") as f:
        f.write('module attributes {attn.signature = "%s"} {\n'
                '  func.func @main_graph(%s) -> %s {\n%s'
                '    %%0 = attn.attention %%q, %s, %s%s {%s} : %s, %s, %s -> %s\n'
                '    return %%0 : %s\n  }\n}\n'
                % (text, args, ty(qst), body, kk, vv, mpart, ", ".join(attrs), ty(qst), ty(kst),
                   ty(kst), ty(qst), ty(qst)))
    rng = np.random.default_rng(100 + ci)
    x = {n: (rng.standard_normal(s) * 2).astype(np.float32) for n, s, _ in inputs if n != "m"}
    if mkind:
        # Left padding: item b has its first pad[b] keys padded; the last item
        # (of several) is padded entirely.
        pad = rng.integers(0, max(1, Sk // 3), size=B)
        if B > 1:
            pad[-1] = Sk
        keep = np.arange(Sk)[None, :] >= pad[:, None]
        if mkind == "i64":
            x["m"] = keep.astype(np.int64).reshape(mshape)
        else:
            x["m"] = np.where(keep, 0.0, -np.inf).astype(np.float32).reshape(mshape)
    got = compile_and_run(attnc, attn_run, base, x)
    lg = (lambda t: t.transpose(0, 2, 1, 3)) if perms else (lambda t: t)
    q = lg(x["q"]).astype(np.float64)
    k, v = (lg(x[n][:, :, :Sk] if cache else x[n]).astype(np.float64) for n in "kv")
    ref = reference(q, k, v, x["m"] if mkind else None, mkind, scale, a, Sq, Sk)
    ok, line = compare(name, lg(got), ref)
    failed += not ok
    print(line)
sys.exit(1 if failed else 0)
