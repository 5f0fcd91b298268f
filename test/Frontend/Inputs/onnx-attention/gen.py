#!/usr/bin/env python3
"""Generates the attention-node fixtures of test/Frontend/onnx-attention*.test.

Run with the pip interpreter (`python3`: onnx >= 1.23, onnxruntime >= 1.32):

    python3 test/Frontend/Inputs/onnx-attention/gen.py

Each case is a one-node model in <case>/model.onnx with random inputs in
<case>/inputs/<name>.npy and reference outputs in <case>/expected/<name>.npy:

  * ONNX `Attention` (opset 23/24): onnx.reference.ReferenceEvaluator;
  * com.microsoft `Attention` / `MultiHeadAttention`: onnxruntime (CPU).

cases.json lists every case with the group its test belongs to: "base" cases
need only what the CPU kernels always did (equal head counts, top-left causal,
masks); "gqa" cases need grouped-query attention / bottom-right causal /
softcap in the kernels (test/Frontend/onnx-attention-gqa.test).
"""
import json
import os
import shutil

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(1234)
F = TensorProto.FLOAT
cases = []


def vi(name, arr):
    et = helper.np_dtype_to_tensor_dtype(arr.dtype)
    return helper.make_tensor_value_info(name, et, list(arr.shape))


def save(name, group, node, inputs, outputs, opset=23, ms=False, inits=(), run=None):
    """inputs: dict name -> array (graph inputs, in node order); outputs: names."""
    d = os.path.join(HERE, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "inputs"))
    os.makedirs(os.path.join(d, "expected"))
    init_names = {n for n, _ in inits}
    graph = helper.make_graph(
        [node], name,
        [vi(n, a) for n, a in inputs.items()],
        [helper.make_tensor_value_info(o, F, None) for o in outputs],
        initializer=[numpy_helper.from_array(a, n) for n, a in inits])
    imports = [helper.make_opsetid("", opset)]
    if ms:
        imports.append(helper.make_opsetid("com.microsoft", 1))
    model = helper.make_model(graph, opset_imports=imports, ir_version=10)
    onnx.save(model, os.path.join(d, "model.onnx"))
    feeds = dict(inputs)
    if ms:
        import onnxruntime as ort
        sess = ort.InferenceSession(model.SerializeToString(),
                                    providers=["CPUExecutionProvider"])
        got = sess.run(outputs, feeds)
    else:
        got = ReferenceEvaluator(model).run(outputs, feeds)
    for n, a in inputs.items():
        assert n not in init_names
        np.save(os.path.join(d, "inputs", n + ".npy"), a)
    for n, a in zip(outputs, got):
        np.save(os.path.join(d, "expected", n + ".npy"), np.asarray(a, np.float32))
    cases.append({"name": name, "group": group, "inputs": list(inputs),
                  "outputs": list(outputs)})


