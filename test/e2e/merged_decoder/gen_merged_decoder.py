"""Makes test/e2e/merged_decoder: an Optimum-style merged decoder of a tiny random GPT-2 (2 layers, 2
heads, head dim 32, vocab 100): a top-level If on the bool input `use_cache_branch` whose else branch is
the no-past export and whose then branch is the with-past export, the weights shared as top-level
initializers, both branches producing logits + present.{i}.key|value (Optimum's merge_decoders layout).
The merge is written here with onnx.helper (optimum-onnx needs transformers < 4.58).

Run with the pip python3 (torch 2.x, transformers 5.x, onnx, onnxruntime):
    python3 gen_merged_decoder.py
Writes model.onnx, sets/<k>/inputs/*.npy and sets/<k>/expected/*.npy (expected = onnxruntime on the
merged file; the script also checks ORT against PyTorch) and cases.json."""
import copy
import hashlib
import json
import os
import shutil
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import helper as h
from transformers import DynamicCache, GPT2Config, GPT2LMHeadModel

here = os.path.dirname(os.path.abspath(__file__))
L, H, D, V = 2, 2, 32, 100
torch.manual_seed(0)
cfg = GPT2Config(vocab_size=V, n_embd=H * D, n_layer=L, n_head=H, n_positions=64,
                 attn_implementation="eager")
model = GPT2LMHeadModel(cfg).eval()
# The reference: an untouched copy (tracing the with-past wrapper leaves state behind in `model`).
ref_model = copy.deepcopy(model)
past_names = [f"past_key_values.{i}.{kv}" for i in range(L) for kv in ("key", "value")]
present_names = [f"present.{i}.{kv}" for i in range(L) for kv in ("key", "value")]


class WithPast(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask, *past):
        c = DynamicCache()
        for i in range(L):
            c.update(past[2 * i], past[2 * i + 1], i)
        o = self.m(input_ids=input_ids, attention_mask=attention_mask, past_key_values=c, use_cache=True)
        outs = [o.logits]
        for i in range(L):
            outs += [o.past_key_values.layers[i].keys, o.past_key_values.layers[i].values]
        return tuple(outs)


class NoPast(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask):
        o = self.m(input_ids=input_ids, attention_mask=attention_mask, use_cache=True)
        outs = [o.logits]
        for i in range(L):
            outs += [o.past_key_values.layers[i].keys, o.past_key_values.layers[i].values]
        return tuple(outs)


tmp = tempfile.mkdtemp()
ids = torch.randint(0, V, (2, 3))
am = torch.ones(2, 3, dtype=torch.int64)
am[1, 0] = 0  # padded example inputs: the traced graph keeps the mask path
ax = {"input_ids": {0: "batch_size", 1: "sequence_length"},
      "attention_mask": {0: "batch_size", 1: "total_sequence_length"}}
for n in present_names:
    ax[n] = {0: "batch_size", 2: "total_sequence_length"}
ax["logits"] = {0: "batch_size", 1: "sequence_length"}
torch.onnx.export(NoPast(model), (ids, am), os.path.join(tmp, "no_past.onnx"),
                  input_names=["input_ids", "attention_mask"], output_names=["logits"] + present_names,
                  dynamic_axes=ax, opset_version=17, dynamo=False)
past = [torch.randn(2, H, 4, D) for _ in range(2 * L)]
am2 = torch.ones(2, 7, dtype=torch.int64)
am2[1, :2] = 0
ax2 = dict(ax)
for n in past_names:
    ax2[n] = {0: "batch_size", 2: "past_sequence_length"}
torch.onnx.export(WithPast(model), (ids, am2, *past), os.path.join(tmp, "with_past.onnx"),
                  input_names=["input_ids", "attention_mask"] + past_names,
                  output_names=["logits"] + present_names, dynamic_axes=ax2, opset_version=17, dynamo=False)

no_past = onnx.load(os.path.join(tmp, "no_past.onnx"))
with_past = onnx.load(os.path.join(tmp, "with_past.onnx"))
shutil.rmtree(tmp)

# Shared initializers (deduplicated by content) at the top level; every other name inside a branch gets
# the branch's prefix, so that the branches' names never clash with each other or the outer graph.
top_inits, by_hash = [], {}
outer_inputs = {"input_ids", "attention_mask", *past_names}


