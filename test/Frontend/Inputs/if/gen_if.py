"""Makes the ONNX If fixtures of test/Frontend/if-*.test: small models written with onnx.helper, random
inputs, and expected outputs from onnx.reference.ReferenceEvaluator. Run with the pip python3 (onnx 1.23):
    python3 gen_if.py            (writes *.onnx, *.npy and cases.json next to this script)
Committed tests only read the results (numpy)."""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(15)
F, B = TP.FLOAT, TP.BOOL


def vi(name, elt, shape):
    return h.make_tensor_value_info(name, elt, shape)


def save(name, graph, opset, inputs_sets, ir=10):
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])
    if ir is not None:
        model.ir_version = ir
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(here, name + ".onnx"))
    ref = ReferenceEvaluator(model)
    outs = [o.name for o in graph.output]
    for k, feeds in enumerate(inputs_sets):
        for n, a in feeds.items():
            np.save(os.path.join(here, "%s.%d.%s.npy" % (name, k, n)), a)
        got = ref.run(None, feeds)
        for n, a in zip(outs, got):
            np.save(os.path.join(here, "%s.%d.%s.expected.npy" % (name, k, n)), np.asarray(a))
    return {"name": name, "sets": len(inputs_sets), "inputs": list(inputs_sets[0].keys()), "outputs": outs}


def rnd(*shape):
    return rng.standard_normal(shape).astype(np.float32)


cases = []

# 1. Both branch directions; branches capture outer-scope values (graph inputs, an intermediate, an
#    initializer); opset 13 / IR 7, so libonnx's checker also runs.
then_g = h.make_graph([h.make_node("Add", ["t", "y"], ["then_out"], name="then_add")],
                      "then_g", [], [vi("then_out", F, [2, 3])])
else_g = h.make_graph([h.make_node("Mul", ["t", "w"], ["m"], name="else_mul"),
                       h.make_node("Sub", ["m", "y"], ["else_out"], name="else_sub")],
                      "else_g", [], [vi("else_out", F, [2, 3])])
g = h.make_graph(
    [h.make_node("Tanh", ["x"], ["t"], name="tanh"),
     h.make_node("If", ["cond"], ["z"], name="the_if", then_branch=then_g, else_branch=else_g),
     h.make_node("Neg", ["z"], ["out"], name="neg")],
    "if_basic", [vi("cond", B, [1]), vi("x", F, [2, 3]), vi("y", F, [2, 3])], [vi("out", F, [2, 3])],
    initializer=[numpy_helper.from_array(rnd(2, 3), "w")])
cases.append(save("if_basic", g, 13, [
    {"cond": np.array([True]), "x": rnd(2, 3), "y": rnd(2, 3)},
    {"cond": np.array([False]), "x": rnd(2, 3), "y": rnd(2, 3)}], ir=7))

# 2. Branch outputs whose shapes differ: [2N, 4] vs [N, 4] -> [?, 4]; two outputs, one of them the
#    captured input through an Identity.
then_g = h.make_graph([h.make_node("Concat", ["x", "x"], ["c"], axis=0, name="then_concat"),
                       h.make_node("Identity", ["x"], ["xi"], name="then_identity")],
                      "then_g", [], [vi("c", F, None), vi("xi", F, None)])
else_g = h.make_graph([h.make_node("Relu", ["x"], ["r"], name="else_relu"),
                       h.make_node("Sigmoid", ["x"], ["s"], name="else_sigmoid")],
                      "else_g", [], [vi("r", F, None), vi("s", F, None)])
g = h.make_graph(
    [h.make_node("If", ["cond"], ["a", "b"], name="shape_if", then_branch=then_g, else_branch=else_g)],
    "if_shapes", [vi("cond", B, []), vi("x", F, [3, 4])], [vi("a", F, [None, 4]), vi("b", F, [3, 4])])
cases.append(save("if_shapes", g, 21, [
    {"cond": np.array(True), "x": rnd(3, 4)}, {"cond": np.array(False), "x": rnd(3, 4)}]))

# 3. Nested If: the then branch holds an If on a second condition; branch-local initializers.
inner_then = h.make_graph([h.make_node("Add", ["x", "k"], ["it"], name="inner_add")], "inner_then", [],
                          [vi("it", F, [2, 5])], initializer=[numpy_helper.from_array(rnd(2, 5), "k")])
inner_else = h.make_graph([h.make_node("Exp", ["x"], ["ie"], name="inner_exp")], "inner_else", [],
                          [vi("ie", F, [2, 5])])
then_g = h.make_graph([h.make_node("If", ["c2"], ["ti"], name="inner_if", then_branch=inner_then,
                                   else_branch=inner_else),
                       h.make_node("Mul", ["ti", "x"], ["to"], name="then_mul")],
                      "then_g", [], [vi("to", F, [2, 5])])
else_g = h.make_graph([h.make_node("Abs", ["x"], ["eo"], name="else_abs")], "else_g", [],
                      [vi("eo", F, [2, 5])])
g = h.make_graph(
    [h.make_node("If", ["c1"], ["z"], name="outer_if", then_branch=then_g, else_branch=else_g)],
    "if_nested", [vi("c1", B, [1]), vi("c2", B, [1]), vi("x", F, [2, 5])], [vi("z", F, [2, 5])])
cases.append(save("if_nested", g, 17, [
    {"c1": np.array([c1]), "c2": np.array([c2]), "x": rnd(2, 5)}
    for c1, c2 in [(True, True), (True, False), (False, True), (False, False)]]))

