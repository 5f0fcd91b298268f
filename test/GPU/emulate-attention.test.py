#!/usr/bin/env python3
"""Runs attnc's GPU attention kernels in the SIMT emulator (simt_emulator.py)
and compares them with a float64 numpy reference of attn.attention.

  emulate_attention.py ATTN_OPT [CASE...]

For each case: a static-shape attn.attention function, lowered by
`attn-opt -attn-gpu-lower-attention -one-shot-bufferize -attn-gpu-lower-attention`
(the CUDA pipeline's kernel construction; tensor-core kernel for f16/bf16,
SIMT kernel for f32 or with tensor-cores=0), printed generic, emulated on
random inputs (rounded to the element type), and compared with the reference
computed from the same rounded inputs: scaled max error
max|got - ref| / max(1, max|ref|) within the case's tolerance (f32: 1e-5;
f16/bf16: P is rounded to the element type before P.V, as on the hardware,
so 4e-3 / 3e-2), and NaN exactly where the reference has NaN.
Prints one line per case and exits 1 on any failure.
"""
import os
import subprocess
import sys
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import simt_emulator as emu  # noqa: E402

TOL = {"f32": 1e-5, "f16": 4e-3, "bf16": 3e-2}
NPT = {"f32": np.float32, "f16": np.float32, "bf16": np.float32}

