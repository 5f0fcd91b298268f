"""The CPU attention kernel's decode path (Sq <= 4 query positions x the kv
group's heads <= one query block, K's head dim contiguous: K and V rows read
in place, no Kᵀ pack) through attnc + attn-run, against a float64 numpy
reference of attn.attention's semantics (AttnOps.td).

  decode_attention_kernel.py ATTNC ATTN_RUN TMPDIR

Sq = 1..4; GQA groups G = 1, 2, 4, 8 (and MQA); odd head dims (D = 20, 36,
65: the last K vector is a masked load) and Dv != D; key counts that are not
multiples of the vector width (1, 13, 301, 1001, 2003, ...); masks: additive
(left padding with -inf, rows with every key padded: NaN, 0 with
nan_to_zero), i64 fill_if_zero with a finite fill, Hugging Face's
sliding-window form (causal + window + causal_fill = finfo.min + an additive
padding mask, fully padded rows averaging V over all keys); causal top-left
and bottom-right, sliding windows (flash-decoding splits only the keys inside
the window band), soft-capping, [B, S, H, D] layouts, K/V sliced from a
longer cache (strided rows). Batches small enough to split the keys across
tasks (flash-decoding, partials merged) and large enough not to. Extra attnc
flags come from ATTNC_FLAGS.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "e2e"))
from attention_kernel_common import compare, compile_and_run, ty  # noqa: E402

attnc, attn_run, tmp = sys.argv[1:4]
os.makedirs(tmp, exist_ok=True)
F = float(np.finfo(np.float32).min)

# name, B, Hq, Hkv, Sq, Sk, D, Dv, attrs, mask ("add" | "i64" | "fill" | None), pads, cache, perms
# pads: left padding per batch item (None: random, the last item of several fully padded)
CASES = [
    ("sq1_mha_sk1", 1, 4, 4, 1, 1, 64, 64, {"causal": True}, None, None, 0, False),
    ("sq1_sk13_d20", 2, 4, 2, 1, 13, 20, 16, {"causal": True}, "add", None, 0, False),
    ("sq2_gqa2_sk301_d36_i64", 2, 8, 4, 2, 301, 36, 32, {"causal": True}, "i64", None, 0, False),
    ("sq3_gqa4_sk1001_d65", 1, 8, 2, 3, 1001, 65, 48, {"causal": True}, "add", [100], 0, False),
    ("sq4_gqa8_sk2003_split", 1, 8, 1, 4, 2003, 64, 64, {"causal": True}, "add", [333], 0, False),
    ("sq4_gqa4_topleft", 1, 8, 2, 4, 500, 64, 64, {"causal": True, "top_left": True}, None, None, 0,
     False),
    ("sq2_nocausal_sk2000", 1, 4, 2, 2, 2000, 64, 64, {}, "add", [17], 0, False),
    ("sq1_window700_split", 1, 4, 2, 1, 3000, 64, 64, {"causal": True, "window": 700}, None, None,
     0, False),
    ("sq4_window5_gqa2", 2, 4, 2, 4, 999, 32, 32, {"causal": True, "window": 5}, "add", [0, 996],
     0, False),
    ("sq1_window300_fill_split", 3, 2, 1, 1, 2500, 64, 64, {"causal": True, "window": 300},
     "fill", [0, 2350, 2500], 0, False),
    ("sq3_window40_fill_gqa4", 2, 8, 2, 3, 777, 32, 32, {"causal": True, "window": 40}, "fill",
     [0, 760], 0, False),
    ("sq2_window50_fill_unsplit", 16, 4, 4, 2, 700, 32, 32, {"causal": True, "window": 50}, "fill",
     None, 0, False),
    ("sq3_softcap_gqa2", 1, 4, 2, 3, 777, 64, 64, {"causal": True, "softcap": 5.0}, "add", [50],
     0, False),
    ("sq1_nan0_split", 3, 4, 2, 1, 1500, 32, 32, {"causal": True, "nan_to_zero": True}, "add",
     [0, 700, 1500], 0, False),
    ("sq4_perms_cache", 2, 4, 2, 4, 1234, 32, 32, {"causal": True}, "add", [0, 600], 2048, True),
    ("sq1_b16_unsplit_d36", 16, 4, 2, 1, 1029, 36, 32, {"causal": True}, "add", None, 0, False),
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
        s = np.where(mask == 0, F, s)
    elif kind == "fill":
        s = np.where(mask == F, F, s + mask)  # x + finfo.min == finfo.min in f32
    if a.get("causal"):
        o = 0 if a.get("top_left") else Sk - Sq
        qi = np.arange(Sq)[:, None]
        ki = np.arange(Sk)[None, :]
        hide = ki > qi + o
        if "window" in a:
            hide = hide | (ki <= qi + o - a["window"])
        s = np.where(hide, F if kind == "fill" else -np.inf, s)
    with np.errstate(invalid="ignore"):
        m = s.max(-1, keepdims=True)
        p = np.exp(s - m)
        r = (p / p.sum(-1, keepdims=True)) @ v
    if a.get("nan_to_zero"):
        r = np.nan_to_num(r, nan=0.0)
    return r


failed = 0
for ci, (name, B, Hq, Hkv, Sq, Sk, D, Dv, a, mkind, pads, cache, perms) in enumerate(CASES):
    base = os.path.join(tmp, name)
    scale = float(1.0 / np.sqrt(D))
    if perms:  # stored [B, S, H, D]
        qst, kst, vst, ost = [B, Sq, Hq, D], [B, Sk, Hkv, D], [B, Sk, Hkv, Dv], [B, Sq, Hq, Dv]
    else:
        qst, kst, vst, ost = [B, Hq, Sq, D], [B, Hkv, Sk, D], [B, Hkv, Sk, Dv], [B, Hq, Sq, Dv]
    assert not (cache and perms) or True
    if cache:  # the cache the model slices (keys along dim 2, or dim 1 with perms)
        kin = list(kst); vin = list(vst)
        kin[1 if perms else 2] = cache; vin[1 if perms else 2] = cache
    else:
        kin, vin = kst, vst
    mshape = [B, 1, 1, Sk]
    inputs = [("q", qst, "f32"), ("k", kin, "f32"), ("v", vin, "f32")]
    if mkind:
        inputs.append(("m", mshape, "i64" if mkind == "i64" else "f32"))
    sig = {"inputs": [{"name": n, "dtype": d, "shape": s} for n, s, d in inputs],
           "outputs": [{"name": "out", "dtype": "f32", "shape": ost}]}
    text = json.dumps(sig, separators=(",", ":")).replace('"', '\\"')
    attrs = ["scale = %r : f64" % scale]
    if mkind in ("add", "fill"):
        attrs.append("mask_kind = #attn.mask_kind<additive>")
    elif mkind == "i64":
        attrs += ["mask_kind = #attn.mask_kind<fill_if_zero>", "fill_value = %r : f64" % F]
    else:
        attrs.append("mask_kind = #attn.mask_kind<none>")
    if a.get("causal"):
        attrs.append("causal")
        if not a.get("top_left"):
            attrs.append("causal_align = #attn.causal_align<bottom_right>")
    if mkind == "fill":
        attrs.append("causal_fill = %r : f64" % F)
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
        for n, full, part in (("k", kin, kst), ("v", vin, vst)):
            body += ("    %%%ss = tensor.extract_slice %%%s[0, 0, 0, 0] [%s] [1, 1, 1, 1] : %s to %s\n"
                     % (n, n, ", ".join(map(str, part)), ty(full), ty(part)))
        kk, vv = "%ks", "%vs"
    mpart = " mask(%%m : %s)" % mty if mkind else ""
    with open(base + ".mlir", "w") as f:
        f.write('module attributes {attn.signature = "%s"} {\n'
                '  func.func @main_graph(%s) -> %s {\n%s'
                '    %%0 = attn.attention %%q, %s, %s%s {%s} : %s, %s, %s -> %s\n'
                '    return %%0 : %s\n  }\n}\n'
                % (text, args, ty(ost), body, kk, vv, mpart, ", ".join(attrs), ty(qst), ty(kst),
                   ty(vst), ty(ost), ty(ost)))
    rng = np.random.default_rng(300 + ci)
    x = {n: (rng.standard_normal(s) * 2).astype(np.float32) for n, s, _ in inputs if n != "m"}
    if mkind:
        if pads is None:
            pad = rng.integers(0, max(1, Sk // 3), size=B)
            if B > 1:
                pad[-1] = Sk
        else:
            pad = np.array(pads)
        keep = np.arange(Sk)[None, :] >= pad[:, None]
        if mkind == "i64":
            x["m"] = keep.astype(np.int64).reshape(mshape)
        elif mkind == "fill":
            # HF: finfo.min where padded, a small bias (0 for half) elsewhere.
            m = (rng.standard_normal(mshape) * 0.5).astype(np.float32)
            m[rng.random(mshape) < 0.5] = 0.0
            m[~keep.reshape(mshape)] = F
            x["m"] = m
        else:
            x["m"] = np.where(keep, 0.0, -np.inf).astype(np.float32).reshape(mshape)
    out = compile_and_run(attnc, attn_run, base, x)
    lg = (lambda t: t.transpose(0, 2, 1, 3)) if perms else (lambda t: t)
    q = lg(x["q"]).astype(np.float64)
    if cache:
        k, v = (lg(x[n])[:, :, :Sk].astype(np.float64) for n in "kv")
    else:
        k, v = (lg(x[n]).astype(np.float64) for n in "kv")
    ref = reference(q, k, v, x["m"].astype(np.float64) if mkind else None, mkind, scale, a, Sq, Sk)
    ok, line = compare(name, lg(out), ref)
    failed += not ok
    print(line)
sys.exit(1 if failed else 0)
