#!/usr/bin/env python3
"""With-past decoder fixtures (issue #15): test/e2e/past/<case>/ and generation goldens.

  python3 scripts/gen_past_fixtures.py [--cases NAME,...] [--no-generate]

Needs pip python3 with torch 2.15 + transformers 5 + onnx (+ onnxruntime for the cross-check); the
committed tests only need /usr/bin/python3 + numpy.

Every case is one decoder step of a tiny random *ForCausalLM (2 layers) exported WITH its KV cache, in
the Optimum / ORT-GenAI form:
  inputs  input_ids [batch, seq] i64, attention_mask [batch, past+seq] i64, position_ids [batch, seq] i64,
          per layer i: past_key_values.{i}.key|value [batch, kv_heads, past, head_dim] f32
  outputs logits [batch, seq, vocab], per layer present.{i}.key|value [batch, kv_heads, past+seq, head_dim]
(dynamic batch, seq and past; the `_renamed` case renames them past_key_{i} / past_value_{i} ->
present_key_{i} / present_value_{i} with onnx). The wrapper builds a transformers DynamicCache from the past
inputs and returns logits + the cache's layers.

Shape sets (shapes/<k>/{inputs,expected}): the past is REAL (PyTorch's present of the prefix, computed with the
same mask), position_ids are Hugging Face generate's (cumsum(mask) - 1, 1 at pads):
  0 decode          batch 2, past 7, seq 1
  1 chunked prefill batch 2, past 6, seq 5 (queries after a cache: causal aligned bottom-right)
  2 first step      batch 2, past 0 (empty past tensors), seq 6, item 1 left-padded by 2
  3 left-padded     batch 4, past 5, seq 3, items left-padded by 0, 1, 3, 6 (the last one's pads reach
                    into the new tokens)
  4 batch 1         batch 1, past 4, seq 1
The sliding-window family (mistral: sliding_window WINDOW = 8 < the contexts) has its own sets, with the
total length (past + seq) below, at and beyond the window (WINDOW_SETS):
  0 decode below    batch 2, past 5, seq 1 (total 6)
  1 decode at       batch 2, past 7, seq 1 (total 8 = window: every key still seen)
  2 decode past it  batch 2, past 8, seq 1 (total 9: key 0 leaves the window)
  3 decode beyond   batch 2, past 20, seq 1, item 1 left-padded by 3
  4 chunked prefill batch 2, past 6, seq 5 (total 11: the window cuts inside the new block)
  5 first step      batch 2, past 0, seq 12, item 1 left-padded by 2 (a prompt longer than the window)
  6 left-padded     batch 4, past 13, seq 3, left-padded by 0, 1, 3, 6
  7 batch 1         batch 1, past 9, seq 1
The window family's exports use export-time past 9 (> window) so that no tracer sees a context that fits the
window (transformers skips the window pattern there), and its generation golden is also checked against a
greedy loop over the WithPast wrapper itself (a full cache + the window mask, as the export computes; generate()
keeps a sliding-window cache instead).
Compared (test/e2e/past/compare_past.py) at real positions only: logits where mask[:, past:] == 1, the
present tensors where mask == 1 (along axis 2).

Generation goldens (<family>_gen/ beside the cases; the family's cases share the weights): Hugging Face
model.generate(do_sample=False, max_new_tokens=32, pad_token_id=0, no eos) on random prompt ids:
  b1/  batch 1, prompt 5;    b4/  batch 4, prompt 7, left-padded by 0, 2, 3, 5
each with input_ids.npy, attention_mask.npy, tokens.npy [B, 32] i64 and gen.json (top-2 logit gaps).
The initializer_range is the first of 0.15, 0.3, 0.5, 0.8 whose greedy decoding is not degenerate (>= 8
distinct tokens per row), agrees between eager and sdpa, and has no near tie (top-2 logit gap > 1e-3 at every
step of every row); the final norm is left at (1, 0) (a random bias there makes every step pick one token).
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import sys
from collections import OrderedDict

import numpy as np
import onnx
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "test", "e2e", "past")

VOCAB, HIDDEN, LAYERS, HEADS, KV_HEADS, INTER, POSITIONS = 128, 64, 2, 4, 2, 80, 128
NEW_TOKENS = 32
GAP_MIN = 1e-3

# (batch, past, seq, left pads per item)
SETS = [(2, 7, 1, [0, 0]), (2, 6, 5, [0, 0]), (2, 0, 6, [0, 2]), (4, 5, 3, [0, 1, 3, 6]), (1, 4, 1, [0])]
SET_NAMES = ["decode", "chunked_prefill", "first_step", "left_padded", "batch1"]
WINDOW = 8
WINDOW_SETS = [(2, 5, 1, [0, 0]), (2, 7, 1, [0, 0]), (2, 8, 1, [0, 0]), (2, 20, 1, [0, 3]), (2, 6, 5, [0, 0]),
               (2, 0, 12, [0, 2]), (4, 13, 3, [0, 1, 3, 6]), (1, 9, 1, [0])]
WINDOW_SET_NAMES = ["decode_below_window", "decode_at_window", "decode_past_window", "decode_beyond_window",
                    "chunked_prefill_across_window", "first_step_longer_than_window", "left_padded_beyond_window",
                    "batch1_beyond_window"]
GEN_SETS = OrderedDict([("b1", (1, 5, [0])), ("b4", (4, 7, [0, 2, 3, 5]))])

# family -> (config kwargs, description)
FAMILIES = OrderedDict([
    ("gpt2", "GPT2LMHeadModel(GPT2Config(vocab %d, n_embd %d, %d layers, 2 heads of 32, n_inner %d, n_positions %d))"
     % (VOCAB, HIDDEN, LAYERS, INTER, POSITIONS)),
    ("llama", "LlamaForCausalLM(LlamaConfig(vocab %d, hidden %d, %d layers, %d heads, %d kv heads (GQA 4:2), "
     "intermediate %d))" % (VOCAB, HIDDEN, LAYERS, HEADS, KV_HEADS, INTER)),
    ("qwen2", "Qwen2ForCausalLM(Qwen2Config(vocab %d, hidden %d, %d layers, %d heads, 1 kv head (MQA), q/k/v "
     "biases))" % (VOCAB, HIDDEN, LAYERS, HEADS)),
    ("mistral", "MistralForCausalLM(MistralConfig(vocab %d, hidden %d, %d layers, %d heads, %d kv heads (GQA 4:2), "
     "intermediate %d, sliding_window %d))" % (VOCAB, HIDDEN, LAYERS, HEADS, KV_HEADS, INTER, WINDOW)),
])
WINDOW_FAMILIES = ("mistral",)

# case -> (family, attn_implementation, exporter, rename to past_key_{i} style)
CASES = OrderedDict([
    ("gpt2", ("gpt2", "eager", "ts", False)),
    ("gpt2_sdpa", ("gpt2", "sdpa", "ts", False)),
    ("gpt2_dynamo", ("gpt2", "eager", "dynamo", False)),
    ("gpt2_sdpa_dynamo", ("gpt2", "sdpa", "dynamo", False)),
    ("llama", ("llama", "eager", "ts", False)),
    ("llama_sdpa", ("llama", "sdpa", "ts", False)),
    ("llama_dynamo", ("llama", "eager", "dynamo", False)),
    ("llama_sdpa_dynamo", ("llama", "sdpa", "dynamo", False)),
    ("qwen2_renamed", ("qwen2", "sdpa", "ts", True)),
    ("mistral_window", ("mistral", "eager", "ts", False)),
    ("mistral_window_sdpa_dynamo", ("mistral", "sdpa", "dynamo", False)),
])


def seed_of(name):
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % (2 ** 31)


def make_model(family, impl, init):
    import transformers
    torch.manual_seed(seed_of("past-" + family))
    if family == "gpt2":
        cfg = transformers.GPT2Config(vocab_size=VOCAB, n_embd=HIDDEN, n_layer=LAYERS, n_head=2, n_inner=INTER,
                                      n_positions=POSITIONS, initializer_range=init, bos_token_id=None,
                                      eos_token_id=None, pad_token_id=0, attn_implementation=impl)
        m = transformers.GPT2LMHeadModel(cfg)
    elif family == "llama":
        cfg = transformers.LlamaConfig(vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=LAYERS,
                                       num_attention_heads=HEADS, num_key_value_heads=KV_HEADS,
                                       intermediate_size=INTER, max_position_embeddings=POSITIONS,
                                       initializer_range=init, bos_token_id=None, eos_token_id=None,
                                       pad_token_id=0, attn_implementation=impl)
        m = transformers.LlamaForCausalLM(cfg)
    elif family == "mistral":
        cfg = transformers.MistralConfig(vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=LAYERS,
                                         num_attention_heads=HEADS, num_key_value_heads=KV_HEADS,
                                         intermediate_size=INTER, max_position_embeddings=POSITIONS,
                                         sliding_window=WINDOW, initializer_range=init, bos_token_id=None,
                                         eos_token_id=None, pad_token_id=0, attn_implementation=impl)
        m = transformers.MistralForCausalLM(cfg)
    else:
        cfg = transformers.Qwen2Config(vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=LAYERS,
                                       num_attention_heads=HEADS, num_key_value_heads=1,
                                       intermediate_size=INTER, max_position_embeddings=POSITIONS,
                                       initializer_range=init, bos_token_id=None, eos_token_id=None,
                                       pad_token_id=0, attn_implementation=impl)
        m = transformers.Qwen2ForCausalLM(cfg)
    with torch.no_grad():
        for mod in m.modules():
            cls = type(mod).__name__
            if isinstance(mod, torch.nn.LayerNorm):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.5, 0.5)
            elif cls.endswith("RMSNorm"):
                mod.weight.uniform_(0.5, 1.5)
        for name, p in m.named_parameters():
            if name.endswith("bias") and ".ln_" not in name:
                p.uniform_(-0.5, 0.5)
        # The final norm stays (1, 0): a random bias there dominates every position's logits and greedy
        # decoding repeats one token.
        for n, mod in m.named_modules():
            if n.endswith("ln_f") or n == "model.norm":
                mod.weight.fill_(1.0)
                if getattr(mod, "bias", None) is not None:
                    mod.bias.zero_()
    m.generation_config.eos_token_id = None
    m.generation_config.bos_token_id = None
    m.generation_config.pad_token_id = 0
    return m.eval()


def kv_dims(m):
    c = m.config
    if c.model_type == "gpt2":
        return c.n_layer, c.n_head, c.n_embd // c.n_head
    return c.num_hidden_layers, c.num_key_value_heads, c.hidden_size // c.num_attention_heads


class WithPast(torch.nn.Module):
    """forward(input_ids, attention_mask, position_ids, k0, v0, k1, v1, ...) -> logits, present k0, v0, ..."""

    def __init__(self, m):
        super().__init__()
        self.m = m
        self.layers = kv_dims(m)[0]

    def forward(self, input_ids, attention_mask, position_ids, *past):
        from transformers import DynamicCache
        cache = DynamicCache()
        for i in range(self.layers):
            cache.update(past[2 * i], past[2 * i + 1], i)
        o = self.m(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                   past_key_values=cache, use_cache=True, return_dict=True)
        outs = [o.logits]
        for i in range(self.layers):
            outs += [o.past_key_values.layers[i].keys, o.past_key_values.layers[i].values]
        return tuple(outs)


class WithPast2(WithPast):
    """WithPast with named past arguments (torch.export matches dynamic_shapes to the flat signature)."""

    def forward(self, input_ids, attention_mask, position_ids, k0, v0, k1, v1):
        return super().forward(input_ids, attention_mask, position_ids, k0, v0, k1, v1)


def io_names(layers):
    ins = ["input_ids", "attention_mask", "position_ids"]
    outs = ["logits"]
    for i in range(layers):
        ins += ["past_key_values.%d.key" % i, "past_key_values.%d.value" % i]
        outs += ["present.%d.key" % i, "present.%d.value" % i]
    return ins, outs


def renamed(name):
    m = re.fullmatch(r"(past_key_values|present)\.(\d+)\.(key|value)", name)
    if not m:
        return name
    return "%s_%s_%s" % ("past" if m.group(1) == "past_key_values" else "present", m.group(3), m.group(2))


def hf_mask(batch, total, pads):
    m = torch.ones(batch, total, dtype=torch.int64)
    for i, p in enumerate(pads):
        m[i, :p] = 0
    return m


def hf_positions(mask):
    pos = mask.cumsum(-1) - 1
    return pos.masked_fill(mask == 0, 1)


def step_inputs(m, gen, batch, past, seq, pads):
    """Inputs of one step with a REAL past: PyTorch's present of the prefix."""
    layers, kvh, hd = kv_dims(m)
    ids = torch.randint(1, VOCAB, (batch, past + seq), generator=gen, dtype=torch.int64)
    mask = hf_mask(batch, past + seq, pads)
    ids = ids.masked_fill(mask == 0, 0)       # pad id 0, as generate would see it
    pos = hf_positions(mask)
    w = WithPast(m)
    empty = [torch.zeros(batch, kvh, 0, hd) for _ in range(2 * layers)]
    if past > 0:
        with torch.no_grad():
            pre = w(ids[:, :past], mask[:, :past], pos[:, :past], *empty)
        pkv = [t.contiguous() for t in pre[1:]]
    else:
        pkv = empty
    return [ids[:, past:], mask, pos[:, past:]] + pkv


