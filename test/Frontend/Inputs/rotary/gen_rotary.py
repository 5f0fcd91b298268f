"""Makes the RotaryEmbedding fixtures of rotary-embedding.test: small ONNX models (opset 23
`RotaryEmbedding` and ONNX Runtime's `com.microsoft::RotaryEmbedding`) with dynamic batch/sequence,
random inputs for two shape sets, and the expected outputs (opset 23: onnx.reference.ReferenceEvaluator;
contrib: onnxruntime; both cross-checked against onnxruntime / a numpy model of the op).
Run with pip's python3 (onnx 1.23, onnxruntime 1.32, numpy): python3 gen_rotary.py (writes next to itself)."""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
MAXPOS = 32


def numpy_rotary(x4, cos, sin, interleaved, r):
    """x4 [B, S, H, D] (or any [.., S-broadcast, D]); cos/sin [B, S, 1, r/2]."""
    y = x4[..., :r]
    if interleaved:
        x1, x2 = y[..., 0::2], y[..., 1::2]
    else:
        x1, x2 = y[..., :r // 2], y[..., r // 2:]
    re, im = x1 * cos - x2 * sin, x1 * sin + x2 * cos
    out = x4.copy()
    if interleaved:
        out[..., 0:r:2], out[..., 1:r:2] = re, im
    else:
        out[..., :r] = np.concatenate([re, im], -1)
    return out


# name, domain, x layout ("bhsd" | "bsh"), heads, head dim, rotary dim (0 = full), interleaved, positions
CASES = [
    ("onnx_bhsd_half", "", "bhsd", 2, 16, 0, 0, True),
    ("onnx_bsh_interleaved", "", "bsh", 3, 8, 0, 1, True),
    ("onnx_partial", "", "bhsd", 2, 16, 8, 0, True),
    ("onnx_no_positions", "", "bsh", 2, 8, 0, 0, False),
    ("onnx_bsh_partial_interleaved", "", "bsh", 2, 24, 12, 1, True),
    ("ms_bsh_half", "com.microsoft", "bsh", 4, 16, 0, 0, True),
    ("ms_bsh_partial_interleaved", "com.microsoft", "bsh", 2, 32, 16, 1, True),
]
SHAPES = [(2, 5), (1, 9)]


def make(name, domain, layout, heads, d, rdim, inter, pos):
    r = rdim or d
    xs = ["B", heads, "S", d] if layout == "bhsd" else ["B", "S", heads * d]
    cache = [MAXPOS, r // 2] if pos else ["B", "S", r // 2]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, xs)]
    attrs = {"interleaved": inter}
    if rdim:
        attrs["rotary_embedding_dim"] = rdim
    if layout == "bsh" or domain:
        attrs["num_heads"] = heads
    if domain:
        names = ["x", "position_ids", "cos_cache", "sin_cache"]
        inputs += [helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["B", "S"])]
    else:
        names = ["x", "cos_cache", "sin_cache"] + (["position_ids"] if pos else [])
    inputs += [helper.make_tensor_value_info("cos_cache", TensorProto.FLOAT, cache),
               helper.make_tensor_value_info("sin_cache", TensorProto.FLOAT, cache)]
    if pos and not domain:
        inputs += [helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["B", "S"])]
    node = helper.make_node("RotaryEmbedding", names, ["y"], domain=domain, name="rope", **attrs)
    graph = helper.make_graph([node], name, inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, xs)])
    opsets = [helper.make_opsetid("", 23)] + ([helper.make_opsetid("com.microsoft", 1)] if domain else [])
    model = helper.make_model(graph, opset_imports=opsets, ir_version=10)
    if not domain:
        onnx.checker.check_model(model, full_check=True)
    return model, r


def main():
    import onnxruntime as ort
    from onnx.reference import ReferenceEvaluator
    manifest = []
    for ci, (name, domain, layout, heads, d, rdim, inter, pos) in enumerate(CASES):
        model, r = make(name, domain, layout, heads, d, rdim, inter, pos)
        path = os.path.join(HERE, name + ".onnx")
        onnx.save(model, path)
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        for k, (b, s) in enumerate(SHAPES):
            rng = np.random.default_rng(100 * ci + k)
            x = rng.standard_normal((b, heads, s, d) if layout == "bhsd" else (b, s, heads * d)).astype(np.float32)
            if pos:
                ang = rng.uniform(0, 2 * np.pi, (MAXPOS, r // 2))
                ids = rng.integers(0, MAXPOS, (b, s)).astype(np.int64)
            else:
                ang = rng.uniform(0, 2 * np.pi, (b, s, r // 2))
            feeds = {"x": x, "cos_cache": np.cos(ang).astype(np.float32), "sin_cache": np.sin(ang).astype(np.float32)}
            if pos:
                feeds["position_ids"] = ids
            got_ort = sess.run(None, feeds)[0]
            c, sn = feeds["cos_cache"], feeds["sin_cache"]
            if pos:
                c, sn = c[ids], sn[ids]
            x4 = x.transpose(0, 2, 1, 3) if layout == "bhsd" else x.reshape(b, s, heads, d)
            ref_np = numpy_rotary(x4.astype(np.float64), c[:, :, None].astype(np.float64), sn[:, :, None].astype(np.float64), inter, r)
            ref_np = ref_np.transpose(0, 2, 1, 3) if layout == "bhsd" else ref_np.reshape(b, s, heads * d)
            if domain:
                expected = got_ort
            else:
                expected = ReferenceEvaluator(model).run(None, feeds)[0]
                assert np.abs(expected - got_ort).max() < 1e-5, (name, "reference vs onnxruntime")
            err = np.abs(expected - ref_np).max()
            assert err < 1e-5, (name, k, "numpy model", err)
            out = os.path.join(HERE, "%s.%d" % (name, k))
            for n, v in feeds.items():
                np.save("%s.%s.npy" % (out, n), v)
            np.save(out + ".expected.npy", expected.astype(np.float32))
        manifest.append({"name": name, "inputs": list(model.graph.input[i].name for i in range(len(model.graph.input))),
                         "sets": len(SHAPES)})
    with open(os.path.join(HERE, "cases.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print("ok", len(manifest))


if __name__ == "__main__":
    main()