# name: (dtype, B, H, Sq, Sk, D, Dv, mask, attrs, tensor_cores)
#   mask: None | ("i64", shape) 0/1 | ("add", shape) additive with -inf/-1e4 entries
CASES = {
    # The seed's SelfAttention semantics (mask 0 -> -1e20 before the scale),
    # causal, a fully masked query row; Sq, Sk not tile multiples.
    "tc_f16_seed": ("f16", 2, 2, 40, 70, 64, 64, ("i64", (2, 1, 40, 70)),
                    "causal, mask_kind = #attn.mask_kind<fill_if_zero>, fill_value = -1.0e20 : f64, "
                    "mask_first, scale = 0.125 : f64", True),
    # Additive padding mask with -inf keys (a batch whose keys are all -inf
    # gives NaN rows, as PyTorch), D = 128 (16-key tiles), Sq over 64.
    "tc_bf16_d128_additive": ("bf16", 3, 1, 70, 50, 128, 128, ("add", (3, 1, 1, 50)),
                              "mask_kind = #attn.mask_kind<additive>, scale = 0.088 : f64", True),
    # No mask, causal block skipping over 3 query tiles, big logits.
    "tc_f16_causal_big": ("f16", 1, 2, 130, 130, 64, 64, None,
                          "causal, mask_kind = #attn.mask_kind<none>, scale = 0.5 : f64", True),
    # Dv != D, bool-like mask filling where nonzero, nan_to_zero, fully masked rows -> 0.
    "tc_f16_dv_nan_to_zero": ("f16", 1, 2, 33, 20, 32, 16, ("i64", (1, 2, 33, 20)),
                              "mask_kind = #attn.mask_kind<fill_if_nonzero>, fill_value = 0xFFF0000000000000 : f64, "
                              "nan_to_zero, scale = 0.17 : f64", True),
    # causal_fill (GPT-2's And(causal, padding)): k > q scores the fill value.
    "tc_bf16_causal_fill": ("bf16", 2, 1, 24, 24, 64, 64, ("add", (2, 1, 1, 24)),
                            "causal, causal_fill = -3.4028234663852886e+38 : f64, "
                            "mask_kind = #attn.mask_kind<additive>, scale = 0.125 : f64", True),
    # The SIMT kernel (f32: every seed-family model on cuda), seed semantics.
    "simt_f32_seed": ("f32", 2, 2, 40, 45, 32, 32, ("i64", (2, 1, 40, 45)),
                      "causal, mask_kind = #attn.mask_kind<fill_if_zero>, fill_value = -1.0e20 : f64, "
                      "mask_first, scale = 0.0625 : f64", False),
    "simt_f16_additive": ("f16", 2, 2, 20, 37, 64, 64, ("add", (2, 1, 1, 37)),
                          "mask_kind = #attn.mask_kind<additive>, scale = 0.125 : f64", False),
    # Layout perms (as attn-fold-attention-transposes leaves them for the
    # [B, S, H, D] tensors of exported models): the kernels read and write
    # memref.transpose views of the stored tensors.
    "tc_f16_perms": ("f16", 2, 3, 40, 50, 64, 64, ("add", (2, 1, 1, 50)),
                     "key_perm = array<i64: 0, 2, 1, 3>, mask_kind = #attn.mask_kind<additive>, "
                     "query_perm = array<i64: 0, 2, 1, 3>, result_perm = array<i64: 0, 2, 1, 3>, "
                     "scale = 0.125 : f64, value_perm = array<i64: 0, 2, 1, 3>", True),
    # Sequence-first [S, B, H, D] (nn.MultiheadAttention's layout): a perm
    # that is not its own inverse.
    "simt_f32_perms": ("f32", 2, 3, 21, 21, 32, 32, None,
                       "causal, key_perm = array<i64: 1, 2, 0, 3>, mask_kind = #attn.mask_kind<none>, "
                       "query_perm = array<i64: 1, 2, 0, 3>, result_perm = array<i64: 2, 0, 1, 3>, "
                       "scale = 0.17 : f64, value_perm = array<i64: 1, 2, 0, 3>", False),
    # Decoder-LLM semantics (H = (query heads, key/value heads): GQA reads
    # key/value head h / G): bottom-right causal with Sq < Sk and a sliding
    # window; multi-query with soft-capping before a padding mask; a window
    # over several query tiles (key tiles skipped on both sides); soft-capping
    # with a per-head mask under G = 4.
    "simt_f32_gqa_br_window": ("f32", 2, (4, 2), 5, 40, 32, 32, None,
                               "causal, causal_align = #attn.causal_align<bottom_right>, "
                               "mask_kind = #attn.mask_kind<none>, scale = 0.17 : f64, window = 16 : i64",
                               False),
    "tc_f16_mqa_softcap": ("f16", 1, (4, 1), 70, 70, 64, 64, ("add", (1, 1, 1, 70)),
                           "causal, mask_kind = #attn.mask_kind<additive>, scale = 0.125 : f64, "
                           "softcap = 5.0 : f64", True),
    "tc_bf16_window_big": ("bf16", 1, (2, 1), 130, 130, 64, 64, None,
                           "causal, mask_kind = #attn.mask_kind<none>, scale = 0.125 : f64, window = 40 : i64",
                           True),
    "simt_f32_softcap_gqa4": ("f32", 1, (8, 2), 33, 33, 32, 32, ("add", (1, 8, 33, 33)),
                              "mask_kind = #attn.mask_kind<additive>, scale = 0.2 : f64, softcap = 3.0 : f64",
                              False),
    # A sliding-window layer as Hugging Face's masks fuse (causal & window &
    # padding): every position causal/window hide scores causal_fill, the
    # padding is the mask operand; bottom-right with Sq < Sk under GQA, and
    # top-left over several query tiles on the tensor cores.
    # (B = 1: the -1e4 rows of a first batch item are not exact to 1e-5 in f32.)
    "simt_f32_window_fill_br": ("f32", 1, (4, 2), 5, 40, 32, 32, ("add", (1, 1, 1, 40)),
                                "causal, causal_align = #attn.causal_align<bottom_right>, "
                                "causal_fill = -3.4028234663852886e+38 : f64, "
                                "mask_kind = #attn.mask_kind<additive>, scale = 0.17 : f64, window = 6 : i64",
                                False),
    "tc_bf16_window_fill": ("bf16", 2, (2, 1), 70, 70, 64, 64, ("add", (2, 1, 1, 70)),
                            "causal, causal_fill = -3.4028234663852886e+38 : f64, "
                            "mask_kind = #attn.mask_kind<additive>, scale = 0.125 : f64, window = 16 : i64",
                            True),
}


def perm_attr(attrs, key):
    import re
    m = re.search(key + r" = array<i64: ([\d, ]+)>", attrs)
    return tuple(int(x) for x in m.group(1).split(",")) if m else None


