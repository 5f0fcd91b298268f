"""attn.attention with `causal` + `window` + `causal_fill` (+ a padding mask
operand): the form Hugging Face's sliding-window layers fuse into
(`Where(causal & window & padding, 0, finfo.min)` added to the scores), through
attnc + attn-run against a float64 numpy reference of the op's semantics
(AttnOps.td): every position causal/window hide scores F = finfo.min, visible
positions score s * scale (+ softcap) + mask, and x + F rounds to F in f32 (the
reference writes F where the mask is F). Rows whose visible keys are all padded
(left padding) then average V over all Sk keys, as PyTorch does.

  attention_window_fill_kernel.py ATTNC ATTN_RUN TMPDIR

Fully padded rows whose window starts past the first key block check the
keys skipped on both sides of the band (added after the key loop). Windows
smaller and larger than the sequence, top-left and bottom-right
alignment (Sq < Sk, decode Sq = 1, Sq > Sk), GQA, softcap, nan_to_zero, the
flash kernel (D = 32/64) and the generic tiled lowering (D = 12). Extra attnc
flags come from ATTNC_FLAGS.
"""
import json
import os
import sys

import numpy as np

from attention_kernel_common import compare, compile_and_run

attnc, attn_run, tmp = sys.argv[1:4]
os.makedirs(tmp, exist_ok=True)
F = float(np.finfo(np.float32).min)

# name: B, Hq, Hkv, Sq, Sk, D, attrs, mask shape (None: no mask), left padding per batch item
CASES = [
    ("w4_pad", 2, 2, 2, 20, 20, 32, {"window": 4}, (2, 1, 1, 20), [0, 7]),
    ("w8_gqa_pad_long", 2, 4, 2, 150, 150, 32, {"window": 8}, (2, 1, 1, 150), [0, 140]),
    ("w_gt_s_pad", 2, 2, 1, 30, 30, 32, {"window": 100}, (2, 1, 1, 30), [3, 12]),
    ("w1", 1, 2, 2, 40, 40, 32, {"window": 1}, (1, 1, 1, 40), [5]),
    ("w16_br_sq_lt_sk", 2, 4, 2, 9, 200, 64, {"window": 16, "align": "bottom_right"},
     (2, 1, 1, 200), [0, 195]),
    ("w5_br_decode_gqa", 2, 8, 2, 1, 70, 32, {"window": 5, "align": "bottom_right"},
     (2, 1, 1, 70), [0, 70]),
    ("w3_br_decode_allpad", 1, 2, 1, 1, 50, 32, {"window": 3, "align": "bottom_right"},
     (1, 1, 1, 50), [50]),
    ("w6_br_sq_gt_sk", 1, 2, 2, 30, 12, 32, {"window": 6, "align": "bottom_right"},
     (1, 1, 1, 12), [2]),
    ("w7_nomask", 1, 2, 1, 45, 45, 32, {"window": 7}, None, None),
    ("w10_softcap_nan0", 2, 4, 2, 33, 33, 32, {"window": 10, "softcap": 5.0, "nan_to_zero": True},
     (2, 1, 1, 33), [0, 20]),
    ("generic_w9_br_pad", 2, 4, 2, 17, 40, 12, {"window": 9, "align": "bottom_right"},
     (2, 1, 1, 40), [0, 31]),
    ("generic_w_gt_s", 1, 2, 2, 25, 25, 12, {"window": 60}, (1, 1, 1, 25), [10]),
]


def reference(q, k, v, mask, scale, a, Sq, Sk):
    G = q.shape[1] // k.shape[1]
    k = np.repeat(k, G, axis=1)
    v = np.repeat(v, G, axis=1)
    s = q @ k.transpose(0, 1, 3, 2) * scale
    if "softcap" in a:
        s = a["softcap"] * np.tanh(s / a["softcap"])
    if mask is not None:
        s = np.where(mask == F, F, s + mask)  # x + finfo.min == finfo.min in f32
    o = Sk - Sq if a.get("align") == "bottom_right" else 0
    qi = np.arange(Sq)[:, None]
    ki = np.arange(Sk)[None, :]
    hide = (ki > qi + o) | (ki <= qi + o - a["window"])
    s = np.where(hide, F, s)
    m = s.max(-1, keepdims=True)
    p = np.exp(s - m)
    return (p / p.sum(-1, keepdims=True)) @ v


failed = 0
for ci, (name, B, Hq, Hkv, Sq, Sk, D, a, mshape, pad) in enumerate(CASES):
    base = os.path.join(tmp, name)
    scale = float(1.0 / np.sqrt(D))
    qs, ks = [B, Hq, Sq, D], [B, Hkv, Sk, D]
    ty = lambda s: "tensor<%sxf32>" % "x".join(map(str, s))
    inputs = [("q", qs), ("k", ks), ("v", ks)] + ([("m", list(mshape))] if mshape else [])
    sig = {"inputs": [{"name": n, "dtype": "f32", "shape": s} for n, s in inputs],
           "outputs": [{"name": "out", "dtype": "f32", "shape": qs}]}
    text = json.dumps(sig, separators=(",", ":")).replace('"', '\\"')
    attrs = ["scale = %r : f64" % scale,
             "mask_kind = #attn.mask_kind<%s>" % ("additive" if mshape else "none"),
             "causal", "causal_fill = %r : f64" % F, "window = %d : i64" % a["window"]]
    if "align" in a:
        attrs.append("causal_align = #attn.causal_align<%s>" % a["align"])
    if "softcap" in a:
        attrs.append("softcap = %r : f64" % a["softcap"])
    if a.get("nan_to_zero"):
        attrs.append("nan_to_zero")
    args = ", ".join("%%%s: %s" % (n, ty(s)) for n, s in inputs)
    mpart = " mask(%%m : %s)" % ty(mshape) if mshape else ""
    with open(base + ".mlir", "w") as f:
        f.write('module attributes {attn.signature = "%s"} {\n'
                '  func.func @main_graph(%s) -> %s {\n'
                '    %%0 = attn.attention %%q, %%k, %%v%s {%s} : %s, %s, %s -> %s\n'
                '    return %%0 : %s\n  }\n}\n'
                % (text, args, ty(qs), mpart, ", ".join(attrs), ty(qs), ty(ks), ty(ks), ty(qs),
                   ty(qs)))
    rng = np.random.default_rng(100 + ci)
    x = {n: (rng.standard_normal(s) * 2.0).astype(np.float32) for n, s in inputs}
    if mshape:
        # Left padding: the first pad[b] keys of item b score F; the others a
        # small random bias (0 for half of them).
        m = (rng.standard_normal(mshape) * 0.5).astype(np.float32)
        m[rng.random(mshape) < 0.5] = 0.0
        for b in range(B):
            m[b, ..., :pad[b]] = F
        x["m"] = m
    got = compile_and_run(attnc, attn_run, base, x)
    q, k, v = (x[n].astype(np.float64) for n in "qkv")
    ref = reference(q, k, v, x["m"].astype(np.float64) if mshape else None, scale, a, Sq, Sk)
    ok, line = compare(name, got, ref)  # ref has no NaN: a NaN in got fails
    failed += not ok
    print(line)
sys.exit(1 if failed else 0)
