#!/usr/bin/env python3
"""Generates the RMSNorm-family importer fixtures of test/Frontend/rms-norm-ops.test: one small
.onnx per case (<case>.onnx), its inputs (<case>/inputs/<name>.npy) and the reference outputs
(<case>/expected/<name>.npy).

Run with the pip interpreter (python3 with onnx 1.23 and onnxruntime 1.32; not part of the test
run):   python3 test/Frontend/Inputs/rms_norm/gen.py
References: onnx.reference.ReferenceEvaluator for the opset-23 RMSNormalization cases,
onnxruntime (CPU) for the ORT ops (SimplifiedLayerNormalization, Skip[Simplified]LayerNormalization).
"""
import os
import shutil

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper as h
from onnx.reference import ReferenceEvaluator

HERE = os.path.dirname(os.path.abspath(__file__))


def vi(name, shape, dt=TP.FLOAT):
    return h.make_tensor_value_info(name, dt, shape)


def build(case, nodes, inputs, outputs, inits, opsets, values, ref):
    graph = h.make_graph(nodes, case, inputs, outputs, initializer=inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid(d, v) for d, v in opsets])
    model.ir_version = 10
    if ref == "reference":  # the checker knows no ORT ops
        onnx.checker.check_model(model)
    path = os.path.join(HERE, case + ".onnx")
    onnx.save(model, path)
    if ref == "reference":
        got = ReferenceEvaluator(model).run(None, values)
    else:
        import onnxruntime as ort
        got = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, values)
    d = os.path.join(HERE, case)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "inputs"))
    os.makedirs(os.path.join(d, "expected"))
    for n, v in values.items():
        np.save(os.path.join(d, "inputs", n + ".npy"), v)
    for o, v in zip(outputs, got):
        np.save(os.path.join(d, "expected", o.name + ".npy"), np.asarray(v))
    print(case, [o.name for o in outputs], [np.asarray(v).shape for v in got])


def init(name, a):
    return onnx.numpy_helper.from_array(a.astype(np.float32), name)


def main():
    rng = np.random.default_rng(23)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)

    # ONNX RMSNormalization, opset 23: default axis (-1), epsilon given; a weight initializer.
    x = f(2, 5, 32)
    build("rms_opset23", [h.make_node("RMSNormalization", ["x", "w"], ["y"], epsilon=1e-6)],
          [vi("x", ["b", "s", 32])], [vi("y", ["b", "s", 32])], [init("w", f(32))],
          [("", 23)], {"x": x}, "reference")
    # axis 1 of a rank-3 input (two normalized dims), scale [1, 4, 16] (leading 1 dropped),
    # default epsilon (1e-5), small values so epsilon matters.
    x = f(3, 4, 16) * 0.01
    build("rms_axis1", [h.make_node("RMSNormalization", ["x", "w"], ["y"], axis=1)],
          [vi("x", [3, 4, 16])], [vi("y", [3, 4, 16])], [init("w", f(1, 4, 16))],
          [("", 23)], {"x": x}, "reference")
    # ORT's SimplifiedLayerNormalization (ONNX domain, as ORT registers it), n = 20.
    x = f(2, 3, 20)
    build("simplified_ln", [h.make_node("SimplifiedLayerNormalization", ["x", "w"], ["y"],
                                        axis=-1, epsilon=1e-5)],
          [vi("x", ["b", 3, 20])], [vi("y", ["b", 3, 20])], [init("w", f(20))],
          [("", 17)], {"x": x}, "ort")
    # SkipSimplifiedLayerNormalization: bias, the sum output used, default epsilon (1e-12)
    # with tiny values (epsilon would show), dynamic batch/sequence.
    x, s = f(2, 7, 64) * 1e-3, f(2, 7, 64) * 1e-3
    build("skip_simplified",
          [h.make_node("SkipSimplifiedLayerNormalization", ["x", "skip", "g", "bias"],
                       ["y", "", "", "sum"], domain="com.microsoft")],
          [vi("x", ["b", "s", 64]), vi("skip", ["b", "s", 64])],
          [vi("y", ["b", "s", 64]), vi("sum", ["b", "s", 64])],
          [init("g", f(64)), init("bias", f(64) * 1e-3)],
          [("", 17), ("com.microsoft", 1)], {"x": x, "skip": s}, "ort")
    # SkipSimplifiedLayerNormalization without bias or sum, epsilon given.
    x, s = f(3, 48), f(3, 48)
    build("skip_simplified_plain",
          [h.make_node("SkipSimplifiedLayerNormalization", ["x", "skip", "g"], ["y"],
                       domain="com.microsoft", epsilon=1e-6)],
          [vi("x", [3, 48]), vi("skip", [3, 48])], [vi("y", [3, 48])], [init("g", f(48))],
          [("", 17), ("com.microsoft", 1)], {"x": x, "skip": s}, "ort")
    # SkipLayerNormalization: beta and bias, the sum used.
    x, s = f(2, 5, 32), f(2, 5, 32)
    build("skip_ln",
          [h.make_node("SkipLayerNormalization", ["x", "skip", "g", "beta", "bias"],
                       ["y", "", "", "sum"], domain="com.microsoft", epsilon=1e-5)],
          [vi("x", ["b", "s", 32]), vi("skip", ["b", "s", 32])],
          [vi("y", ["b", "s", 32]), vi("sum", ["b", "s", 32])],
          [init("g", f(32)), init("beta", f(32)), init("bias", f(32))],
          [("", 17), ("com.microsoft", 1)], {"x": x, "skip": s}, "ort")
    # SkipLayerNormalization: no beta/bias, only the output (the residual folded), default eps.
    x, s = f(4, 24), f(4, 24)
    build("skip_ln_plain",
          [h.make_node("SkipLayerNormalization", ["x", "skip", "g"], ["y"], domain="com.microsoft")],
          [vi("x", [4, 24]), vi("skip", [4, 24])], [vi("y", [4, 24])], [init("g", f(24))],
          [("", 17), ("com.microsoft", 1)], {"x": x, "skip": s}, "ort")


if __name__ == "__main__":
    main()