def mlir_type(shape, dt):
    return "tensor<%sx%s>" % ("x".join(map(str, shape)), dt)


def reference(q, k, v, m, dt, attrs):
    q, k, v = (x.astype(np.float64) for x in (q, k, v))
    g = q.shape[1] // k.shape[1]  # GQA: query head h reads key/value head h // g
    k, v = np.repeat(k, g, axis=1), np.repeat(v, g, axis=1)
    s = q @ np.swapaxes(k, -1, -2)
    scale = float(attrs["scale"])
    kind = attrs["kind"]
    fill = attrs.get("fill")

    def mask(x):
        if kind == "additive":
            return x + m.astype(np.float64)
        hit = (m == 0) if kind == "fill_if_zero" else (m != 0)
        return np.where(hit, fill, x)

    if kind != "none" and attrs.get("mask_first"):
        s = mask(s) * scale
    else:
        s = s * scale
        if "softcap" in attrs:
            s = attrs["softcap"] * np.tanh(s / attrs["softcap"])
        if kind != "none":
            s = mask(s)
    if attrs.get("causal"):
        sq, sk = s.shape[-2:]
        off = sk - sq if "bottom_right" in attrs.get("causal_align", "") else 0
        qo = np.arange(sq)[:, None] + off
        upper = np.arange(sk)[None, :] > qo
        if "window" in attrs:
            upper = upper | (np.arange(sk)[None, :] <= qo - attrs["window"])
        s = np.where(upper, attrs.get("causal_fill", -np.inf), s)
    with np.errstate(invalid="ignore", over="ignore"):
        mx = s.max(axis=-1, keepdims=True)
        p = np.exp(s - mx)
        p = p / p.sum(axis=-1, keepdims=True)
    o = p @ v
    if attrs.get("nan_to_zero"):
        o = np.nan_to_num(np.where(np.isnan(p).any(axis=-1, keepdims=True), 0, o), nan=0.0)
    return o


def parse_attrs(text):
    a = {}
    for part in text.split(", "):
        if " = " in part:
            key, val = part.split(" = ", 1)
            val = val.split(" : ")[0]
            if key == "mask_kind":
                a["kind"] = val.split("<")[1].rstrip(">")
            elif key == "window":
                a[key] = int(val)
            elif key == "causal_align":
                a[key] = val
            elif key in ("scale", "fill_value", "causal_fill", "softcap"):
                f = emu.constant_from_hex(val) if val.startswith("0x") else float(val)
                a["fill" if key == "fill_value" else key] = f
        else:
            a[part.strip()] = True
    return a