def export(m, exporter, path, in_names, out_names):
    import warnings
    w = (WithPast(m) if exporter == "ts" else WithPast2(m)).eval()
    gen = torch.Generator().manual_seed(7)
    # export-time shapes: batch 2, past 4, seq 3 (none 0 or 1: torch.export would specialize them); a
    # sliding-window model is traced with past + seq beyond its window (past 9)
    window = m.config.model_type in WINDOW_FAMILIES
    args = step_inputs(m, gen, 2, 9 if window else 4, 3, [0, 0])
    layers = kv_dims(m)[0]
    assert exporter == "ts" or layers == 2, "WithPast2 spells out 2 layers"
    if exporter == "ts":
        ax = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "total"},
              "position_ids": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}}
        for n in in_names[3:]:
            ax[n] = {0: "batch", 2: "past"}
        for n in out_names[1:]:
            ax[n] = {0: "batch", 2: "total"}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(w, tuple(args), path, dynamo=False, opset_version=17, input_names=in_names,
                              output_names=out_names, dynamic_axes=ax, do_constant_folding=True)
        return {"exporter": "torch.onnx.export(dynamo=False) (TorchScript), opset 17", "dynamic_axes": ax}
    import logging
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    B, S = torch.export.Dim("batch", min=1, max=1024), torch.export.Dim("seq", min=1, max=4096)
    P, T = torch.export.Dim("past", min=0, max=4096), torch.export.Dim("total", min=1, max=8192)
    ds = [{0: B, 1: S}, {0: B, 1: T}, {0: B, 1: S}] + [{0: B, 2: P} for _ in range(2 * layers)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prog = torch.onnx.export(w, tuple(args), None, dynamo=True, input_names=in_names, output_names=out_names,
                                 dynamic_shapes=tuple(ds), verbose=False)
    prog.save(path)
    mp = onnx.load(path)
    for node in mp.graph.node:          # source stack traces: large, and hold local paths
        del node.metadata_props[:]
        node.doc_string = ""
    onnx.save(mp, path)
    return {"exporter": "torch.onnx.export(dynamo=True) + onnxscript", "dynamic_shapes":
            "batch, seq, past (min 0), total = past + seq"}


def rename_io(path):
    mp = onnx.load(path)
    mapping = {}
    for v in list(mp.graph.input) + list(mp.graph.output):
        new = renamed(v.name)
        if new != v.name:
            mapping[v.name] = new
            v.name = new
    for node in mp.graph.node:
        for k, n in enumerate(node.input):
            if n in mapping:
                node.input[k] = mapping[n]
        for k, n in enumerate(node.output):
            if n in mapping:
                node.output[k] = mapping[n]
    onnx.checker.check_model(mp)
    onnx.save(mp, path)


def save(path, arr):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, np.ascontiguousarray(arr), allow_pickle=False)