def r(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def onnx_attention(name, group, B, Hq, Hkv, Sq, Sk, D, *, rank=4, causal=False,
                   mask=None, scale=None, softcap=None, past=0, nonpad=None,
                   opset=23, Dv=None):
    Dv = Dv or D
    if rank == 4:
        inputs = {"Q": r(B, Hq, Sq, D), "K": r(B, Hkv, Sk, D), "V": r(B, Hkv, Sk, Dv)}
    else:
        inputs = {"Q": r(B, Sq, Hq * D), "K": r(B, Sk, Hkv * D), "V": r(B, Sk, Hkv * Dv)}
    names = ["Q", "K", "V"]
    total = Sk + past
    if mask is not None:
        if mask == "bool":
            m = rng.random((B, 1, Sq, total)) < 0.7
            m[0, 0, 0, :] = False  # a fully masked row: 0
        elif mask == "bool2d":
            m = rng.random((Sq, total)) < 0.7
        else:
            m = (r(Sq, total) * 2).astype(np.float32)
        inputs["attn_mask"] = m
        names.append("attn_mask")
    else:
        names.append("")
    if past:
        inputs["past_key"] = r(B, Hkv, past, D)
        inputs["past_value"] = r(B, Hkv, past, Dv)
        names += ["past_key", "past_value"]
    if nonpad is not None:
        names += ["", ""] if not past else []
        inputs["nonpad_kv_seqlen"] = np.array(nonpad, np.int64)
        names.append("nonpad_kv_seqlen")
    while names and names[-1] == "":
        names.pop()
    attrs = {}
    if rank == 3:
        attrs.update(q_num_heads=Hq, kv_num_heads=Hkv)
    if causal:
        attrs["is_causal"] = 1
    if scale is not None:
        attrs["scale"] = scale
    if softcap is not None:
        attrs["softcap"] = softcap
    outputs = ["Y"] + (["present_key", "present_value"] if past else [])
    node = helper.make_node("Attention", names, outputs, name="attn", **attrs)
    save(name, group, node, inputs, outputs, opset=opset)


def ms_attention(name, group, B, S, H, Dh, *, mask=None, uni=0, past=0, bias=True,
                 attn_bias=False):
    hidden = H * Dh
    inputs = {"x": r(B, S, hidden)}
    inits = [("W", (r(hidden, 3 * hidden) * 0.3).astype(np.float32))]
    names = ["x", "W"]
    if bias:
        inits.append(("b", r(3 * hidden)))
        names.append("b")
    else:
        names.append("")
    total = S + past
    if mask == "2d":
        m = (rng.random((B, total)) < 0.75).astype(np.int32)
        m[:, 0] = 1
        inputs["mask_index"] = m
        names.append("mask_index")
    elif mask == "1d":
        inputs["mask_index"] = rng.integers(1, total + 1, size=(B,)).astype(np.int32)
        names.append("mask_index")
    elif mask == "2b":
        ends = rng.integers(total // 2 + 1, total + 1, size=(B,))
        starts = rng.integers(0, total // 2, size=(B,))
        inputs["mask_index"] = np.concatenate([ends, starts]).astype(np.int32)
        names.append("mask_index")
    else:
        names.append("")
    if past:
        inputs["past"] = r(2, B, H, past, Dh)
        names.append("past")
    else:
        names.append("")
    if attn_bias:
        inputs["attention_bias"] = r(1, H, S, total)
        names.append("attention_bias")
    while names[-1] == "":
        names.pop()
    outputs = ["out"] + (["present"] if past else [])
    node = helper.make_node("Attention", names, outputs, name="ms_attn",
                            domain="com.microsoft", num_heads=H, unidirectional=uni)
    save(name, group, node, inputs, outputs, ms=True, inits=inits)


def ms_mha(name, group, B, S, L, H, Dh, *, mask=None, uni=0, past=0, bias=True,
           attn_bias=False, scale=None):
    hidden = H * Dh
    inputs = {"query": r(B, S, hidden), "key": r(B, L, hidden), "value": r(B, L, hidden)}
    names = ["query", "key", "value"]
    inits = []
    if bias:
        inits.append(("bias", r(3 * hidden)))
        names.append("bias")
    else:
        names.append("")
    total = L + past
    if mask == "2d":
        m = (rng.random((B, total)) < 0.75).astype(np.int32)
        m[:, 0] = 1
        inputs["key_padding_mask"] = m
        names.append("key_padding_mask")
    elif mask == "1d":
        inputs["key_padding_mask"] = rng.integers(1, total + 1, size=(B,)).astype(np.int32)
        names.append("key_padding_mask")
    else:
        names.append("")
    if attn_bias:
        inputs["attention_bias"] = r(B, H, S, total)
        names.append("attention_bias")
    else:
        names.append("")
    if past:
        inputs["past_key"] = r(B, H, past, Dh)
        inputs["past_value"] = r(B, H, past, Dh)
        names += ["past_key", "past_value"]
    while names[-1] == "":
        names.pop()
    outputs = ["out"] + (["present_key", "present_value"] if past else [])
    attrs = dict(num_heads=H, unidirectional=uni)
    if scale is not None:
        attrs["scale"] = scale
    node = helper.make_node("MultiHeadAttention", names, outputs, name="mha",
                            domain="com.microsoft", **attrs)
    save(name, group, node, inputs, outputs, ms=True, inits=inits)


# ONNX Attention: equal head counts, top-left causal, masks.
onnx_attention("onnx_4d_plain", "base", 2, 2, 2, 5, 7, 8)
onnx_attention("onnx_3d_cross", "base", 2, 3, 3, 6, 4, 8, rank=3, scale=0.25)
onnx_attention("onnx_4d_causal_d32", "base", 2, 2, 2, 9, 9, 32, causal=True)
onnx_attention("onnx_3d_causal_topleft", "base", 1, 2, 2, 3, 8, 16, rank=3, causal=True)
onnx_attention("onnx_4d_boolmask", "base", 2, 2, 2, 4, 9, 8, mask="bool")
onnx_attention("onnx_4d_floatmask", "base", 2, 3, 3, 5, 6, 8, mask="float", scale=0.3)
onnx_attention("onnx_3d_causal_boolmask2d", "base", 2, 2, 2, 6, 6, 8, rank=3,
               causal=True, mask="bool2d")
onnx_attention("onnx_4d_past", "base", 2, 2, 2, 3, 3, 8, past=4, mask="float")
onnx_attention("onnx_4d_past_causal_explicit", "base", 2, 2, 2, 3, 2, 8, past=5,
               causal=True)
onnx_attention("onnx_24_nonpad_causal", "base", 3, 2, 2, 2, 7, 8, causal=True,
               nonpad=[7, 4, 2], opset=24)
onnx_attention("onnx_24_nonpad", "base", 2, 2, 2, 3, 6, 8, nonpad=[6, 3], opset=24)
onnx_attention("onnx_4d_dv", "base", 2, 2, 2, 4, 5, 8, Dv=16)
# Needs the kernels' GQA / bottom-right causal / softcap.
onnx_attention("onnx_3d_gqa", "gqa", 2, 4, 2, 5, 5, 8, rank=3, causal=True)
onnx_attention("onnx_4d_mqa_mask", "gqa", 2, 4, 1, 3, 6, 8, mask="bool")
onnx_attention("onnx_4d_past_causal", "gqa", 2, 2, 2, 3, 3, 8, past=4, causal=True)
onnx_attention("onnx_3d_gqa_past_causal", "gqa", 1, 6, 2, 2, 2, 16, rank=3, past=5,
               causal=True)
onnx_attention("onnx_4d_softcap_mask", "gqa", 2, 2, 2, 4, 6, 8, softcap=2.0,
               mask="float")

# com.microsoft Attention / MultiHeadAttention (onnxruntime).
ms_attention("ms_attention_2dmask", "base", 2, 5, 2, 8, mask="2d")
ms_attention("ms_attention_1dmask_causal", "base", 3, 6, 2, 8, mask="1d", uni=1)
ms_attention("ms_attention_2bmask", "base", 2, 6, 2, 8, mask="2b", bias=False)
ms_attention("ms_attention_bias_causal", "base", 2, 4, 2, 8, uni=1, attn_bias=True)
ms_attention("ms_attention_past", "base", 2, 3, 2, 8, past=4, mask="2d")
ms_attention("ms_attention_past_causal", "gqa", 2, 3, 2, 8, past=4, uni=1)
ms_mha("ms_mha_cross_2dmask", "base", 2, 4, 6, 2, 8, mask="2d", attn_bias=True)
ms_mha("ms_mha_1dmask_nobias", "base", 2, 5, 5, 2, 16, mask="1d", bias=False, scale=0.2)
ms_mha("ms_mha_causal", "base", 2, 5, 5, 2, 8, uni=1)
ms_mha("ms_mha_past", "base", 2, 3, 3, 2, 8, past=4)
# Head dims 32/64 take the vector kernel (8 the generic loop lowering).
onnx_attention("onnx_3d_gqa_d64_causal", "gqa", 1, 4, 2, 20, 20, 64, rank=3, causal=True)
onnx_attention("onnx_4d_gqa_d32_past_causal", "gqa", 2, 4, 1, 5, 5, 32, past=11,
               causal=True, mask="bool")
onnx_attention("onnx_4d_d64_softcap_causal", "gqa", 1, 2, 2, 13, 13, 64, softcap=1.5,
               causal=True)

with open(os.path.join(HERE, "cases.json"), "w") as f:
    json.dump({"generator": "gen.py (pip python3: onnx %s, onnxruntime %s)" % (
        onnx.__version__, __import__("onnxruntime").__version__), "cases": cases}, f, indent=1)
print("%d cases" % len(cases))