def run_case(attn_opt, name, spec, tmp):
    dt, B, H, Sq, Sk, D, Dv, mask, attrs, tc = spec
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    H, Hkv = H if isinstance(H, tuple) else (H, H)
    qs, ks, vs = (B, H, Sq, D), (B, Hkv, Sk, D), (B, Hkv, Sk, Dv)
    # logical dim i = stored dim qperm[i]; stored result dim i = logical dim rperm[i]
    qperm, rperm = perm_attr(attrs, "query_perm") or (0, 1, 2, 3), perm_attr(attrs, "result_perm") or (0, 1, 2, 3)
    inv = tuple(int(i) for i in np.argsort(qperm))
    stored = lambda s: tuple(s[p] for p in inv)  # noqa: E731
    big = 4.0 if "big" in name else 1.0
    q = emu.round_to(rng.standard_normal(qs) * big, dt)
    k = emu.round_to(rng.standard_normal(ks) * big, dt)
    v = emu.round_to(rng.standard_normal(vs), dt)
    sig = ["%%q: %s" % mlir_type(stored(qs), dt), "%%k: %s" % mlir_type(stored(ks), dt),
           "%%v: %s" % mlir_type(stored(vs), dt)]
    m, mclause = None, ""
    if mask:
        mk, mshape = mask
        if mk == "i64":
            m = (rng.random(mshape) > 0.3).astype(np.int64)
            if "nonzero" in attrs:
                m = 1 - m
                m[..., 3, :] = 1          # a fully masked query row
            else:
                m[..., 3, :] = 0
            mt = mlir_type(mshape, "i64")
        else:
            m = np.where(rng.random(mshape) > 0.2, rng.standard_normal(mshape), -np.inf)
            if mshape[0] > 1:   # the first batch item: every key masked
                m[0, ..., :] = -1e4 if "causal_fill" in attrs else -np.inf
            if "window" in attrs and "causal_fill" in attrs:
                # The last 10 keys masked: the first rows of a bottom-right
                # window see only those, so the hidden keys' fill decides.
                m[..., -10:] = -np.inf
            m = emu.round_to(m, dt)
            mt = mlir_type(mshape, dt)
        sig.append("%%m: %s" % mt)
        mclause = " mask(%%m : %s)" % mt
    rt = mlir_type(tuple((B, H, Sq, Dv)[p] for p in rperm), dt)
    src = ("func.func @main(%s) -> %s {\n  %%0 = attn.attention %%q, %%k, %%v%s {%s} : %s, %s, %s -> %s\n"
           "  return %%0 : %s\n}\n" % (", ".join(sig), rt, mclause, attrs, mlir_type(stored(qs), dt),
                                       mlir_type(stored(ks), dt), mlir_type(stored(vs), dt), rt, rt))
    path = os.path.join(tmp, name + ".mlir")
    with open(path, "w") as f:
        f.write(src)
    opt = "-attn-gpu-lower-attention" + ("" if tc else "=tensor-cores=0")
    ir = subprocess.run([attn_opt, path, opt, "-one-shot-bufferize=bufferize-function-boundaries=1 "
                         "function-boundary-type-conversion=identity-layout-map", opt,
                         "-canonicalize", "-cse", "--mlir-print-op-generic", "--mlir-print-local-scope"],
                        check=True, capture_output=True, text=True).stdout
    kernel = "attention_tc_" if "@attention_tc_" in ir else "attention_"
    store = lambda x: np.ascontiguousarray(x.transpose(inv))  # noqa: E731
    args = [store(q).astype(np.float32), store(k).astype(np.float32), store(v).astype(np.float32)]
    if m is not None:
        args.append(m.astype(np.int64) if m.dtype == np.int64 else m.astype(np.float32))
    (out,), stats = emu.run_function(ir, "main", args)
    ref = np.ascontiguousarray(reference(q, k, v, m, dt, parse_attrs(attrs)).transpose(rperm))
    nan_ref, nan_got = np.isnan(ref), np.isnan(out)
    problems = []
    if (nan_ref != nan_got).any():
        problems.append("NaN at %d positions where the reference has none, %d missing"
                        % ((nan_got & ~nan_ref).sum(), (nan_ref & ~nan_got).sum()))
    fin = ~nan_ref & ~nan_got
    err = float(np.abs(out[fin] - ref[fin]).max() / max(1.0, np.abs(ref[fin]).max())) if fin.any() else 0.0
    if err > TOL[dt]:
        problems.append("scaled error %.3g > %g" % (err, TOL[dt]))
    if tc != (kernel == "attention_tc_"):
        problems.append("expected the %s kernel" % ("tensor-core" if tc else "SIMT"))
    status = "FAIL" if problems else "PASS"
    print("%s %s: %s kernel, %s [%d,%d,%d,%d]x[%d,%d], scaled error %.2e (tol %g), NaN rows %d, "
          "%d blocks, %d mma, %d shuffles%s" %
          (status, name, "tensor-core" if kernel == "attention_tc_" else "SIMT", dt, B, H, Sq, D, Sk, Dv,
           err, TOL[dt], int(nan_ref.any(axis=-1).sum()), stats["blocks"], stats["mma"],
           stats["shuffles"], "".join("; " + p for p in problems)))
    return not problems


def main():
    attn_opt = sys.argv[1]
    emu.run_cases(CASES, lambda n, spec, tmp: run_case(attn_opt, n, spec, tmp))


if __name__ == "__main__":
    main()