def rel(p):
    return os.path.relpath(p, ROOT)


DTYPES = {np.dtype(np.int64): "i64", np.dtype(np.float32): "f32"}


def sig(mp):
    def vi(v):
        tt = v.type.tensor_type
        return OrderedDict([("name", v.name), ("elem_type", tt.elem_type),
                            ("shape", [d.dim_param if d.HasField("dim_param") else
                                       (d.dim_value if d.HasField("dim_value") else "?") for d in tt.shape.dim])])
    inits = {i.name for i in mp.graph.initializer}
    return [vi(v) for v in mp.graph.input if v.name not in inits], [vi(v) for v in mp.graph.output]


def ort_check(path, sets, in_names):
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    errs = []
    for inputs, outputs, past, seq, mask in sets:
        got = sess.run(None, dict(zip(in_names, [t.numpy() for t in inputs])))
        e = 0.0
        for k, (g, r) in enumerate(zip(got, outputs)):
            r = r.numpy()
            sel = real_selection(k, r.shape, mask.numpy(), past)
            g, r = g[sel] if k == 0 else np.moveaxis(g, 2, 1)[sel], r[sel] if k == 0 else np.moveaxis(r, 2, 1)[sel]
            if r.size:
                e = max(e, float(np.abs(g - r).max()) / max(1.0, float(np.abs(r).max())))
        errs.append(e)
    return OrderedDict([("onnxruntime", ort.__version__), ("settings", "CPUExecutionProvider, ORT_DISABLE_ALL"),
                        ("per_set_err", errs), ("within_tol", max(errs) <= 1e-4)])


