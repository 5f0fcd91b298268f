"""attn.attention's decoder-LLM semantics through attnc + attn-run against a
float64 numpy reference: grouped-query attention (G = 2, 4 and multi-query),
bottom-right causal alignment (Sq < Sk, decode Sq = 1, Sq > Sk: rows that see
no key), sliding windows smaller and larger than the sequence, logit
soft-capping, per-head masks under GQA and [B, S, H, D] layouts.

  attention_llm_kernel.py ATTNC ATTN_RUN TMPDIR

D = 12 takes the generic tiled lowering (the register-blocked kernel needs
Dv a multiple of its tile), every other case the flash kernel. Extra attnc
flags come from ATTNC_FLAGS (e.g. --mcpu=x86-64-v3).
"""
import json
import os
import sys

import numpy as np

from attention_kernel_common import compare, compile_and_run

attnc, attn_run, tmp = sys.argv[1:4]
os.makedirs(tmp, exist_ok=True)

# name: B, Hq, Hkv, Sq, Sk, D, attrs (dict), mask (None | (shape)), perms, amplitude
CASES = [
    ("gqa2", 2, 4, 2, 37, 37, 32, {}, None, False, 2.0),
    ("gqa4_causal", 1, 8, 2, 100, 100, 64, {"causal": True}, None, False, 2.0),
    ("mqa_decode_br", 2, 4, 1, 1, 70, 64, {"causal": True, "align": "bottom_right"}, None, False, 2.0),
    ("br_sq_lt_sk", 1, 2, 2, 20, 75, 32, {"causal": True, "align": "bottom_right"}, None, False, 2.0),
    ("br_sq_gt_sk_nan0", 1, 2, 2, 30, 10, 32,
     {"causal": True, "align": "bottom_right", "nan_to_zero": True}, None, False, 2.0),
    ("window16", 1, 2, 2, 300, 300, 64, {"causal": True, "window": 16}, None, False, 2.0),
    ("window_gt_s", 1, 2, 1, 50, 50, 32, {"causal": True, "window": 200}, None, False, 2.0),
    ("window_br_gqa_decode", 2, 8, 2, 5, 130, 64,
     {"causal": True, "align": "bottom_right", "window": 40}, None, False, 2.0),
    ("window_d128", 1, 4, 1, 200, 200, 128, {"causal": True, "window": 70}, None, False, 2.0),
    ("softcap", 1, 2, 2, 45, 45, 32, {"softcap": 5.0}, None, False, 6.0),
    ("softcap_mask_causal_gqa", 2, 4, 2, 33, 33, 32, {"softcap": 20.0, "causal": True},
     (2, 4, 33, 33), False, 6.0),
    ("gqa_headmask", 2, 6, 3, 17, 29, 32, {}, (2, 6, 17, 29), False, 2.0),
    ("gqa_perms_br", 2, 4, 2, 9, 41, 32, {"causal": True, "align": "bottom_right"},
     (2, 1, 1, 41), True, 2.0),
    ("generic_gqa_window_softcap", 1, 4, 2, 40, 60, 12,
     {"causal": True, "align": "bottom_right", "window": 9, "softcap": 4.0}, (1, 4, 40, 60), False, 3.0),
    ("generic_mqa_decode", 3, 4, 1, 1, 23, 12, {"causal": True, "align": "bottom_right"}, None, False, 2.0),
]


def reference(q, k, v, mask, scale, a, Sq, Sk):
    G = q.shape[1] // k.shape[1]
    k = np.repeat(k, G, axis=1)
    v = np.repeat(v, G, axis=1)
    s = q @ k.transpose(0, 1, 3, 2) * scale
    if "softcap" in a:
        s = a["softcap"] * np.tanh(s / a["softcap"])
    if mask is not None:
        s = s + mask
    if a.get("causal"):
        o = Sk - Sq if a.get("align") == "bottom_right" else 0
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


failed = 0
for ci, (name, B, Hq, Hkv, Sq, Sk, D, a, mshape, perms, amp) in enumerate(CASES):
    base = os.path.join(tmp, name)
    scale = float(1.0 / np.sqrt(D))
    qs, ks = [B, Hq, Sq, D], [B, Hkv, Sk, D]
    if perms:  # stored [B, S, H, D]
        qst, kst = [B, Sq, Hq, D], [B, Sk, Hkv, D]
    else:
        qst, kst = qs, ks
    ty = lambda s: "tensor<%sxf32>" % "x".join(map(str, s))
    inputs = [("q", qst), ("k", kst), ("v", kst)] + ([("m", list(mshape))] if mshape else [])
    sig = {"inputs": [{"name": n, "dtype": "f32", "shape": s} for n, s in inputs],
           "outputs": [{"name": "out", "dtype": "f32", "shape": qst}]}
    text = json.dumps(sig, separators=(",", ":")).replace('"', '\\"')
    attrs = ["scale = %r : f64" % scale,
             "mask_kind = #attn.mask_kind<%s>" % ("additive" if mshape else "none")]
    if a.get("causal"):
        attrs.append("causal")
    if "align" in a:
        attrs.append("causal_align = #attn.causal_align<%s>" % a["align"])
    if "window" in a:
        attrs.append("window = %d : i64" % a["window"])
    if "softcap" in a:
        attrs.append("softcap = %r : f64" % a["softcap"])
    if a.get("nan_to_zero"):
        attrs.append("nan_to_zero")
    if perms:
        p = "array<i64: 0, 2, 1, 3>"
        attrs += ["query_perm = " + p, "key_perm = " + p, "value_perm = " + p, "result_perm = " + p]
    args = ", ".join("%%%s: %s" % (n, ty(s)) for n, s in inputs)
    mpart = " mask(%%m : %s)" % ty(mshape) if mshape else ""
    with open(base + ".mlir", "w") as f:
        f.write('module attributes {attn.signature = "%s"} {\n'
                '  func.func @main_graph(%s) -> %s {\n'
                '    %%0 = attn.attention %%q, %%k, %%v%s {%s} : %s, %s, %s -> %s\n'
                '    return %%0 : %s\n  }\n}\n'
                % (text, args, ty(qst), mpart, ", ".join(attrs), ty(qst), ty(kst), ty(kst), ty(qst),
                   ty(qst)))
    rng = np.random.default_rng(ci)
    x = {n: (rng.standard_normal(s) * amp).astype(np.float32) for n, s in inputs}
    if mshape:
        m = rng.standard_normal(mshape).astype(np.float32)
        m[rng.random(mshape) < 0.2] = -np.inf
        x["m"] = m
    got = compile_and_run(attnc, attn_run, base, x)
    lg = (lambda t: t.transpose(0, 2, 1, 3)) if perms else (lambda t: t)
    q, k, v = (lg(x[n]).astype(np.float64) for n in "qkv")
    ref = reference(q, k, v, x["m"].astype(np.float64) if mshape else None, scale, a, Sq, Sk)
    ok, line = compare(name, lg(got), ref)
    failed += not ok
    print(line)
sys.exit(1 if failed else 0)
