"""make_tiny_lm.py: writes tiny_lm.onnx (+ tiny_lm_weights.npz for the numpy
reference), a one-layer with-past causal LM small enough to commit:
input_ids [batch, seq], attention_mask [batch, past+seq],
past_key_values.0.key|value [batch, 1, past, 8] -> logits [batch, seq, 24],
present.0.key|value. Attention of the new tokens over Concat(past, new) with
the padding mask and a bottom-right causal mask (Range/LessOrEqual).
Run with the pip python3 (onnx): python3 make_tiny_lm.py OUTDIR
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

V, D = 24, 8
rng = np.random.default_rng(15)
W = {
    "E": rng.standard_normal((V, D)).astype(np.float32),
    "Wq": (rng.standard_normal((D, D)) * 0.7).astype(np.float32),
    "Wk": (rng.standard_normal((D, D)) * 0.7).astype(np.float32),
    "Wv": rng.standard_normal((D, D)).astype(np.float32),
    "Wo": (rng.standard_normal((D, V)) * 1.5).astype(np.float32),
}
inits = [numpy_helper.from_array(a, n) for n, a in W.items()]
c = lambda name, v, dt=np.int64: inits.append(numpy_helper.from_array(np.array(v, dt), name))
c("ax1", [1]); c("zero", 0); c("one", 1); c("i2", [2]); c("i3", [3]); c("neg", -1e9, np.float32)
c("scale", 1 / np.sqrt(D), np.float32); c("ax12", [1, 2]); c("ax0", [0]); c("ax_1", [-1])
n = helper.make_node
nodes = [
    n("Gather", ["E", "input_ids"], ["emb"]),                      # [B,T,D]
    n("MatMul", ["emb", "Wq"], ["q3"]), n("Unsqueeze", ["q3", "ax1"], ["q"]),
    n("MatMul", ["emb", "Wk"], ["k3"]), n("Unsqueeze", ["k3", "ax1"], ["k"]),
    n("MatMul", ["emb", "Wv"], ["v3"]), n("Unsqueeze", ["v3", "ax1"], ["v"]),
    n("Concat", ["past_key_values.0.key", "k"], ["present.0.key"], axis=2),
    n("Concat", ["past_key_values.0.value", "v"], ["present.0.value"], axis=2),
    n("Transpose", ["present.0.key"], ["kt"], perm=[0, 1, 3, 2]),
    n("MatMul", ["q", "kt"], ["s0"]), n("Mul", ["s0", "scale"], ["s"]),   # [B,1,T,S]
    # bottom-right causal: key j visible from query t iff j <= t + S - T
    n("Shape", ["input_ids"], ["ids_shape"]), n("Gather", ["ids_shape", "one"], ["T"]),
    n("Shape", ["attention_mask"], ["m_shape"]), n("Gather", ["m_shape", "one"], ["S"]),
    n("Sub", ["S", "T"], ["P"]),
    n("Range", ["zero", "T", "one"], ["tr"]), n("Add", ["tr", "P"], ["tq"]),
    n("Unsqueeze", ["tq", "ax_1"], ["tq2"]),                            # [T,1]
    n("Range", ["zero", "S", "one"], ["sr"]),                           # [S]
    n("LessOrEqual", ["sr", "tq2"], ["causal"]),                        # [T,S]
    n("Cast", ["attention_mask"], ["mb"], to=TensorProto.BOOL),
    n("Unsqueeze", ["mb", "ax12"], ["mb4"]),                            # [B,1,1,S]
    n("And", ["causal", "mb4"], ["allowed"]),
    n("Where", ["allowed", "s", "neg"], ["sm"]),
    n("Softmax", ["sm"], ["p"], axis=-1),
    n("MatMul", ["p", "present.0.value"], ["ctx4"]),                    # [B,1,T,D]
    n("Squeeze", ["ctx4", "ax1"], ["ctx"]),
    n("Add", ["ctx", "emb"], ["h"]),
    n("MatMul", ["h", "Wo"], ["logits"]),
]
f, i64 = TensorProto.FLOAT, TensorProto.INT64
graph = helper.make_graph(
    nodes, "tiny_lm",
    [helper.make_tensor_value_info("input_ids", i64, ["batch", "seq"]),
     helper.make_tensor_value_info("attention_mask", i64, ["batch", "total"]),
     helper.make_tensor_value_info("past_key_values.0.key", f, ["batch", 1, "past", D]),
     helper.make_tensor_value_info("past_key_values.0.value", f, ["batch", 1, "past", D])],
    [helper.make_tensor_value_info("logits", f, ["batch", "seq", V]),
     helper.make_tensor_value_info("present.0.key", f, ["batch", 1, "total", D]),
     helper.make_tensor_value_info("present.0.value", f, ["batch", 1, "total", D])],
    inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
onnx.checker.check_model(model)
out = sys.argv[1]
onnx.save(model, os.path.join(out, "tiny_lm.onnx"))
np.savez(os.path.join(out, "tiny_lm_weights.npz"), **W)