def real_selection(k, shape, mask, past):
    """Boolean index of the real positions: logits [B, T] (k == 0), presents [B, P+T] (axis 2 moved to 1)."""
    return mask[:, past:] != 0 if k == 0 else mask != 0


def build_case(name, scale_of):
    family, impl, exporter, rename = CASES[name]
    m = make_model(family, impl, scale_of[family])
    layers, kvh, hd = kv_dims(m)
    in_names, out_names = io_names(layers)
    case_dir = os.path.join(OUT, name)
    shutil.rmtree(case_dir, ignore_errors=True)
    os.makedirs(case_dir)
    path = os.path.join(case_dir, "model.onnx")
    info = export(m, exporter, path, in_names, out_names)
    if rename:
        rename_io(path)
        in_names = [renamed(n) for n in in_names]
        out_names = [renamed(n) for n in out_names]
        info["postprocess"] = "inputs/outputs renamed with onnx: past_key_values.{i}.key -> past_key_{i}, " \
                              "present.{i}.key -> present_key_{i} (values likewise)"
    mp = onnx.load(path)
    onnx.checker.check_model(mp)
    sig_in, sig_out = sig(mp)
    assert [s["name"] for s in sig_in] == in_names, [s["name"] for s in sig_in]
    assert [s["name"] for s in sig_out] == out_names, [s["name"] for s in sig_out]

    gen = torch.Generator().manual_seed(seed_of(name) + 1)
    w = WithPast(m).eval()
    sets_info, ort_sets = [], []
    sets, set_names = (WINDOW_SETS, WINDOW_SET_NAMES) if family in WINDOW_FAMILIES else (SETS, SET_NAMES)
    for k, (batch, past, seq, pads) in enumerate(sets):
        inputs = step_inputs(m, gen, batch, past, seq, pads)
        with torch.no_grad():
            outputs = list(w(*inputs))
        assert torch.isfinite(outputs[0][inputs[1][:, past:] != 0]).all()
        set_dir = os.path.join(case_dir, "shapes", str(k))
        ins, outs = [], []
        for n, t in zip(in_names, inputs):
            f = os.path.join(set_dir, "inputs", n + ".npy")
            save(f, t.numpy())
            ins.append(OrderedDict([("name", n), ("file", rel(f)), ("dtype", DTYPES[t.numpy().dtype]),
                                    ("shape", list(t.shape))]))
        for n, t in zip(out_names, outputs):
            f = os.path.join(set_dir, "expected", n.replace("/", "_") + ".npy")
            save(f, t.numpy())
            outs.append(OrderedDict([("name", n), ("file", rel(f)), ("dtype", "f32"), ("shape", list(t.shape))]))
        sets_info.append(OrderedDict([("set", k), ("what", set_names[k]), ("batch", batch), ("past", past),
                                      ("seq", seq), ("left_pads", pads), ("dir", rel(set_dir)),
                                      ("inputs", ins), ("outputs", outs)]))
        ort_sets.append((inputs, outputs, past, seq, inputs[1]))
    import transformers
    case = OrderedDict()
    case["case"] = name
    case["model"] = "transformers %s, attn_implementation=%r, random weights (seed %d), norm weights/biases " \
                    "randomized, initializer_range %g, final norm (1, 0); wrapper WithPast (DynamicCache from the past " \
                    "inputs, use_cache=True)" % (FAMILIES[family], impl, seed_of("past-" + family),
                                                scale_of[family])
    case["family"] = family
    case["attn_implementation"] = impl
    case["model_file"] = rel(path)
    case["tolerance"] = 1e-4
    case["metric"] = "max|got-ref| / max(1, max|ref|) at real positions (compare_past.py)"
    case["generator"] = OrderedDict([("script", "scripts/gen_past_fixtures.py"), ("torch", torch.__version__),
                                     ("transformers", transformers.__version__), ("onnx", onnx.__version__)])
    case["generator"].update(info)
    case["onnx"] = OrderedDict([("ir_version", mp.ir_version),
                                ("opset", {o.domain or "ai.onnx": o.version for o in mp.opset_import}),
                                ("inputs", sig_in), ("outputs", sig_out),
                                ("op_types", sorted(set(n.op_type for n in mp.graph.node)))])
    case["past_pairs"] = [[a, b] for a, b in zip(in_names[3:], out_names[1:])]
    case["shape_sets"] = sets_info
    case["compare"] = OrderedDict([("about", "compare_past.py: logits[b, s] only where attention_mask[b, past + s] "
                                             "== 1, present[b, :, j] only where attention_mask[b, j] == 1")])
    case["ort_check"] = ort_check(path, ort_sets, in_names)
    case["generation_golden"] = "test/e2e/past/%s_gen (same weights)" % family
    with open(os.path.join(case_dir, "case.json"), "w") as f:
        json.dump(case, f, indent=1)
        f.write("\n")
    size = sum(os.path.getsize(os.path.join(d, x)) for d, _, fs in os.walk(case_dir) for x in fs)
    print("%s: %d bytes, ort %s" % (name, size, case["ort_check"] and case["ort_check"]["per_set_err"]))
    return case