def branch(m, tag):
    g = m.graph
    rename = {}
    for t in g.initializer:
        key = hashlib.sha256(t.SerializeToString().replace(t.name.encode(), b"")).hexdigest()
        key += str(t.data_type) + str(list(t.dims))
        if key not in by_hash:
            new = onnx.TensorProto()
            new.CopyFrom(t)
            new.name = "shared_%d" % len(top_inits)
            top_inits.append(new)
            by_hash[key] = new.name
        rename[t.name] = by_hash[key]

    def nm(x):
        if not x or x in outer_inputs:
            return x
        return rename.get(x, tag + "/" + x)

    nodes = []
    for n in g.node:
        nn = onnx.NodeProto()
        nn.CopyFrom(n)
        del nn.input[:]
        nn.input.extend([nm(x) for x in n.input])
        del nn.output[:]
        nn.output.extend([nm(x) for x in n.output])
        nn.name = tag + "/" + (n.name or n.op_type)
        nodes.append(nn)
    outs = []
    for o in g.output:
        oo = onnx.ValueInfoProto()
        oo.CopyFrom(o)
        oo.name = nm(o.name)
        outs.append(oo)
    return h.make_graph(nodes, tag, [], outs)


then_g = branch(with_past, "with_past")
else_g = branch(no_past, "no_past")
inputs = list(with_past.graph.input) + [h.make_tensor_value_info("use_cache_branch", onnx.TensorProto.BOOL, [1])]
outputs = []
for o in with_past.graph.output:
    oo = onnx.ValueInfoProto()
    oo.CopyFrom(o)
    outputs.append(oo)
if_node = h.make_node("If", ["use_cache_branch"], [o.name for o in outputs], name="optimum::if",
                      then_branch=then_g, else_branch=else_g)
graph = h.make_graph([if_node], "merged_decoder", inputs, outputs, initializer=top_inits)
merged = h.make_model(graph, opset_imports=list(with_past.opset_import), producer_name="gen_merged_decoder.py")
merged.ir_version = with_past.ir_version
onnx.checker.check_model(merged)
path = os.path.join(here, "model.onnx")
onnx.save(merged, path)
print("initializers: no-past %d, with-past %d, merged %d" %
      (len(no_past.graph.initializer), len(with_past.graph.initializer), len(top_inits)))

# Input sets: no cache (empty past, a left-padded row), then decode steps with a cache.
rng = np.random.default_rng(0)
sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
sets = []
for B, S, P, use in [(2, 5, 0, False), (1, 3, 0, False), (2, 1, 6, True), (2, 3, 4, True)]:
    feeds = {"input_ids": rng.integers(0, V, (B, S)).astype(np.int64),
             "attention_mask": np.ones((B, P + S), np.int64),
             "use_cache_branch": np.array([use])}
    if B == 2:
        feeds["attention_mask"][1, :2] = 0  # left padding in row 1
    for n in past_names:
        feeds[n] = rng.standard_normal((B, H, P, D)).astype(np.float32)
    got = sess.run(None, feeds)
    # PyTorch reference for the same inputs.
    with torch.no_grad():
        if use:
            ref = WithPast(ref_model)(torch.from_numpy(feeds["input_ids"]), torch.from_numpy(feeds["attention_mask"]),
                                  *[torch.from_numpy(feeds[n]) for n in past_names])
        else:
            ref = NoPast(ref_model)(torch.from_numpy(feeds["input_ids"]), torch.from_numpy(feeds["attention_mask"]))
    for a, r in zip(got, ref):
        r = r.numpy()
        assert a.shape == r.shape, (a.shape, r.shape)
        err = np.abs(a - r).max() / max(1.0, np.abs(r).max())
        assert err < 1e-4, (B, S, P, use, err)
    k = len(sets)
    d = os.path.join(here, "sets", str(k))
    os.makedirs(os.path.join(d, "inputs"), exist_ok=True)
    os.makedirs(os.path.join(d, "expected"), exist_ok=True)
    for n, a in feeds.items():
        np.save(os.path.join(d, "inputs", n + ".npy"), a)
    for o, a in zip(outputs, got):
        np.save(os.path.join(d, "expected", o.name + ".npy"), a)
    sets.append({"batch": B, "seq": S, "past": P, "use_cache_branch": use})
json.dump({"inputs": [i.name for i in inputs], "outputs": [o.name for o in outputs], "sets": sets,
           "made_by": "gen_merged_decoder.py (pip python3: torch %s, onnx %s, onnxruntime %s)" %
           (torch.__version__, onnx.__version__, ort.__version__)},
          open(os.path.join(here, "cases.json"), "w"), indent=1)
print("sets:", sets)
