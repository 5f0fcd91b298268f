"""Generates the contrib-GELU fixture (pip python3: onnx, onnxruntime, numpy).

  python3 test/e2e/contrib_gelu/gen.py

model.onnx: ONNX Runtime's com.microsoft GELU ops on x [batch, seq, 16] (dynamic batch, seq):
  y_gelu   Gelu(x)                      exact (erf)
  y_bias   BiasGelu(x, b)               exact, of x + b
  y_fast   FastGelu(x, b)               tanh approximation, of x + b
  y_fast0  FastGelu(x)                  tanh approximation, no bias
  y_quick  QuickGelu(x)                 x * sigmoid(1.702 x)
  y_quick1 QuickGelu(x, alpha=1.0)      x * sigmoid(x)
  y_ffn    BiasGelu(MatMul(x, W), c)    a BERT FFN as ORT's optimizer writes it (W [16, 32])
bad_bias.onnx: BiasGelu with a bias of the wrong size (an import error).
Inputs shapes/K/x.npy, onnxruntime's outputs expected/K/<name>.npy (two shapes).
"""
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(1402)
b = rng.standard_normal(16).astype(np.float32)
W = (rng.standard_normal((16, 32)) / 4).astype(np.float32)
c = rng.standard_normal(32).astype(np.float32)
ms = "com.microsoft"
nodes = [
    helper.make_node("Gelu", ["x"], ["y_gelu"], domain=ms, name="gelu"),
    helper.make_node("BiasGelu", ["x", "b"], ["y_bias"], domain=ms, name="bias_gelu"),
    helper.make_node("FastGelu", ["x", "b"], ["y_fast"], domain=ms, name="fast_gelu"),
    helper.make_node("FastGelu", ["x"], ["y_fast0"], domain=ms, name="fast_gelu_nobias"),
    helper.make_node("QuickGelu", ["x"], ["y_quick"], domain=ms, name="quick_gelu"),
    helper.make_node("QuickGelu", ["x"], ["y_quick1"], domain=ms, name="quick_gelu_1", alpha=1.0),
    helper.make_node("MatMul", ["x", "W"], ["h"], name="ffn_matmul"),
    helper.make_node("BiasGelu", ["h", "c"], ["y_ffn"], domain=ms, name="ffn_bias_gelu"),
]
outs = ["y_gelu", "y_bias", "y_fast", "y_fast0", "y_quick", "y_quick1"]
graph = helper.make_graph(
    nodes, "contrib_gelu",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "seq", 16])],
    [helper.make_tensor_value_info(o, TensorProto.FLOAT, ["batch", "seq", 16]) for o in outs]
    + [helper.make_tensor_value_info("y_ffn", TensorProto.FLOAT, ["batch", "seq", 32])],
    initializer=[numpy_helper.from_array(b, "b"), numpy_helper.from_array(W, "W"),
                 numpy_helper.from_array(c, "c")])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(ms, 1)])
model.ir_version = 8
onnx.save(model, f"{here}/model.onnx")

bad = helper.make_graph(
    [helper.make_node("BiasGelu", ["x", "b5"], ["y"], domain=ms, name="bad_bias_gelu")], "bad",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 16])],
    initializer=[numpy_helper.from_array(np.ones(5, np.float32), "b5")])
bm = helper.make_model(bad, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(ms, 1)])
bm.ir_version = 8
onnx.save(bm, f"{here}/bad_bias.onnx")

sess = ort.InferenceSession(f"{here}/model.onnx")
names = [o.name for o in sess.get_outputs()]
for k, shape in enumerate([(2, 5, 16), (1, 9, 16)]):
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    os.makedirs(f"{here}/shapes/{k}", exist_ok=True)
    os.makedirs(f"{here}/expected/{k}", exist_ok=True)
    np.save(f"{here}/shapes/{k}/x.npy", x)
    for name, y in zip(names, sess.run(None, {"x": x})):
        np.save(f"{here}/expected/{k}/{name}.npy", y)
print("ok")