def greedy_golden(m, gen, batch, prompt, pads):
    ids = torch.randint(1, VOCAB, (batch, prompt), generator=gen, dtype=torch.int64)
    mask = hf_mask(batch, prompt, pads)
    ids = ids.masked_fill(mask == 0, 0)
    with torch.no_grad():
        o = m.generate(input_ids=ids, attention_mask=mask, do_sample=False, max_new_tokens=NEW_TOKENS,
                       min_new_tokens=NEW_TOKENS, pad_token_id=0, eos_token_id=None, output_logits=True,
                       return_dict_in_generate=True)
    tokens = o.sequences[:, prompt:]
    assert tokens.shape == (batch, NEW_TOKENS), tokens.shape
    logits = torch.stack(o.logits, 1)                       # [B, 32, V]
    top2 = logits.topk(2, -1).values
    gaps = (top2[..., 0] - top2[..., 1])
    assert (logits.argmax(-1) == tokens).all()
    distinct = [len(set(r.tolist())) for r in tokens]
    return ids, mask, tokens, float(gaps.min()), distinct


def wrapper_greedy(m, ids, mask, n):
    """Greedy decoding through the WithPast wrapper (full cache, the exported mask), step by step."""
    layers, kvh, hd = kv_dims(m)
    w = WithPast(m).eval()
    batch = ids.shape[0]
    past = [torch.zeros(batch, kvh, 0, hd) for _ in range(2 * layers)]
    cur, toks = ids, []
    for _ in range(n):
        pos = hf_positions(mask)[:, -cur.shape[1]:]
        with torch.no_grad():
            o = w(cur, mask, pos, *past)
        nxt = o[0][:, -1].argmax(-1, keepdim=True)
        toks.append(nxt)
        past = list(o[1:])
        cur = nxt
        mask = torch.cat([mask, torch.ones(batch, 1, dtype=mask.dtype)], 1)
    return torch.cat(toks, 1)


