#!/usr/bin/env python3
"""Generates the com.microsoft GroupQueryAttention fixtures of
test/Frontend/ms-gqa.test.

Run with the pip interpreter (`python3`: onnx >= 1.23, onnxruntime >= 1.32):

    python3 test/Frontend/Inputs/ms-gqa/gen.py

Each case is a one-node model in <case>/model.onnx with random inputs in
<case>/inputs/<name>.npy and onnxruntime's (CPU) outputs in
<case>/expected/<name>.npy; cases.json lists them (../onnx-attention/run.py --cases compiles and runs
them). Shapes are static except in the "dyn" cases (batch, sequence and past
length symbolic). ONNX Runtime's GQA needs head sizes that are multiples of 8,
one batch item when several new tokens meet a past, and
total_sequence_length = past_len + seq_len (its dynamic cache).
"""
import json
import os
import shutil

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(4321)
F = TensorProto.FLOAT
cases = []


def r(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def gqa(name, B, S, H, Hkv, D, *, past=None, seqlens=None, window=None,
        softcap=None, scale=None, packed=False, rotary=None, interleaved=False,
        rdim=None, dyn=False, present=True):
    """past: past length P (None: no past inputs); seqlens: seqlens_k + 1
    per batch item (default: all full); rotary: max position of the caches."""
    total = S + (past or 0)
    seqlens = seqlens or [total] * B
    inputs, names = {}, []
    if packed:
        inputs["query"] = r(B, S, (H + 2 * Hkv) * D)
        names += ["query", "", ""]
    else:
        inputs["query"] = r(B, S, H * D)
        inputs["key"] = r(B, S, Hkv * D)
        inputs["value"] = r(B, S, Hkv * D)
        names += ["query", "key", "value"]
    if past is not None:
        inputs["past_key"] = r(B, Hkv, past, D)
        inputs["past_value"] = r(B, Hkv, past, D)
        names += ["past_key", "past_value"]
    else:
        names += ["", ""]
    inputs["seqlens_k"] = np.array(seqlens, np.int32) - 1
    inputs["total_sequence_length"] = np.array(total, np.int32)
    names += ["seqlens_k", "total_sequence_length"]
    attrs = dict(num_heads=H, kv_num_heads=Hkv)
    if rotary:
        rd = rdim or D
        inv = 1.0 / (10000 ** (np.arange(0, rd, 2) / rd))
        f = np.outer(np.arange(rotary), inv)
        inputs["cos_cache"] = np.cos(f).astype(np.float32)
        inputs["sin_cache"] = np.sin(f).astype(np.float32)
        names += ["cos_cache", "sin_cache"]
        attrs["do_rotary"] = 1
        if interleaved:
            attrs["rotary_interleaved"] = 1
    if window:
        attrs["local_window_size"] = window
    if softcap:
        attrs["softcap"] = softcap
    if scale:
        attrs["scale"] = scale
    outputs = ["output"] + (["present_key", "present_value"] if present else [])

    def vi(n, a):
        shape = list(a.shape)
        if dyn and n in ("query", "key", "value"):
            shape = ["batch", "seq"] + shape[2:]
        elif dyn and n.startswith("past_"):
            shape = ["batch", shape[1], "past", shape[3]]
        elif dyn and n == "seqlens_k":
            shape = ["batch"]
        return helper.make_tensor_value_info(
            n, helper.np_dtype_to_tensor_dtype(a.dtype), shape)

    node = helper.make_node("GroupQueryAttention", names, outputs, name="gqa",
                            domain="com.microsoft", **attrs)
    graph = helper.make_graph([node], name, [vi(n, a) for n, a in inputs.items()],
                              [helper.make_tensor_value_info(o, F, None) for o in outputs])
    model = helper.make_model(graph, opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
        ir_version=10)
    sess = ort.InferenceSession(model.SerializeToString(),
                                providers=["CPUExecutionProvider"])
    got = sess.run(outputs, inputs)
    # ONNX Runtime leaves the output rows of right-padded prompt queries
    # (i >= seqlens) unspecified: compare those rows as 0 on both sides.
    ignore = []
    if past is None:
        for b, n in enumerate(seqlens):
            if n < S:
                ignore.append([b, n])
                got[0][b, n:] = 0
    d = os.path.join(HERE, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "inputs"))
    os.makedirs(os.path.join(d, "expected"))
    onnx.save(model, os.path.join(d, "model.onnx"))
    for n, a in inputs.items():
        np.save(os.path.join(d, "inputs", n + ".npy"), a)
    for n, a in zip(outputs, got):
        np.save(os.path.join(d, "expected", n + ".npy"), np.asarray(a, np.float32))
    c = {"name": name, "group": "gqa", "inputs": list(inputs), "outputs": outputs}
    if ignore:
        c["zero_rows"] = {"output": ignore}
    cases.append(c)


# Prompts (no past): GQA 4:2 and 4:1, right padding, window, softcap.
gqa("prompt_4to2", 2, 5, 4, 2, 8)
gqa("prompt_4to1_pad_d16", 2, 6, 4, 1, 16, seqlens=[6, 3])
gqa("prompt_window_d32", 1, 12, 4, 2, 32, window=3)
gqa("prompt_softcap_scale", 2, 7, 2, 2, 8, softcap=1.5, scale=0.2)
gqa("prompt_d64_4to1", 1, 20, 4, 1, 64)
gqa("prompt_packed", 2, 4, 4, 2, 8, packed=True)
# Decoding (Sq = 1) with a past, with and without padding in the past.
gqa("decode_4to2", 2, 1, 4, 2, 8, past=7)
gqa("decode_4to1_pad", 3, 1, 4, 1, 16, past=6, seqlens=[7, 4, 1])
gqa("decode_window_pad", 2, 1, 4, 2, 8, past=10, seqlens=[11, 6], window=4)
gqa("decode_packed_softcap", 2, 1, 6, 2, 8, past=5, packed=True, softcap=2.0,
    seqlens=[6, 3])
# A chunk of several new tokens after a past (ORT: one batch item).
gqa("chunk_4to1_d32", 1, 3, 4, 1, 32, past=5)
gqa("chunk_pad_window", 1, 4, 2, 1, 8, past=6, seqlens=[7], window=2)
# Rotary inside the op: half split, interleaved, partial width.
gqa("rotary_prompt", 2, 5, 4, 2, 16, rotary=32, seqlens=[5, 4])
gqa("rotary_decode_interleaved_pad", 2, 1, 4, 2, 16, past=6, rotary=16,
    interleaved=True, seqlens=[7, 3])
gqa("rotary_chunk_partial", 1, 3, 4, 2, 32, past=4, rotary=16, rdim=16)
# Symbolic batch / sequence / past (total_sequence_length checked at run time).
gqa("dyn_decode_rotary", 2, 1, 4, 2, 16, past=5, rotary=16, seqlens=[6, 2], dyn=True)
gqa("dyn_prompt_window", 2, 9, 4, 1, 8, window=4, dyn=True)

with open(os.path.join(HERE, "cases.json"), "w") as f:
    json.dump({"generator": "gen.py (pip python3: onnx %s, onnxruntime %s)" % (
        onnx.__version__, ort.__version__), "cases": cases}, f, indent=1)
print("%d cases" % len(cases))