# 4. If inside a dynamic-shape graph, the condition computed in the graph (sum(x) > 0, a 0-d bool),
#    branches on [B, S, 8] tensors with symbolic dims, a matmul with a top-level weight in one branch.
wmat = rnd(8, 8)
then_g = h.make_graph([h.make_node("MatMul", ["x", "wm"], ["mm"], name="then_matmul"),
                       h.make_node("Softmax", ["mm"], ["sm"], axis=-1, name="then_softmax")],
                      "then_g", [], [vi("sm", F, ["B", "S", 8])])
else_g = h.make_graph([h.make_node("Relu", ["x"], ["rl"], name="else_relu"),
                       h.make_node("Add", ["rl", "x"], ["ad"], name="else_add")],
                      "else_g", [], [vi("ad", F, ["B", "S", 8])])
g = h.make_graph(
    [h.make_node("ReduceSum", ["x"], ["total"], keepdims=0, name="sum"),
     h.make_node("Greater", ["total", "zero"], ["cond"], name="gt"),
     h.make_node("If", ["cond"], ["z"], name="dyn_if", then_branch=then_g, else_branch=else_g),
     h.make_node("Add", ["z", "x"], ["out"], name="residual")],
    "if_dynamic", [vi("x", F, ["B", "S", 8])], [vi("out", F, ["B", "S", 8])],
    initializer=[numpy_helper.from_array(wmat, "wm"), numpy_helper.from_array(np.float32(0), "zero")])
sets = []
for shape in [(1, 3), (2, 5), (3, 1), (2, 7)]:
    x = rnd(*shape, 8)
    sets.append({"x": x + 0.5})
    sets.append({"x": x - 0.5})
for s in sets:  # make sure both directions are taken
    pass
cases.append(save("if_dynamic", g, 18, sets))
dirs = [bool(s["x"].sum() > 0) for s in sets]
assert any(dirs) and not all(dirs), dirs

# 5. A constant condition (an initializer): the taken branch is inlined, no scf.if is left.
then_g = h.make_graph([h.make_node("Sin", ["x"], ["so"], name="then_sin")], "then_g", [],
                      [vi("so", F, [4])])
else_g = h.make_graph([h.make_node("Cos", ["x"], ["co"], name="else_cos")], "else_g", [],
                      [vi("co", F, [4])])
g = h.make_graph(
    [h.make_node("If", ["kc"], ["z"], name="const_if", then_branch=then_g, else_branch=else_g)],
    "if_const", [vi("x", F, [4])], [vi("z", F, [4])],
    initializer=[numpy_helper.from_array(np.array([False]), "kc")])
cases.append(save("if_const", g, 21, [{"x": rnd(4)}]))

json.dump(cases, open(os.path.join(here, "cases.json"), "w"), indent=1)
print("wrote", [c["name"] for c in cases])

# Malformed If nodes (not checked with onnx.checker): each must be refused with one message naming it.
def err_model(name, nodes, inputs, outputs, opset=21):
    g = h.make_graph(nodes, name, inputs, outputs)
    m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)])
    m.ir_version = 10
    onnx.save(m, os.path.join(here, name + ".onnx"))


def br(name, nodes, outs):
    return h.make_graph(nodes, name, [], outs)


ok_then = br("t", [h.make_node("Relu", ["x"], ["r"])], [vi("r", F, [2])])
ok_else = br("e", [h.make_node("Neg", ["x"], ["n"])], [vi("n", F, [2])])
X = vi("x", F, [2])
err_model("err_cond_float", [h.make_node("If", ["c"], ["z"], name="bad_cond", then_branch=ok_then,
                                         else_branch=ok_else)], [vi("c", F, [1]), X], [vi("z", F, [2])])
err_model("err_cond_two", [h.make_node("If", ["c"], ["z"], name="two_conds", then_branch=ok_then,
                                       else_branch=ok_else)], [vi("c", B, [2]), X], [vi("z", F, [2])])
err_model("err_outputs", [h.make_node("If", ["c"], ["z"], name="count_if", then_branch=br(
    "t", [h.make_node("Relu", ["x"], ["r"]), h.make_node("Neg", ["x"], ["n"])], [vi("r", F, [2]), vi("n", F, [2])]),
    else_branch=ok_else)], [vi("c", B, [1]), X], [vi("z", F, [2])])
err_model("err_rank", [h.make_node("If", ["c"], ["z"], name="rank_if", then_branch=br(
    "t", [h.make_node("Unsqueeze", ["x", "ax"], ["u"]),
          h.make_node("Constant", [], ["ax"], value=numpy_helper.from_array(np.array([0], np.int64)))],
    [vi("u", F, [1, 2])]), else_branch=ok_else)], [vi("c", B, [1]), X], [vi("z", F, None)])
err_model("err_dtype", [h.make_node("If", ["c"], ["z"], name="dtype_if", then_branch=br(
    "t", [h.make_node("Shape", ["x"], ["s"])], [vi("s", TP.INT64, [1])]),
    else_branch=ok_else)], [vi("c", B, [1]), X], [vi("z", F, None)])
err_model("err_unsupported", [h.make_node("If", ["c"], ["z"], name="loop_if", then_branch=br(
    "t", [h.make_node("Loop", ["", "", "x"], ["l"], name="inner_loop")], [vi("l", F, [2])]),
    else_branch=ok_else)], [vi("c", B, [1]), X], [vi("z", F, [2])])
err_model("err_undefined", [h.make_node("If", ["c"], ["z"], name="undef_if", then_branch=br(
    "t", [h.make_node("Add", ["x", "nowhere"], ["a"], name="reads_nowhere")], [vi("a", F, [2])]),
    else_branch=ok_else)], [vi("c", B, [1]), X], [vi("z", F, [2])])
err_model("err_no_else", [h.make_node("If", ["c"], ["z"], name="half_if", then_branch=ok_then)],
          [vi("c", B, [1]), X], [vi("z", F, [2])])
print("wrote the err_* models")