def build_generation(family, scale):
    m = make_model(family, "eager", scale)
    gen = torch.Generator().manual_seed(seed_of("gen-" + family))
    out = OrderedDict()
    results = {}
    for key, (batch, prompt, pads) in GEN_SETS.items():
        ids, mask, tokens, gap, distinct = greedy_golden(m, gen, batch, prompt, pads)
        # the sdpa implementation must agree (the exports of the family use both)
        m2 = make_model(family, "sdpa", scale)
        with torch.no_grad():
            o2 = m2.generate(input_ids=ids, attention_mask=mask, do_sample=False, max_new_tokens=NEW_TOKENS,
                             min_new_tokens=NEW_TOKENS, pad_token_id=0, eos_token_id=None)
        same = bool((o2[:, prompt:] == tokens).all())
        if family in WINDOW_FAMILIES:
            # generate() keeps a sliding-window cache; the export a full cache + the window mask
            same = same and bool((wrapper_greedy(m, ids, mask, NEW_TOKENS) == tokens).all())
        results[key] = (ids, mask, tokens, gap, distinct, same)
    return results


def ok_generation(results):
    for ids, mask, tokens, gap, distinct, same in results.values():
        if gap <= GAP_MIN or min(distinct) < 8 or not same:
            return False
    return True


def write_generation(family, scale, results):
    d = os.path.join(OUT, family + "_gen")
    shutil.rmtree(d, ignore_errors=True)
    meta = OrderedDict([("family", family), ("model", FAMILIES[family]), ("initializer_range", scale),
                        ("cases", "test/e2e/past/%s* (the same weights)" % family),
                        ("reference", "transformers generate(do_sample=False, max_new_tokens=%d, min_new_tokens=%d, "
                                      "pad_token_id=0, eos_token_id=None), attn_implementation eager (sdpa gives "
                                      "the same tokens)" % (NEW_TOKENS, NEW_TOKENS)),
                        ("sets", OrderedDict())])
    for key, (ids, mask, tokens, gap, distinct, same) in results.items():
        save(os.path.join(d, key, "input_ids.npy"), ids.numpy())
        save(os.path.join(d, key, "attention_mask.npy"), mask.numpy())
        save(os.path.join(d, key, "tokens.npy"), tokens.numpy())
        meta["sets"][key] = OrderedDict([("shape", list(ids.shape)), ("left_pads", GEN_SETS[key][2]),
                                         ("min_top2_gap", gap), ("distinct_tokens_per_row", distinct),
                                         ("tokens", tokens.tolist())])
    with open(os.path.join(d, "gen.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print("%s_gen: initializer_range %g, gaps %s" % (family, scale, {k: v[3] for k, v in results.items()}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--no-generate", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    names = args.cases.split(",")
    families = sorted(set(CASES[n][0] for n in names), key=list(FAMILIES).index)
    scale_of = {}
    for fam in families:
        # the smallest initializer_range (of a fixed list) whose greedy sequences are good goldens
        for scale in (0.15, 0.3, 0.5, 0.8):
            res = build_generation(fam, scale)
            if ok_generation(res):
                break
            print("%s: scale %g rejected: %s" % (fam, scale, {k: (v[3], v[4], v[5]) for k, v in res.items()}))
        else:
            sys.exit("%s: no initializer_range gives a usable generation golden" % fam)
        scale_of[fam] = scale
        if not args.no_generate and fam in ("gpt2", "llama") + WINDOW_FAMILIES:
            write_generation(fam, scale, res)
    for n in names:
        build_case(n, scale_of)


if __name__ == "__main__":
    main()
