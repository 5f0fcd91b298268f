#!/usr/bin/env python3
"""Writes test/e2e/large_mlp/model.onnx: 24 Linear layers (MatMul 1024x1024 + Add + Relu)
whose 100.8 MB of weights live in an external-data file `weights.bin` next to the model.

Only the 6 KB graph is committed; the weights are generated at test time (and by bench/run.py)
by large_mlp_weights.py with numpy, layer by layer in the order of the external-data offsets
(w0, b0, w1, b1, ...). Needs the pip interpreter's `onnx`; the test run needs only numpy.
"""
import os

import onnx
import onnx.helper as h

LAYERS, E = 24, 1024
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def external(name, shape, offset):
    t = onnx.TensorProto()
    t.name, t.data_type = name, onnx.TensorProto.FLOAT
    t.dims.extend(shape)
    t.data_location = onnx.TensorProto.EXTERNAL
    n = 4
    for d in shape:
        n *= d
    for k, v in (("location", "weights.bin"), ("offset", str(offset)), ("length", str(n))):
        e = t.external_data.add()
        e.key, e.value = k, v
    return t, offset + n


def main():
    nodes, inits, off, x = [], [], 0, "x"
    for i in range(LAYERS):
        w, off = external("w%d" % i, [E, E], off)
        b, off = external("b%d" % i, [E], off)
        inits += [w, b]
        nodes += [h.make_node("MatMul", [x, "w%d" % i], ["m%d" % i], name="MatMul_%d" % i),
                  h.make_node("Add", ["m%d" % i, "b%d" % i], ["a%d" % i], name="Add_%d" % i),
                  h.make_node("Relu", ["a%d" % i], ["r%d" % i], name="Relu_%d" % i)]
        x = "r%d" % i
    g = h.make_graph(nodes, "large_mlp", [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["n", E])],
                     [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["n", E])], inits)
    g.node.append(h.make_node("Identity", [x], ["y"], name="Output"))
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)], producer_name="attnc scripts/gen_large_model.py")
    m.ir_version = 8
    out = os.path.join(ROOT, "test", "e2e", "large_mlp", "model.onnx")
    onnx.save(m, out)
    print("wrote %s (weights: %d bytes in weights.bin)" % (out, off))


if __name__ == "__main__":
    main()
