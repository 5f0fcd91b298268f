#!/usr/bin/python3
"""Generate attnc's end-to-end conformance fixtures under test/e2e/ (and examples/selfattn/).

Interpreters and exporters (see /work/shared/CONTRACT.md, "Python"):
  /usr/bin/python3 scripts/gen_fixtures.py                 # --set skeleton (default)
      Debian's interpreter: python3-torch 1.13, python3-onnx 1.12. TorchScript exporter,
      torch.onnx.export(..., opset_version=17)  ->  ONNX IR 8, opset 17.
      Writes the walking-skeleton cases (the seed's SelfAttention), the seed's model family
      (TransformerBlock, Encoder, DecoderBlock, Decoder, Encoder->Decoder "Transformer"; models
      and wrappers in scripts/seed_models.py) and examples/selfattn/.
  python3 scripts/gen_fixtures.py --set dynamo             # optional variants
      The pip interpreter: torch 2.x + onnxscript. torch.onnx.export(..., dynamo=True)
      ->  ONNX IR 10, opset 18+ (what current PyTorch emits).
  python3 scripts/gen_fixtures.py --set ts18               # optional variants
      The pip interpreter's torch 2.x TorchScript exporter, torch.onnx.export(..., dynamo=False,
      opset_version=18), static shapes only.
  python3 scripts/gen_fixtures.py --set hf                 # Hugging Face models
      The pip interpreter with transformers 5: BertModel and GPT2Model (small random configs,
      attn_implementation "eager" and "sdpa") exported by torch.onnx.export(dynamo=False,
      opset_version=17) with dynamic batch/seq, and the same models with dynamo=True.
  python3 scripts/gen_fixtures.py --set llm                # decoder LLMs (issue #14)
      The pip interpreter with transformers 5: Llama, Qwen2, Mistral, Phi-3, Gemma, Gemma-2, Gemma-3
      *ForCausalLM (small random configs, eager and sdpa), TorchScript opset 17 and dynamo=True,
      dynamic batch/seq, right/left padding; logits compared at real positions only.
  python3 scripts/gen_fixtures.py --set st                 # sentence-transformers (issue #12)
      The pip interpreter with transformers 5 + sentence-transformers: a SentenceTransformer-shaped
      small BertModel + mean Pooling + Normalize whose token_type_ids come from transformers 4.57's
      sliced-and-expanded zero buffer, TorchScript opset 17 and dynamo=True, dynamic batch/seq.
  python3 scripts/verify_fixtures_ort.py                   # cross-check, pip interpreter
      Runs every model.onnx with onnxruntime on the stored inputs, compares with the stored
      PyTorch outputs, and records the error in case.json ("ort_check").

Every set requires its interpreter (it refuses to run under the other one) so that a
regeneration reproduces the committed bytes. Weights and inputs are random (torch.manual_seed,
one seed per case, independent of case order), inputs are never all zeros. Expected outputs are
PyTorch's, computed in fp32 on CPU under model.eval() + torch.no_grad() (dropout = identity);
onnxruntime is only a sanity check.

Layout of one case (names from the CONTRACT):
  test/e2e/<case>/model.onnx
  test/e2e/<case>/inputs/<onnx input name>.npy
  test/e2e/<case>/expected/<onnx output name, chars outside [A-Za-z0-9._-] -> _>.npy
  test/e2e/<case>/case.json                    # inputs/outputs/shapes/exporter/ops/notes
  test/e2e/<case>/shapes/<k>/{inputs,expected}/  # dynamic-shape cases: one set per k
                                                 # (no top-level inputs/ expected/ there)
test/e2e/MANIFEST.json lists every case with the interpreter/exporter that made it.
Only the cases of the chosen set are rewritten; the others are left alone.
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import zlib
from collections import Counter, OrderedDict

import numpy as np
import torch
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seed_models import (SelfAttention, TransformerBlock, Encoder, DecoderBlock, Decoder,  # noqa: E402
                         Transformer, TransformerBlockNoMask, DecoderBlockNoSrcMask,
                         DecoderNoSrcMask, DecoderInlineCausal, TransformerRangeMask,
                         DecoderBlockConstMask)  # the seed's code, verbatim, + argument-choosing wrappers

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
E2E = os.path.join(ROOT, "test", "e2e")
EXAMPLE = os.path.join(ROOT, "examples", "selfattn")

EMBED, HEADS = 256, 8
SA_INPUTS = ["values", "keys", "queries", "mask"]
SA_OUTPUTS = ["out"]
# (N, L) for each input set of the dynamic-shape cases: a degenerate one, the export shape,
# and one with an odd length (not a multiple of any tile size).
DYNAMIC_SETS = [(1, 1), (2, 16), (3, 37)]

DTYPE_NAMES = {np.dtype("float32"): "f32", np.dtype("float64"): "f64", np.dtype("float16"): "f16",
               np.dtype("int64"): "i64", np.dtype("int32"): "i32", np.dtype("int16"): "i16",
               np.dtype("int8"): "i8", np.dtype("uint8"): "u8", np.dtype("bool"): "bool"}


def sanitize(name):
    """Output file name rule of attn-run (CONTRACT): chars outside [A-Za-z0-9._-] -> '_'."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def case_seed(name):
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def rel(path):
    return os.path.relpath(path, ROOT)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# ----------------------------------------------------------------------------- masks

def causal_mask(n, lq, lk):
    m = torch.tril(torch.ones(lq, lk, dtype=torch.int64))
    return m.expand(n, 1, lq, lk).contiguous()


def padding_mask(lengths, lk):
    """[N,1,1,Lk] int64: 1 for the first lengths[i] keys of item i, 0 after."""
    m = torch.zeros(len(lengths), 1, 1, lk, dtype=torch.int64)
    for i, n in enumerate(lengths):
        m[i, 0, 0, :n] = 1
    return m


# ----------------------------------------------------------------------------- cases
# A case builder returns a dict: inputs (OrderedDict name -> tensor, in forward() order),
# notes, and for dynamic cases dynamic_axes + shape_sets (list of such input dicts).

def sa_inputs(gen, n, lq, lk, mask):
    values = torch.randn(n, lk, EMBED, generator=gen)
    keys = torch.randn(n, lk, EMBED, generator=gen)
    queries = torch.randn(n, lq, EMBED, generator=gen)
    return OrderedDict([("values", values), ("keys", keys), ("queries", queries), ("mask", mask)])


def case_selfattn_causal(gen):
    n, l = 2, 16
    return dict(inputs=sa_inputs(gen, n, l, l, causal_mask(n, l, l)),
                notes=["causal mask tril(ones(L,L)) as int64 [N,1,L,L], given as a runtime input",
                       "values/keys/queries are three different random tensors (catches swapped inputs)"])


def case_selfattn_padding(gen):
    n, l = 2, 12
    return dict(inputs=sa_inputs(gen, n, l, l, padding_mask([l, 9], l)),
                notes=["padding mask [N,1,1,L] int64 broadcast over heads and query rows; "
                       "item 0 has no padding, item 1 masks its last 3 keys"])


def case_selfattn_cross(gen):
    n, lq, lk = 2, 8, 20
    return dict(inputs=sa_inputs(gen, n, lq, lk, padding_mask([17, 13], lk)),
                notes=["cross attention: query length 8, key/value length 20",
                       "mask [N,1,1,20]: item 0 masks its last 3 keys, item 1 its last 7"])


def case_selfattn_fully_masked(gen):
    n, l = 2, 8
    mask = causal_mask(n, l, l)
    mask[0, 0, 3, :] = 0   # one query row of item 0 sees no key at all
    mask[1] = 0            # every row of item 1 is fully masked
    return dict(inputs=sa_inputs(gen, n, l, l, mask),
                notes=["fully masked rows: item 0 query row 3, and all of item 1",
                       "the seed fills masked energies with -1e20 BEFORE dividing by sqrt(256)=16, so a "
                       "fully masked row is constant (-6.25e18) and PyTorch's softmax gives uniform weights "
                       "1/L: the output row is fc_out(mean over keys of values). Finite, no NaN. An "
                       "implementation that uses -inf or skips masked keys gets NaN/0 here and fails.",
                       "checked at generation: those rows equal fc_out(values.mean(1)) within 1e-5"],
                check=check_fully_masked)


def case_selfattn_mask_values(gen):
    n, lq, lk = 2, 10, 10
    g = torch.Generator().manual_seed(1234)
    mask = torch.randint(-2, 3, (n, 1, lq, lk), generator=g, dtype=torch.int64)
    mask[:, :, :, 0] = 1  # keep at least one key per row
    return dict(inputs=sa_inputs(gen, n, lq, lk, mask),
                notes=["mask holds arbitrary int64 values in [-2, 2]: only == 0 masks (seed: mask == 0); "
                       "-2, -1, 1, 2 all keep. Catches lowering the mask as an additive (1-mask)*big "
                       "or as a bool cast of the low bit"])


def case_selfattn_dynamic(gen):
    sets = []
    for n, l in DYNAMIC_SETS:
        mask = causal_mask(n, l, l)
        if n > 1:
            mask[n - 1, :, :, l - min(3, l - 1):] = 0   # pad the last item's tail keys too
        sets.append(sa_inputs(gen, n, l, l, mask))
    axes = {"values": {0: "N", 1: "L"}, "keys": {0: "N", 1: "L"}, "queries": {0: "N", 1: "L"},
            "mask": {0: "N", 2: "L", 3: "L"}, "out": {0: "N", 1: "L"}}
    return dict(inputs=sets[1], dynamic_axes=axes, shape_sets=sets,
                notes=["exported with dynamic_axes N (batch) and L (sequence) on values/keys/queries/mask/out",
                       "mask [N,1,L,L] int64 = causal, plus the last batch item's final keys padded",
                       "input sets (N, L): %s under shapes/<k>/; no top-level inputs/expected" % DYNAMIC_SETS])


def check_fully_masked(model, inputs, outputs):
    v = inputs["values"]
    with torch.no_grad():
        uniform = model.fc_out(v.mean(dim=1))          # [N, EMBED]
    out = outputs[0]
    assert torch.isfinite(out).all(), "fully masked case produced non-finite values"
    err0 = (out[0, 3] - uniform[0]).abs().max().item()
    err1 = (out[1] - uniform[1].unsqueeze(0)).abs().max().item()
    assert max(err0, err1) < 1e-5, (err0, err1)
    return {"fully_masked_rows_vs_uniform_max_abs_err": max(err0, err1)}


# ----------------------------------------------------------------------------- the seed's model family
# TransformerBlock / Encoder / DecoderBlock / Decoder from the seed, and "the full Transformer" of the
# CONTRACT (seed Encoder -> seed Decoder, scripts/seed_models.py). Small sizes (embed 32-64, heads 2-4,
# vocab ~50, max_length 32, 1-2 layers). nn.MultiheadAttention is sequence-first: the seed hands it
# (N, seq, embed) tensors, so attention runs over dim 0 (N) and seq is its batch; masks are attn_masks
# of shape (dim0_query, dim0_key). Masks are graph inputs; None (no mask) is not an ONNX input, so
# the no-mask variants export a wrapper that passes None.

FAM_EMBED, FAM_HEADS, FAM_FE, FAM_VOCAB, FAM_MAXLEN, FAM_DROPOUT = 32, 4, 2, 50, 32, 0.1
ENCODER_SETS = [(1, 1), (3, 16), (2, 5), (5, 32)]    # (N, seq): degenerate, export shape, odd, max_length


def family_model(description):
    """Marks a case builder as a seed-family case: fn.model_factory() builds the model (right after
    torch.manual_seed(case seed)), and description goes into case.json."""
    def deco(fn):
        def factory():
            return randomize_affine(fn.make_model())
        fn.model_factory = factory
        fn.model_desc = description
        return fn
    return deco


def randomize_affine(model):
    """PyTorch initializes every bias of MultiheadAttention/Linear-in-proj to 0 and LayerNorm to (1, 0);
    a compiler that drops or swaps those would pass. Give them random values (global RNG, seeded)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.uniform_(-0.5, 0.5)
            elif "norm" in name and name.endswith("weight"):
                p.uniform_(0.5, 1.5)
    return model


AFFINE_NOTE = ("all biases uniform(-0.5, 0.5) and LayerNorm weights uniform(0.5, 1.5) (PyTorch's init "
               "makes them 0 / 1, which would hide dropped or swapped biases); other weights PyTorch's init")
SEQ_FIRST_NOTE = ("nn.MultiheadAttention is sequence-first: (N, seq, embed) inputs attend over dim 0 (N), "
                  "seq is its batch; attn_mask is (N_query, N_key) -- the seed's quirk, reproduced exactly")


def float_causal(n):
    """Additive float mask: 0 on and below the diagonal, -inf above (triu(full(-inf), 1))."""
    return torch.triu(torch.full((n, n), float("-inf")), diagonal=1)


def bool_causal(n):
    """Bool attn_mask: True = may NOT attend (PyTorch's convention), i.e. triu(ones, 1)."""
    return torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)


def token_ids(gen, n, seq, vocab=FAM_VOCAB):
    ids = torch.randint(0, vocab, (n, seq), generator=gen, dtype=torch.int64)
    ids[0, 0] = 1 + ids[0, 0] % (vocab - 1)     # never all zeros, even at (1, 1)
    return ids


def check_finite(model, inputs, outputs):
    for o in outputs:
        assert torch.isfinite(o).all(), "non-finite reference output"
    return {"outputs_finite": True}


def tb(embed=FAM_EMBED, heads=FAM_HEADS):
    return TransformerBlock(embed, heads, FAM_DROPOUT, FAM_FE)


@family_model("TransformerBlock(embed_size=64, heads=2, dropout=0.1, forward_expansion=2) from the seed, "
              "mask=None (wrapper TransformerBlockNoMask)")
def case_transformer_block(gen):
    nq, nk, seq, e = 4, 6, 5, 64
    value = torch.randn(nk, seq, e, generator=gen)
    key = torch.randn(nk, seq, e, generator=gen)
    query = torch.randn(nq, seq, e, generator=gen)
    return dict(inputs=OrderedDict([("value", value), ("key", key), ("query", query)]),
                check=check_finite,
                notes=["no mask: TransformerBlock(value, key, query, None) via a wrapper (None is not an ONNX input)",
                       "value/key (6, 5, 64) and query (4, 5, 64) are three different random tensors: "
                       "attention of 4 query positions over 6 key positions (dim 0), batch 5 (dim 1)",
                       SEQ_FIRST_NOTE, AFFINE_NOTE])


case_transformer_block.make_model = lambda: TransformerBlockNoMask(tb(64, 2))


@family_model("TransformerBlock(embed_size=32, heads=4, dropout=0.1, forward_expansion=2) from the seed")
def case_transformer_block_causal(gen):
    n, seq = 6, 3
    value = torch.randn(n, seq, FAM_EMBED, generator=gen)
    key = torch.randn(n, seq, FAM_EMBED, generator=gen)
    query = torch.randn(n, seq, FAM_EMBED, generator=gen)
    return dict(inputs=OrderedDict([("value", value), ("key", key), ("query", query),
                                    ("mask", float_causal(n))]),
                check=check_finite,
                notes=["mask: float additive causal attn_mask (6, 6) = triu(full(-inf), 1), a graph input",
                       "value/key/query (6, 3, 32) are three different random tensors",
                       SEQ_FIRST_NOTE, AFFINE_NOTE])


case_transformer_block_causal.make_model = lambda: tb()


@family_model("TransformerBlock(embed_size=32, heads=4, dropout=0.1, forward_expansion=2) from the seed")
def case_transformer_block_bool_mask(gen):
    nq, nk, seq = 5, 7, 4
    value = torch.randn(nk, seq, FAM_EMBED, generator=gen)
    key = torch.randn(nk, seq, FAM_EMBED, generator=gen)
    query = torch.randn(nq, seq, FAM_EMBED, generator=gen)
    mask = torch.rand(nq, nk, generator=gen) < 0.4      # True = masked
    mask[:, 2] = False                                  # every query row keeps key 2 (no NaN rows)
    mask[1, :] = True
    mask[1, 6] = False                                  # row 1 sees only the last key
    return dict(inputs=OrderedDict([("value", value), ("key", key), ("query", query), ("mask", mask)]),
                check=check_finite,
                notes=["mask: bool attn_mask (5, 7), True = not allowed (PyTorch converts it to -inf); a random "
                       "pattern, not causal; every row keeps key 2, row 1 keeps only key 6",
                       "value/key (7, 4, 32), query (5, 4, 32): three different random tensors",
                       SEQ_FIRST_NOTE, AFFINE_NOTE])


case_transformer_block_bool_mask.make_model = lambda: tb()


def encoder_inputs(gen, n, seq):
    # causal -inf plus random finite biases: the mask's values matter, not only where -inf is (and a
    # (1, 1) mask is not all zeros)
    mask = float_causal(n) + 0.5 * torch.randn(n, n, generator=gen)
    return OrderedDict([("x", token_ids(gen, n, seq)), ("mask", mask)])


@family_model("Encoder(src_vocab_size=50, embed_size=32, num_layers=2, heads=4, device='cpu', "
              "forward_expansion=2, dropout=0.1, max_length=32) from the seed")
def case_encoder(gen):
    sets = [encoder_inputs(gen, n, seq) for n, seq in ENCODER_SETS]
    axes = {"x": {0: "N", 1: "seq"}, "mask": {0: "N", 1: "N"}, "out": {0: "N", 1: "seq"}}
    return dict(inputs=sets[1], dynamic_axes=axes, shape_sets=sets, check=check_finite,
                notes=["exported with dynamic_axes N (batch) and seq on x/mask/out; positions = "
                       "arange(seq).expand(N, seq) (Range/Expand on runtime shapes)",
                       "x: random int64 token ids in [0, 50); mask: float additive attn_mask (N, N) = "
                       "triu(full(-inf), 1) + 0.5*randn (causal with finite random biases), passed to every "
                       "layer, as in the seed",
                       "input sets (N, seq): %s under shapes/<k>/; no top-level inputs/expected" % ENCODER_SETS,
                       SEQ_FIRST_NOTE, AFFINE_NOTE])


case_encoder.make_model = lambda: Encoder(FAM_VOCAB, FAM_EMBED, 2, FAM_HEADS, "cpu", FAM_FE, FAM_DROPOUT,
                                          FAM_MAXLEN)


@family_model("DecoderBlock(embed_size=32, heads=4, forward_expansion=2, dropout=0.1, device='cpu') from "
              "the seed, src_mask=None (wrapper DecoderBlockNoSrcMask)")
def case_decoder_block(gen):
    nt, ns, seq = 5, 3, 4
    x = torch.randn(nt, seq, FAM_EMBED, generator=gen)
    value = torch.randn(ns, seq, FAM_EMBED, generator=gen)
    key = torch.randn(ns, seq, FAM_EMBED, generator=gen)
    return dict(inputs=OrderedDict([("x", x), ("value", value), ("key", key), ("trg_mask", float_causal(nt))]),
                check=check_finite,
                notes=["trg_mask: float causal attn_mask (5, 5) for the self-attention; src_mask None (wrapper)",
                       "x (5, 4, 32); value/key (3, 4, 32), different random tensors: the cross attention has "
                       "5 query positions and 3 key positions (dim 0), batch 4 (dim 1)",
                       SEQ_FIRST_NOTE, AFFINE_NOTE])


case_decoder_block.make_model = lambda: DecoderBlockNoSrcMask(
    DecoderBlock(FAM_EMBED, FAM_HEADS, FAM_FE, FAM_DROPOUT, "cpu"))


def make_decoder():
    return DecoderNoSrcMask(Decoder(FAM_VOCAB, FAM_EMBED, 2, FAM_HEADS, FAM_FE, FAM_DROPOUT, "cpu", FAM_MAXLEN))


DECODER_DESC = ("Decoder(trg_vocab_size=50, embed_size=32, num_layers=2, heads=4, forward_expansion=2, "
                "dropout=0.1, device='cpu', max_length=32) from the seed, src_mask=None (wrapper DecoderNoSrcMask)")


def decoder_inputs(gen, mask):
    nt, ns, seq = 4, 3, 10
    x = token_ids(gen, nt, seq)
    enc_out = torch.randn(ns, seq, FAM_EMBED, generator=gen)
    return OrderedDict([("x", x), ("enc_out", enc_out), ("trg_mask", mask(nt))])


@family_model(DECODER_DESC)
def case_decoder_causal(gen):
    return dict(inputs=decoder_inputs(gen, float_causal), check=check_finite,
                notes=["trg_mask: float causal attn_mask (4, 4) = triu(full(-inf), 1); src_mask None",
                       "x: int64 token ids (4, 10); enc_out: random f32 (3, 10, 32) (the cross attention has "
                       "4 query and 3 key positions along dim 0; seq 10 is its batch)",
                       SEQ_FIRST_NOTE, AFFINE_NOTE])


case_decoder_causal.make_model = make_decoder


@family_model(DECODER_DESC)
def case_decoder_causal_bool(gen):
    return dict(inputs=decoder_inputs(gen, bool_causal), check=check_finite,
                notes=["trg_mask: bool causal attn_mask (4, 4) = triu(ones, 1), True = not allowed; src_mask None",
                       "x: int64 token ids (4, 10); enc_out: random f32 (3, 10, 32)",
                       SEQ_FIRST_NOTE, AFFINE_NOTE])


case_decoder_causal_bool.make_model = make_decoder


@family_model("Transformer (scripts/seed_models.py): the seed's Encoder(src_vocab_size=50, ...) -> enc_out -> "
              "the seed's Decoder(trg_vocab_size=48, ...); embed_size=32, num_layers=2, heads=4, "
              "forward_expansion=2, dropout=0.1, max_length=32; src_mask None, trg_mask causal")
def case_transformer(gen):
    ns, nt, seq = 3, 4, 12
    src = token_ids(gen, ns, seq, FAM_VOCAB)
    trg = token_ids(gen, nt, seq, 48)
    return dict(inputs=OrderedDict([("src", src), ("trg", trg), ("trg_mask", float_causal(nt))]),
                check=check_finite,
                notes=["CONTRACT's full Transformer: Encoder(src, None) output feeds Decoder(trg, enc_out, None, "
                       "trg_mask); trg_mask float causal (4, 4) = triu(full(-inf), 1)",
                       "src int64 (3, 12) ids in [0, 50), trg int64 (4, 12) ids in [0, 48): seq must agree (it is "
                       "the MultiheadAttention batch), N differs (3 source vs 4 target positions along dim 0)",
                       SEQ_FIRST_NOTE, AFFINE_NOTE])


case_transformer.make_model = lambda: Transformer(FAM_VOCAB, 48, embed_size=FAM_EMBED, num_layers=2,
                                                  forward_expansion=FAM_FE, heads=FAM_HEADS,
                                                  dropout=FAM_DROPOUT, device="cpu", max_length=FAM_MAXLEN)


# In-graph masks: the causal masks of real code are built inside the model, not passed in. These
# exercise the CONTRACT's causal-mask forms (Trilu on runtime shapes, Range + Greater on positions, a
# constant bool initializer) through the seed's MultiheadAttention semantics (bool True = NOT allowed).

DECODER_INLINE_SETS = [(1, 1, 1), (4, 3, 10), (2, 5, 7), (6, 2, 32)]      # (N, Ns, seq)
TRANSFORMER_RANGE_SETS = [(1, 1, 1), (3, 4, 12), (5, 2, 7), (2, 6, 32)]   # (Ns, N, seq)


@family_model("Decoder(trg_vocab_size=50, embed_size=32, num_layers=2, heads=4, forward_expansion=2, "
              "dropout=0.1, device='cpu', max_length=32) from the seed, src_mask=None, trg_mask = "
              "triu(full((N, N), -inf), 1) built in the graph (wrapper DecoderInlineCausal)")
def case_decoder_inline_causal(gen):
    sets = []
    for n, ns, seq in DECODER_INLINE_SETS:
        sets.append(OrderedDict([("x", token_ids(gen, n, seq)),
                                 ("enc_out", torch.randn(ns, seq, FAM_EMBED, generator=gen))]))
    axes = {"x": {0: "N", 1: "seq"}, "enc_out": {0: "Ns", 1: "seq"}, "out": {0: "N", 1: "seq"}}
    return dict(inputs=sets[1], dynamic_axes=axes, shape_sets=sets, check=check_finite,
                notes=["the causal trg_mask is not an input: triu(full((N, N), -inf), 1) with N = x.shape[0] "
                       "on dynamic shapes (ConstantOfShape + Trilu in the graph)",
                       "dynamic_axes N, Ns, seq; input sets (N, Ns, seq): %s" % DECODER_INLINE_SETS,
                       SEQ_FIRST_NOTE, AFFINE_NOTE])


case_decoder_inline_causal.make_model = lambda: DecoderInlineCausal(
    Decoder(FAM_VOCAB, FAM_EMBED, 2, FAM_HEADS, FAM_FE, FAM_DROPOUT, "cpu", FAM_MAXLEN))


@family_model("Transformer (scripts/seed_models.py; seed Encoder vocab 50 -> seed Decoder vocab 48, embed 32, "
              "2 layers, heads 4, forward_expansion 2, max_length 32) with trg_mask = pos[None, :] > pos[:, None], "
              "pos = arange(N), built in the graph (wrapper TransformerRangeMask)")
def case_transformer_range_mask(gen):
    sets = []
    for ns, n, seq in TRANSFORMER_RANGE_SETS:
        sets.append(OrderedDict([("src", token_ids(gen, ns, seq, FAM_VOCAB)), ("trg", token_ids(gen, n, seq, 48))]))
    axes = {"src": {0: "Ns", 1: "seq"}, "trg": {0: "N", 1: "seq"}, "out": {0: "N", 1: "seq"}}
    return dict(inputs=sets[1], dynamic_axes=axes, shape_sets=sets, check=check_finite,
                notes=["the causal trg_mask is built from positions: pos = arange(N), mask = pos[None,:] > pos[:,None] "
                       "(bool, True = not allowed): Range + Unsqueeze + Greater on a runtime N",
                       "dynamic_axes Ns, N, seq; input sets (Ns, N, seq): %s" % TRANSFORMER_RANGE_SETS,
                       SEQ_FIRST_NOTE, AFFINE_NOTE])


case_transformer_range_mask.make_model = lambda: TransformerRangeMask(
    Transformer(FAM_VOCAB, 48, embed_size=FAM_EMBED, num_layers=2, forward_expansion=FAM_FE, heads=FAM_HEADS,
                dropout=FAM_DROPOUT, device="cpu", max_length=FAM_MAXLEN))


@family_model("Decoder(trg_vocab_size=50, embed_size=32, num_layers=2, heads=4, forward_expansion=2, "
              "dropout=0.1, device='cpu', max_length=32) from the seed, src_mask=None, trg_mask = "
              "triu(full((N, N), -inf), 1) built in the graph (wrapper DecoderInlineCausal), static shapes")
def case_decoder_const_causal(gen):
    n, ns, seq = 7, 3, 6
    return dict(inputs=OrderedDict([("x", token_ids(gen, n, seq)),
                                    ("enc_out", torch.randn(ns, seq, FAM_EMBED, generator=gen))]),
                check=check_finite,
                notes=["static shapes x (7, 6), enc_out (3, 6, 32): the exporter folds the in-graph "
                       "triu(full((7, 7), -inf), 1) into a constant (the CONTRACT's constant additive causal form)",
                       SEQ_FIRST_NOTE, AFFINE_NOTE])


case_decoder_const_causal.make_model = case_decoder_inline_causal.make_model


def check_tril_nan(model, inputs, outputs):
    out = outputs[0]
    nan = torch.isnan(out)
    assert nan[-1].all() and not nan[:-1].any(), "expected NaN exactly in the last query row"
    return {"nan_exactly_last_row": True}


@family_model("DecoderBlock(embed_size=32, heads=4, forward_expansion=2, dropout=0.1, device='cpu') from the "
              "seed, src_mask=None, trg_mask = the constant bool tril(ones(5, 5)) (wrapper DecoderBlockConstMask)")
def case_decoder_block_tril_bool(gen):
    nt, ns, seq = 5, 3, 4
    x = torch.randn(nt, seq, FAM_EMBED, generator=gen)
    value = torch.randn(ns, seq, FAM_EMBED, generator=gen)
    key = torch.randn(ns, seq, FAM_EMBED, generator=gen)
    return dict(inputs=OrderedDict([("x", x), ("value", value), ("key", key)]), check=check_tril_nan,
                notes=["trg_mask is a constant bool buffer tril(ones(5, 5)) (the exporter folds PyTorch's bool -> "
                       "-inf conversion into an additive float constant: -inf on and below the diagonal) -- the "
                       "lower-triangular form that "
                       "means 'keep' for the seed's SelfAttention (mask == 0 masks) but 'NOT allowed' for "
                       "nn.MultiheadAttention: query i may attend only keys j > i, and the last query row attends "
                       "nothing -> softmax of all -inf -> NaN. PyTorch's output is NaN exactly in out[4] "
                       "(checked at generation); CONTRACT: ours NaN at the same positions, finite elsewhere. "
                       "A compiler that treats this constant as an ordinary causal mask fails here",
                       SEQ_FIRST_NOTE, AFFINE_NOTE])


case_decoder_block_tril_bool.make_model = lambda: DecoderBlockConstMask(
    DecoderBlock(FAM_EMBED, FAM_HEADS, FAM_FE, FAM_DROPOUT, "cpu"), torch.tril(torch.ones(5, 5, dtype=torch.bool)))


# ----------------------------------------------------------------------------- Hugging Face models
# transformers 5's BertModel and GPT2Model with small random configs, wrapped so that forward() takes
# the ONNX inputs positionally and passes them by keyword (transformers 5 changed the positional
# order); GPT-2 runs with use_cache=False. The masks are built in the graph by transformers'
# masking_utils from attention_mask: eager adds Where(causal & padding, 0, finfo.min) (BERT: padding
# only), sdpa goes through PyTorch's SDPA (export: Where(mask, 0, -inf) and Where(IsNaN(p), 0, p), so a
# fully masked row gives 0). Left padding makes rows whose keys up to the diagonal are all padding;
# eager PyTorch then averages every key (all scores are finfo.min), SDPA gives 0.

HF_VOCAB, HF_HIDDEN, HF_LAYERS, HF_INTER, HF_POSITIONS = 100, 64, 2, 128, 64
HF_BERT_HEADS, HF_GPT2_HEADS = 4, 2     # head dims 16 and 32: both CPU attention lowerings
HF_INIT_RANGE = 0.15                    # N(0, 0.15) weights: peaked attention, not near-uniform
# (batch, seq, attention_mask padding per item): "r<k>" pads the last k keys, "l<k>" the first k,
# "all" every key, "-" none. The first set is the export shape.
HF_BERT_SETS = [(2, 16, ["-", "r5"]), (3, 7, ["-", "r2", "all"]), (1, 1, ["-"]), (2, 33, ["l4", "r10"])]
HF_GPT2_SETS = [(2, 16, ["-", "r5"]), (3, 7, ["-", "l3", "l6"]), (1, 1, ["-"]), (2, 57, ["l50", "r4"])]
# torch.onnx's dynamo export of the sdpa models masks with finfo.min instead of -inf: a row with no
# allowed key then averages every key in the exported graph (onnxruntime agrees) while PyTorch gives 0.
# Their input sets have no such row (no fully padded item, no left padding for GPT-2).
HF_BERT_SDPA_DYNAMO_SETS = [(2, 16, ["-", "r5"]), (3, 7, ["-", "r2", "r6"]), (1, 1, ["-"]), (2, 33, ["l4", "r10"])]
HF_GPT2_SDPA_DYNAMO_SETS = [(2, 16, ["-", "r5"]), (3, 7, ["-", "r2", "r6"]), (1, 1, ["-"]), (2, 57, ["-", "r40"])]
DYNAMO_SDPA_NOTE = ("torch.onnx.export(dynamo=True) of the sdpa model masks with Where(mask, 0, finfo.min), not -inf: "
                    "a row with no allowed key averages every key in the exported graph (onnxruntime does so too) "
                    "while PyTorch gives 0, so these input sets have no such row")


def hf_config(kind, impl):
    from transformers import BertConfig, GPT2Config
    if kind == "bert":
        return BertConfig(vocab_size=HF_VOCAB, hidden_size=HF_HIDDEN, num_hidden_layers=HF_LAYERS,
                          num_attention_heads=HF_BERT_HEADS, intermediate_size=HF_INTER,
                          max_position_embeddings=HF_POSITIONS, type_vocab_size=2,
                          initializer_range=HF_INIT_RANGE, attn_implementation=impl)
    return GPT2Config(vocab_size=HF_VOCAB, n_embd=HF_HIDDEN, n_layer=HF_LAYERS, n_head=HF_GPT2_HEADS,
                      n_inner=HF_INTER, n_positions=HF_POSITIONS, initializer_range=HF_INIT_RANGE,
                      bos_token_id=0, eos_token_id=0, attn_implementation=impl)


class HfBert(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask, token_type_ids):
        o = self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                   return_dict=True)
        return o.last_hidden_state, o.pooler_output


class HfBertNoTokenTypes(HfBert):
    """BertModel called without token_type_ids: the embeddings take them from the model's zero
    buffer, which the export turns into GatherElements(Expand(buffer), position_ids)."""
    def forward(self, input_ids, attention_mask):
        o = self.m(input_ids=input_ids, attention_mask=attention_mask, return_dict=True)
        return o.last_hidden_state, o.pooler_output


class HfGpt2(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask):
        return self.m(input_ids=input_ids, attention_mask=attention_mask, use_cache=False,
                      return_dict=True).last_hidden_state


def randomize_hf(model):
    """transformers initializes LayerNorm to (1, 0) and biases to 0; random values instead (global
    RNG, seeded), so that dropped or swapped ones show."""
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.LayerNorm):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.5, 0.5)
        for name, p in model.named_parameters():
            if name.endswith("bias") and "LayerNorm" not in name and ".ln_" not in name:
                p.uniform_(-0.5, 0.5)
    return model


def hf_model(kind, impl, token_types=True):
    """Marks a case builder as a Hugging Face case (model built right after torch.manual_seed)."""
    def deco(fn):
        def factory():
            from transformers import BertModel, GPT2Model
            cfg = hf_config(kind, impl)
            if kind == "bert":
                return (HfBert if token_types else HfBertNoTokenTypes)(randomize_hf(BertModel(cfg)).eval())
            return HfGpt2(randomize_hf(GPT2Model(cfg)).eval())
        fn.model_factory = factory
        heads = HF_BERT_HEADS if kind == "bert" else HF_GPT2_HEADS
        fn.model_desc = ("transformers %sModel(%sConfig(vocab %d, hidden %d, %d layers, %d heads, intermediate %d, "
                         "max positions %d, initializer_range %g), attn_implementation=%r), LayerNorm and biases "
                         "randomized; wrapper %s" % ("Bert" if kind == "bert" else "GPT2", "Bert" if kind == "bert"
                                                     else "GPT2", HF_VOCAB, HF_HIDDEN, HF_LAYERS, heads, HF_INTER,
                                                     HF_POSITIONS, HF_INIT_RANGE, impl,
                                                     "HfBert" if kind == "bert" else "HfGpt2 (use_cache=False)"))
        return fn
    return deco


def hf_attention_mask(batch, seq, pads):
    m = torch.ones(batch, seq, dtype=torch.int64)
    for i, p in enumerate(pads):
        if p == "all":
            m[i, :] = 0
        elif p.startswith("r"):
            m[i, seq - int(p[1:]):] = 0
        elif p.startswith("l"):
            m[i, :int(p[1:])] = 0
    return m


def hf_inputs(gen, kind, sets, token_types=True):
    out = []
    for batch, seq, pads in sets:
        ids = token_ids(gen, batch, seq, HF_VOCAB)
        inputs = OrderedDict([("input_ids", ids), ("attention_mask", hf_attention_mask(batch, seq, pads))])
        if kind == "bert" and token_types:
            tt = torch.randint(0, 2, (batch, seq), generator=gen, dtype=torch.int64)
            tt[0, 0] = 1
            inputs["token_type_ids"] = tt
        out.append(inputs)
    return out


def hf_case(gen, kind, impl, sets=None, extra_notes=(), token_types=True):
    if sets is None:
        sets = HF_BERT_SETS if kind == "bert" else HF_GPT2_SETS
    shape_sets = hf_inputs(gen, kind, sets, token_types)
    axes = {n: {0: "batch", 1: "seq"} for n in shape_sets[0]}
    axes["last_hidden_state"] = {0: "batch", 1: "seq"}
    outputs = ["last_hidden_state"]
    if kind == "bert":
        axes["pooler_output"] = {0: "batch"}
        outputs.append("pooler_output")
    if kind == "bert":
        mask_note = ("padding mask built in the graph (masking_utils): %s" %
                     ("Where(padding, 0, finfo.min) added to the scores; a fully padded item has all scores "
                      "finfo.min and averages every key" if impl == "eager" else
                      "SDPA with a bool mask: Where(mask, 0, -inf), then Where(IsNaN(p), 0, p): a fully padded "
                      "item gives attention output 0"))
    else:
        mask_note = ("causal & padding mask built in the graph (masking_utils): %s" %
                     ("Where(causal & padding, 0, finfo.min) added to the scores; a left-padded position whose "
                      "keys up to itself are all padding has every score finfo.min and averages ALL keys "
                      "(future ones included)" if impl == "eager" else
                      "SDPA with a bool mask: Where(mask, 0, -inf) (dynamo: finfo.min), then Where(IsNaN(p), "
                      "0, p): a fully masked row gives attention output 0"))
    return dict(inputs=shape_sets[0], dynamic_axes=axes, shape_sets=shape_sets, output_names=outputs,
                check=check_finite,
                notes=["attn_implementation=%r; %s" % (impl, mask_note),
                       "dynamic batch and seq on every input and output; input sets (batch, seq, padding per "
                       "item: rK = last K keys padded, lK = first K, all = every key): %s under shapes/<k>/" % sets,
                       "input_ids random in [0, %d); attention_mask int64 0/1%s" %
                       (HF_VOCAB, "; token_type_ids random 0/1" if kind == "bert" and token_types else ""),
                       "weights N(0, %g) (initializer_range), LayerNorm weights U(0.5, 1.5), LayerNorm and "
                       "Linear/Conv1D biases U(-0.5, 0.5)" % HF_INIT_RANGE] + list(extra_notes))


@hf_model("bert", "eager")
def case_bert(gen):
    return hf_case(gen, "bert", "eager")


@hf_model("bert", "sdpa")
def case_bert_sdpa(gen):
    return hf_case(gen, "bert", "sdpa")


@hf_model("bert", "eager", token_types=False)
def case_bert_no_token_types(gen):
    return hf_case(gen, "bert", "eager", token_types=False,
                   extra_notes=["forward(input_ids, attention_mask): no token_type_ids, so BertEmbeddings "
                                "gathers them from its zero buffer (GatherElements in the export)"])


@hf_model("gpt2", "eager")
def case_gpt2(gen):
    return hf_case(gen, "gpt2", "eager")


@hf_model("gpt2", "sdpa")
def case_gpt2_sdpa(gen):
    return hf_case(gen, "gpt2", "sdpa")


@hf_model("bert", "sdpa")
def case_bert_sdpa_dynamo(gen):
    return hf_case(gen, "bert", "sdpa", HF_BERT_SDPA_DYNAMO_SETS, [DYNAMO_SDPA_NOTE])


@hf_model("gpt2", "sdpa")
def case_gpt2_sdpa_dynamo(gen):
    return hf_case(gen, "gpt2", "sdpa", HF_GPT2_SDPA_DYNAMO_SETS, [DYNAMO_SDPA_NOTE])


# ----------------------------------------------------------------------------- sentence-transformers (--set st)
# A SentenceTransformer-shaped module (children "0" = Transformer with .auto_model, "1" = Pooling(mean),
# "2" = Normalize, so the export's node names are /0/auto_model/..., /1/..., /2/... as in the real
# all-MiniLM-L6-v2 export) around a small random BertModel called without token_type_ids. The
# embeddings run transformers 4.57's BertEmbeddings.forward (verbatim below): token_type_ids are the
# zero buffer sliced to [1, seq] and expanded to the run-time [batch, seq] (Slice -> Expand in the
# export; transformers 5 gathers them instead, see bert_no_token_types). This is the pattern of the
# default Optimum export of the real model (issue #12).

ST_SETS = [(2, 16, ["-", "r5"]), (3, 7, ["-", "r2", "l3"]), (1, 1, ["-"]), (4, 33, ["-", "r10", "r30", "l4"])]


def bert457_embeddings_forward(self, input_ids=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
                               past_key_values_length=0, cache_length=None):
    """transformers 4.57.6 BertEmbeddings.forward (transformers 5 passes cache_length instead of
    past_key_values_length; the position_embedding_type test of 4.57 is always 'absolute' here)."""
    if cache_length is not None:
        past_key_values_length = cache_length
    if input_ids is not None:
        input_shape = input_ids.size()
    else:
        input_shape = inputs_embeds.size()[:-1]
    seq_length = input_shape[1]
    if position_ids is None:
        position_ids = self.position_ids[:, past_key_values_length: seq_length + past_key_values_length]
    if token_type_ids is None:
        if hasattr(self, "token_type_ids"):
            buffered_token_type_ids = self.token_type_ids[:, :seq_length]
            buffered_token_type_ids_expanded = buffered_token_type_ids.expand(input_shape[0], seq_length)
            token_type_ids = buffered_token_type_ids_expanded
        else:
            token_type_ids = torch.zeros(input_shape, dtype=torch.long, device=self.position_ids.device)
    if inputs_embeds is None:
        inputs_embeds = self.word_embeddings(input_ids)
    token_type_embeddings = self.token_type_embeddings(token_type_ids)
    embeddings = inputs_embeds + token_type_embeddings
    position_embeddings = self.position_embeddings(position_ids)
    embeddings += position_embeddings
    embeddings = self.LayerNorm(embeddings)
    embeddings = self.dropout(embeddings)
    return embeddings


class StTransformer(torch.nn.Module):
    """sentence-transformers' Transformer module: features -> features + token_embeddings."""
    def __init__(self, bert):
        super().__init__()
        self.auto_model = bert

    def forward(self, features):
        out = self.auto_model(input_ids=features["input_ids"], attention_mask=features["attention_mask"],
                              return_dict=True)
        features["token_embeddings"] = out.last_hidden_state
        return features


class StMiniLM(torch.nn.Sequential):
    """SentenceTransformer(modules=[Transformer, Pooling(mean), Normalize]) called as Optimum's export
    does: (input_ids, attention_mask) -> (token_embeddings, sentence_embedding)."""
    def forward(self, input_ids, attention_mask):
        features = {"input_ids": input_ids, "attention_mask": attention_mask}
        for module in self:
            features = module(features)
        return features["token_embeddings"], features["sentence_embedding"]


def st_model_factory():
    import types
    from transformers import BertModel
    from sentence_transformers.sentence_transformer.modules import Pooling, Normalize
    bert = randomize_hf(BertModel(hf_config("bert", "eager"), add_pooling_layer=False)).eval()
    bert.embeddings.forward = types.MethodType(bert457_embeddings_forward, bert.embeddings)
    return StMiniLM(StTransformer(bert), Pooling(HF_HIDDEN, pooling_mode="mean"), Normalize())


def case_st_minilm(gen):
    sets = []
    for batch, seq, pads in ST_SETS:
        sets.append(OrderedDict([("input_ids", token_ids(gen, batch, seq, HF_VOCAB)),
                                 ("attention_mask", hf_attention_mask(batch, seq, pads))]))
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
            "token_embeddings": {0: "batch", 1: "seq"}, "sentence_embedding": {0: "batch"}}
    return dict(inputs=sets[0], dynamic_axes=axes, shape_sets=sets,
                output_names=["token_embeddings", "sentence_embedding"], check=check_finite,
                notes=["sentence-transformers layout (/0/auto_model, /1 Pooling mean, /2 Normalize) around a "
                       "transformers BertModel (eager, no pooler) whose embeddings run transformers 4.57's "
                       "forward: token_type_ids = Expand(Slice(zero buffer, 0:seq), [batch, seq]) (issue #12: "
                       "the default Optimum export of the real all-MiniLM-L6-v2)",
                       "input sets (batch, seq, padding per item: rK = last K keys padded, lK = first K): %s "
                       "under shapes/<k>/; mean pooling divides by the item's real token count" % ST_SETS,
                       "input_ids random in [0, %d); attention_mask int64 0/1; weights N(0, %g), LayerNorm "
                       "weights U(0.5, 1.5), LayerNorm and Linear biases U(-0.5, 0.5)" % (HF_VOCAB, HF_INIT_RANGE)])


case_st_minilm.model_factory = st_model_factory
case_st_minilm.model_desc = ("StMiniLM: sentence-transformers [Transformer(transformers BertModel(BertConfig(vocab %d, "
                             "hidden %d, %d layers, %d heads, intermediate %d, max positions %d, initializer_range "
                             "%g), attn_implementation='eager', add_pooling_layer=False), embeddings with transformers "
                             "4.57's forward), Pooling(mean), Normalize()], LayerNorm and biases randomized"
                             % (HF_VOCAB, HF_HIDDEN, HF_LAYERS, HF_BERT_HEADS, HF_INTER, HF_POSITIONS, HF_INIT_RANGE))


def st_cases():
    return OrderedDict([
        ("st_minilm", (case_st_minilm, export_torchscript17_t2)),
        ("st_minilm_dynamo", (case_st_minilm, export_dynamo)),
    ])


# ----------------------------------------------------------------------------- decoder LLMs (--set llm)
# transformers 5 *ForCausalLM models (issue #14) with small random configs: vocab 100, hidden 64, 2 layers,
# 4 query heads of dim 16, intermediate 80 (model.onnx < ~300 KB), initializer_range 0.15; every RMSNorm
# weight randomized (Llama form U(0.5, 1.5); Gemma's (1 + w) form w ~ U(-0.5, 0.5)), Qwen2's QKV biases
# U(-0.5, 0.5). Wrapper HfCausalLM: forward(input_ids, attention_mask) -> logits (use_cache=False;
# position_ids are transformers' default, arange(seq), for every item, padded or not).
# Expected = PyTorch's logits; compare.py checks them only at real positions (attention_mask == 1), as
# case.json's "compare" says: a padded query position's logits are not defined by the model's contract
# (eager gives the average of all keys there, SDPA 0 or NaN, the dynamo export finfo.min averages).

LLM_VOCAB, LLM_HIDDEN, LLM_LAYERS, LLM_HEADS, LLM_HEAD_DIM, LLM_INTER, LLM_POSITIONS = 100, 64, 2, 4, 16, 80, 128
LLM_INIT_RANGE = 0.15
LLM_WINDOW = 8          # Mistral / Gemma-2 / Gemma-3 sliding window: smaller than the longest set's seq (20)
# (batch, seq, padding per item, as HF_*_SETS): export shape with right padding, left padding, batch-1
# seq-1, and a longer set (seq 20 > LLM_WINDOW) with left and right padding.
LLM_SETS = [(2, 16, ["-", "r5"]), (3, 7, ["-", "l3", "l6"]), (1, 1, ["-"]), (2, 20, ["l5", "r3"])]
# family: (config class, model class, config overrides, what the family covers)
LLM_FAMILIES = OrderedDict([
    ("llama", ("LlamaConfig", "LlamaForCausalLM", dict(num_key_value_heads=2),
               "GQA (4 query heads, 2 key/value heads), SiLU-gated MLP, half-split rotary")),
    ("qwen2", ("Qwen2Config", "Qwen2ForCausalLM", dict(num_key_value_heads=1),
               "MQA (1 key/value head), QKV projection biases")),
    ("mistral", ("MistralConfig", "MistralForCausalLM",
                 dict(num_key_value_heads=2, head_dim=LLM_HEAD_DIM, sliding_window=LLM_WINDOW),
                 "GQA, sliding_window=%d (the seq-20 set exceeds it)" % LLM_WINDOW)),
    ("phi3", ("Phi3Config", "Phi3ForCausalLM", dict(num_key_value_heads=2, pad_token_id=0, bos_token_id=1,
                                                   eos_token_id=2),
              "fused qkv_proj and gate_up_proj, GQA, pad_token_id inside the vocabulary")),
    ("gemma", ("GemmaConfig", "GemmaForCausalLM", dict(num_key_value_heads=2, head_dim=LLM_HEAD_DIM, pad_token_id=0),
               "(1 + w) RMSNorm, embeddings scaled by sqrt(hidden), gelu_pytorch_tanh-gated MLP, tied lm_head, "
               "head_dim given")),
    ("gemma2", ("Gemma2Config", "Gemma2ForCausalLM",
                dict(num_key_value_heads=2, head_dim=LLM_HEAD_DIM, pad_token_id=0, sliding_window=LLM_WINDOW,
                     attn_logit_softcapping=8.0, final_logit_softcapping=4.0, query_pre_attn_scalar=32,
                     layer_types=["sliding_attention", "full_attention"]),
                "attention soft-capping 8 and final-logit soft-capping 4 (small, so that they bite), layer 0 "
                "sliding window %d, layer 1 full, scale 1/sqrt(query_pre_attn_scalar=32) != 1/sqrt(head_dim), "
                "pre/post-feedforward norms" % LLM_WINDOW)),
    ("gemma3", ("Gemma3TextConfig", "Gemma3ForCausalLM",
                dict(num_key_value_heads=2, head_dim=LLM_HEAD_DIM, pad_token_id=0, sliding_window=LLM_WINDOW,
                     query_pre_attn_scalar=32, layer_types=["sliding_attention", "full_attention"]),
                "q/k RMSNorm, layer 0 sliding window %d with the local rope base, layer 1 full attention, "
                "scale 1/sqrt(32)" % LLM_WINDOW)),
])
LLM_REAL_POSITIONS = OrderedDict([
    ("real_positions", OrderedDict([("mask_input", "attention_mask"), ("outputs", ["logits"])])),
    ("about", "compare.py compares logits[b, s, :] only where attention_mask[b, s] == 1 (the real, "
              "non-padded positions; issue #14): padded query positions are excluded from the error "
              "and from the scale max(1, max|ref|)"),
])


class HfCausalLM(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask):
        return self.m(input_ids=input_ids, attention_mask=attention_mask, use_cache=False,
                      return_dict=True).logits


def llm_config(family, impl):
    import transformers
    cfg_name, _, over, _ = LLM_FAMILIES[family]
    kw = dict(vocab_size=LLM_VOCAB, hidden_size=LLM_HIDDEN, num_hidden_layers=LLM_LAYERS,
              num_attention_heads=LLM_HEADS, intermediate_size=LLM_INTER, max_position_embeddings=LLM_POSITIONS,
              initializer_range=LLM_INIT_RANGE, attn_implementation=impl)
    kw.update(over)
    return getattr(transformers, cfg_name)(**kw)


def randomize_llm(model):
    """RMSNorm weights: transformers initializes them to 1 (Gemma's (1 + w) form: w = 0), which would
    hide a dropped or misplaced norm weight; biases (Qwen2's q/k/v) to 0. Random values instead."""
    with torch.no_grad():
        for mod in model.modules():
            cls = type(mod).__name__
            if cls.endswith("RMSNorm") and getattr(mod, "weight", None) is not None:
                if cls.startswith("Gemma"):
                    mod.weight.uniform_(-0.5, 0.5)
                else:
                    mod.weight.uniform_(0.5, 1.5)
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.uniform_(-0.5, 0.5)
    return model


def llm_model(family, impl):
    def deco(fn):
        def factory():
            import transformers
            cfg = llm_config(family, impl)
            return HfCausalLM(randomize_llm(getattr(transformers, LLM_FAMILIES[family][1])(cfg)).eval())
        fn.model_factory = factory
        cfg_name, model_name, over, covers = LLM_FAMILIES[family]
        fn.model_desc = ("transformers %s(%s(vocab %d, hidden %d, %d layers, %d heads, intermediate %d, max positions "
                         "%d, initializer_range %g, %s), attn_implementation=%r), RMSNorm weights (and biases) "
                         "randomized; wrapper HfCausalLM (use_cache=False, output logits). Covers: %s"
                         % (model_name, cfg_name, LLM_VOCAB, LLM_HIDDEN, LLM_LAYERS, LLM_HEADS, LLM_INTER,
                            LLM_POSITIONS, LLM_INIT_RANGE, ", ".join("%s=%r" % kv for kv in over.items()), impl,
                            covers))
        fn.llm = (family, impl)
        return fn
    return deco


def check_llm(model, inputs, outputs):
    """Logits finite at every real position (padded ones may be anything, even NaN)."""
    real = inputs["attention_mask"].bool()
    assert torch.isfinite(outputs[0][real]).all(), "non-finite reference logits at a real position"
    return {"logits_finite_at_real_positions": True}


def llm_case(gen, family, impl, sets=LLM_SETS):
    shape_sets = []
    for batch, seq, pads in sets:
        shape_sets.append(OrderedDict([("input_ids", token_ids(gen, batch, seq, LLM_VOCAB)),
                                       ("attention_mask", hf_attention_mask(batch, seq, pads))]))
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
            "logits": {0: "batch", 1: "seq"}}
    return dict(inputs=shape_sets[0], dynamic_axes=axes, shape_sets=shape_sets, output_names=["logits"],
                check=check_llm, compare=LLM_REAL_POSITIONS,
                notes=["family %s, attn_implementation=%r: %s" % (family, impl, LLM_FAMILIES[family][3]),
                       "dynamic batch and seq; input sets (batch, seq, padding per item: rK = last K positions "
                       "padded, lK = first K): %s under shapes/<k>/" % sets,
                       "input_ids random in [0, %d) (int64); attention_mask int64 0/1; position_ids not an input "
                       "(transformers uses arange(seq) for every item)" % LLM_VOCAB,
                       "expected = PyTorch's logits [batch, seq, %d]; compared only at real positions "
                       "(case.json \"compare\")" % LLM_VOCAB])


def _llm_builder(family, impl):
    @llm_model(family, impl)
    def builder(gen):
        return llm_case(gen, family, impl)
    return builder


# (case name, family, attn_implementation, exporter name). Each family is exported by both exporters,
# and both implementations occur across its cases; Llama has all four combinations. The _dynamo
# variants reuse the seeds (weights, inputs) of the name without the suffix.
LLM_CASES = [
    ("llama", "llama", "eager", "ts"),
    ("llama_sdpa", "llama", "sdpa", "ts"),
    ("llama_dynamo", "llama", "eager", "dynamo"),
    ("llama_sdpa_dynamo", "llama", "sdpa", "dynamo"),
    ("qwen2_sdpa", "qwen2", "sdpa", "ts"),
    ("qwen2_dynamo", "qwen2", "eager", "dynamo"),
    ("mistral", "mistral", "eager", "ts"),
    ("mistral_sdpa_dynamo", "mistral", "sdpa", "dynamo"),
    ("phi3_sdpa", "phi3", "sdpa", "ts"),
    ("phi3_dynamo", "phi3", "eager", "dynamo"),
    ("gemma", "gemma", "eager", "ts"),
    ("gemma_sdpa_dynamo", "gemma", "sdpa", "dynamo"),
    ("gemma2", "gemma2", "eager", "ts"),
    ("gemma3_sdpa_dynamo", "gemma3", "sdpa", "dynamo"),
]


def llm_cases():
    exporters = {"ts": export_torchscript17_t2, "dynamo": export_dynamo}
    return OrderedDict((name, (_llm_builder(fam, impl), exporters[exp])) for name, fam, impl, exp in LLM_CASES)


SKELETON_CASES = OrderedDict([
    ("selfattn_causal", case_selfattn_causal),
    ("selfattn_padding", case_selfattn_padding),
    ("selfattn_cross", case_selfattn_cross),
    ("selfattn_fully_masked", case_selfattn_fully_masked),
    ("selfattn_mask_values", case_selfattn_mask_values),
    ("selfattn_dynamic", case_selfattn_dynamic),
    ("transformer_block", case_transformer_block),
    ("transformer_block_causal", case_transformer_block_causal),
    ("transformer_block_bool_mask", case_transformer_block_bool_mask),
    ("encoder", case_encoder),
    ("decoder_block", case_decoder_block),
    ("decoder_causal", case_decoder_causal),
    ("decoder_causal_bool", case_decoder_causal_bool),
    ("transformer", case_transformer),
    ("decoder_inline_causal", case_decoder_inline_causal),
    ("decoder_const_causal", case_decoder_const_causal),
    ("transformer_range_mask", case_transformer_range_mask),
    ("decoder_block_tril_bool", case_decoder_block_tril_bool),
])

# dynamo variants: (variant case name, builder it reuses)
DYNAMO_CASES = OrderedDict([
    ("selfattn_causal_dynamo", case_selfattn_causal),
    ("selfattn_dynamic_dynamo", case_selfattn_dynamic),
    ("encoder_dynamo", case_encoder),
    ("decoder_causal_bool_dynamo", case_decoder_causal_bool),
    ("transformer_dynamo", case_transformer),
])


# torch 2.x's TorchScript exporter (dynamo=False) at opset 18: (variant case name, builder it reuses).
# Static shapes only: with dynamic_axes, torch 2.x's TorchScript export of nn.MultiheadAttention bakes
# the export-time sizes into a Reshape (tried with encoder: onnxruntime fails on the other shape sets).
TS18_CASES = OrderedDict([
    ("decoder_causal_bool_ts18", case_decoder_causal_bool),
    ("transformer_ts18", case_transformer),
])

# Hugging Face models: (case name, builder, exporter). The _dynamo variants reuse the seeds (weights
# and inputs) of the TorchScript ones.
def hf_cases():
    return OrderedDict([
        ("bert", (case_bert, export_torchscript17_t2)),
        ("bert_sdpa", (case_bert_sdpa, export_torchscript17_t2)),
        ("bert_no_token_types", (case_bert_no_token_types, export_torchscript17_t2)),
        ("gpt2", (case_gpt2, export_torchscript17_t2)),
        ("gpt2_sdpa", (case_gpt2_sdpa, export_torchscript17_t2)),
        ("bert_dynamo", (case_bert, export_dynamo)),
        ("bert_sdpa_dynamo", (case_bert_sdpa_dynamo, export_dynamo)),
        ("gpt2_dynamo", (case_gpt2, export_dynamo)),
        ("gpt2_sdpa_dynamo", (case_gpt2_sdpa_dynamo, export_dynamo)),
    ])

# ----------------------------------------------------------------------------- export

def export_torchscript(model, args, path, dynamic_axes, input_names, output_names):
    torch.onnx.export(model, tuple(args), path, opset_version=17,
                      input_names=input_names, output_names=output_names,
                      dynamic_axes=dynamic_axes, do_constant_folding=True)
    return {"exporter": "torch.onnx.export (TorchScript)", "opset_requested": 17,
            "dynamic_axes": dynamic_axes}


def export_torchscript18(model, args, path, dynamic_axes, input_names, output_names):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, tuple(args), path, dynamo=False, opset_version=18,
                          input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, do_constant_folding=True)
    return {"exporter": "torch.onnx.export(dynamo=False) (TorchScript, torch 2.x)", "opset_requested": 18,
            "dynamic_axes": dynamic_axes}


def export_torchscript17_t2(model, args, path, dynamic_axes, input_names, output_names):
    import warnings
    import transformers
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, tuple(args), path, dynamo=False, opset_version=17,
                          input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, do_constant_folding=True)
    return {"exporter": "torch.onnx.export(dynamo=False) (TorchScript, torch 2.x)", "opset_requested": 17,
            "transformers": transformers.__version__, "dynamic_axes": dynamic_axes}


def export_dynamo(model, args, path, dynamic_axes, input_names, output_names):
    import logging
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    ds = None
    if dynamic_axes:
        dims = {}
        ds = {}
        for name in input_names:
            ds[name] = {ax: dims.setdefault(sym, torch.export.Dim(sym, min=1, max=8192))
                        for ax, sym in dynamic_axes.get(name, {}).items()} or None
    prog = torch.onnx.export(model, tuple(args), None, dynamo=True, input_names=input_names,
                             output_names=output_names, dynamic_shapes=ds, verbose=False)
    prog.save(path)
    info = {"exporter": "torch.onnx.export(dynamo=True) + onnxscript", "dynamic_shapes": dynamic_axes}
    if isinstance(model, (HfCausalLM, StMiniLM)):
        # The nodes' metadata_props (source stack traces, ~285 KB for a 2-layer model) are dropped: they
        # triple the file and hold paths of the generating machine. Nothing else changes.
        mp = onnx.load(path)
        for node in mp.graph.node:
            del node.metadata_props[:]
            node.doc_string = ""
        onnx.save(mp, path)
        info["postprocess"] = "node metadata_props and doc_string removed"
    if isinstance(model, (HfBert, HfGpt2, HfCausalLM, StMiniLM)):
        import transformers
        info["transformers"] = transformers.__version__
    return info


# ----------------------------------------------------------------------------- writing

def save_npy(path, arr):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    arr = np.ascontiguousarray(arr)
    np.save(path, arr, allow_pickle=False)


def tensor_info(name, arr, file):
    return OrderedDict([("name", name), ("file", file), ("dtype", DTYPE_NAMES[arr.dtype]),
                        ("shape", list(arr.shape))])


def onnx_np_dtype(elem_type):
    if hasattr(onnx.helper, "tensor_dtype_to_np_dtype"):       # onnx >= 1.13
        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type))
    return np.dtype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[elem_type])  # Debian's onnx 1.12


def graph_signature(mp):
    def vi(v):
        tt = v.type.tensor_type
        dims = [d.dim_param if d.HasField("dim_param") else (d.dim_value if d.HasField("dim_value") else "?")
                for d in tt.shape.dim]
        return OrderedDict([("name", v.name),
                            ("dtype", DTYPE_NAMES[onnx_np_dtype(tt.elem_type)]),
                            ("shape", dims)])
    inits = {i.name for i in mp.graph.initializer}
    return ([vi(v) for v in mp.graph.input if v.name not in inits], [vi(v) for v in mp.graph.output])


def run_pytorch(model, inputs):
    # torch 2.15's TorchScript export can leave the model in training mode (seen with BertModel
    # called without token_type_ids): dropout would be live in the reference.
    model.eval()
    with torch.no_grad():
        out = model(*inputs.values())
    return [out] if isinstance(out, torch.Tensor) else list(out)


def write_set(dirpath, inputs, outputs, output_names=SA_OUTPUTS):
    """Writes inputs/ and expected/ under dirpath; returns (inputs info, outputs info)."""
    for sub in ("inputs", "expected"):
        shutil.rmtree(os.path.join(dirpath, sub), ignore_errors=True)
    ins, outs = [], []
    for name, t in inputs.items():
        assert re.fullmatch(r"[A-Za-z0-9._-]+", name), name
        arr = t.numpy()
        assert not (arr == 0).all(), "input %s is all zeros" % name
        f = os.path.join(dirpath, "inputs", name + ".npy")
        save_npy(f, arr)
        ins.append(tensor_info(name, arr, rel(f)))
    assert len(output_names) == len(outputs)
    for name, t in zip(output_names, outputs):
        arr = t.numpy()
        f = os.path.join(dirpath, "expected", sanitize(name) + ".npy")
        save_npy(f, arr)
        info = tensor_info(name, arr, rel(f))
        info["finite"] = bool(np.isfinite(arr).all())
        info["max_abs"] = float(np.abs(arr[np.isfinite(arr)]).max()) if arr.size else 0.0
        outs.append(info)
    return ins, outs


def build_case(name, builder, exporter):
    seed = case_seed(re.sub(r"_(dynamo|ts18)$", "", name))   # the variants reuse the skeleton seeds
    torch.manual_seed(seed)
    factory = getattr(builder, "model_factory", None)   # set by @family_model; default: SelfAttention
    if factory is None:
        model = SelfAttention(EMBED, HEADS).eval()
        model_desc = "SelfAttention(embed_size=%d, heads=%d) from the seed (scripts/seed_models.py)" % (EMBED, HEADS)
    else:
        model = factory().eval()
        model_desc = builder.model_desc
    gen = torch.Generator().manual_seed(seed + 1)
    spec = builder(gen)
    input_names = list(spec["inputs"])
    output_names = spec.get("output_names", SA_OUTPUTS)
    case_dir = os.path.join(E2E, name)
    shutil.rmtree(case_dir, ignore_errors=True)
    os.makedirs(case_dir)
    model_path = os.path.join(case_dir, "model.onnx")

    dyn = spec.get("dynamic_axes")
    export_args = list(spec["inputs"].values())
    exp_info = exporter(model, export_args, model_path, dyn, input_names, output_names)
    mp = onnx.load(model_path)
    onnx.checker.check_model(mp)   # each interpreter's onnx knows the IR/opset its torch emits
    sig_in, sig_out = graph_signature(mp)
    assert [s["name"] for s in sig_in] == input_names, [s["name"] for s in sig_in]
    assert [s["name"] for s in sig_out] == output_names, [s["name"] for s in sig_out]

    case = OrderedDict()
    case["case"] = name
    case["model"] = model_desc
    case["model_file"] = rel(model_path)
    case["tolerance"] = 1e-4
    case["metric"] = "max|got-ref| / max(1, max|ref|) over all elements (CONTRACT numerics)"
    case["seed"] = seed
    case["generator"] = OrderedDict([
        ("script", "scripts/gen_fixtures.py"),
        ("interpreter", sys.executable),
        ("python", sys.version.split()[0]),
        ("torch", torch.__version__),
        ("onnx", onnx.__version__),
        ("numpy", np.__version__),
    ])
    case["generator"].update(exp_info)
    case["onnx"] = OrderedDict([
        ("ir_version", mp.ir_version),
        ("opset", {o.domain or "ai.onnx": o.version for o in mp.opset_import}),
        ("producer", "%s %s" % (mp.producer_name, mp.producer_version)),
        ("inputs", sig_in),
        ("outputs", sig_out),
        ("initializers", [OrderedDict([("name", i.name), ("shape", list(i.dims))]) for i in mp.graph.initializer]),
        ("op_types", sorted(set(n.op_type for n in mp.graph.node))),
        ("op_counts", OrderedDict(sorted(Counter(n.op_type for n in mp.graph.node).items()))),
        ("nodes", ["%s %s" % (n.op_type, n.name) for n in mp.graph.node]),
    ])

    checks = OrderedDict()
    if "shape_sets" in spec:
        sets = []
        for k, inputs in enumerate(spec["shape_sets"]):
            outputs = run_pytorch(model, inputs)
            if spec.get("check"):
                checks.update(spec["check"](model, inputs, outputs))
            set_dir = os.path.join(case_dir, "shapes", str(k))
            ins, outs = write_set(set_dir, inputs, outputs, output_names)
            sets.append(OrderedDict([("set", k), ("dir", rel(set_dir)), ("inputs", ins), ("outputs", outs)]))
        case["shape_sets"] = sets
    else:
        outputs = run_pytorch(model, spec["inputs"])
        if spec.get("check"):
            checks.update(spec["check"](model, spec["inputs"], outputs))
        ins, outs = write_set(case_dir, spec["inputs"], outputs, output_names)
        case["inputs"] = ins
        case["outputs"] = outs
    case["checks"] = checks
    if "compare" in spec:           # read by test/e2e/compare.py (e.g. LLM logits at real positions only)
        case["compare"] = spec["compare"]
    case["notes"] = spec["notes"]
    dump_json(case, os.path.join(case_dir, "case.json"))
    return case


def dump_json(obj, path):
    """json with lists of scalars kept on one line (readable case.json diffs)."""
    text = json.dumps(obj, indent=2)
    text = re.sub(r"\[\s*([^\[\]{}]*?)\s*\]",
                  lambda m: "[" + re.sub(r"\s*\n\s*", " ", m.group(1)) + "]", text)
    with open(path, "w") as f:
        f.write(text + "\n")


def dir_size(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def update_manifest(cases):
    path = os.path.join(E2E, "MANIFEST.json")
    manifest = OrderedDict([("about", "attnc e2e conformance fixtures; regenerate with scripts/gen_fixtures.py "
                                      "(see its docstring), cross-check with scripts/verify_fixtures_ort.py"),
                            ("cases", OrderedDict())])
    if os.path.exists(path):
        with open(path) as f:
            manifest = json.load(f, object_pairs_hook=OrderedDict)
    for c in cases:
        d = os.path.join(ROOT, os.path.dirname(c["model_file"]))
        manifest["cases"][c["case"]] = OrderedDict([
            ("dir", rel(d)),
            ("interpreter", c["generator"]["interpreter"]),
            ("torch", c["generator"]["torch"]),
            ("exporter", c["generator"]["exporter"]),
            ("ir_version", c["onnx"]["ir_version"]),
            ("opset", c["onnx"]["opset"]),
            ("dynamic", "shape_sets" in c),
            ("shape_sets", len(c.get("shape_sets", []))),
            ("bytes", dir_size(d)),
            ("model_sha256", sha256(os.path.join(ROOT, c["model_file"]))),
        ])
    manifest["cases"] = OrderedDict(sorted(manifest["cases"].items()))
    dump_json(manifest, path)


def write_example(case):
    """examples/selfattn/: the README's demo, a copy of selfattn_causal."""
    src = os.path.join(E2E, case["case"])
    shutil.rmtree(EXAMPLE, ignore_errors=True)
    os.makedirs(EXAMPLE)
    for sub in ("model.onnx", "inputs", "expected"):
        s = os.path.join(src, sub)
        (shutil.copytree if os.path.isdir(s) else shutil.copyfile)(s, os.path.join(EXAMPLE, sub))
    ex = json.loads(json.dumps(case, indent=1).replace(rel(src) + "/", rel(EXAMPLE) + "/"),
                    object_pairs_hook=OrderedDict)
    ex["notes"] = ["demo copy of test/e2e/%s (same files)" % case["case"]] + ex["notes"]
    dump_json(ex, os.path.join(EXAMPLE, "case.json"))
    with open(os.path.join(EXAMPLE, "README.md"), "w") as f:
        f.write("""# Demo: the seed's SelfAttention

`model.onnx` is the seed's `SelfAttention(embed_size=256, heads=8)` with random weights, exported by
PyTorch 1.13 (opset 17); `inputs/` holds a batch of 2 sequences of 16 tokens with a causal mask
(int64, `[2,1,16,16]`) and `expected/out.npy` is PyTorch's output. It is a copy of
`test/e2e/selfattn_causal/` made by `scripts/gen_fixtures.py`; `case.json` describes it.

```sh
build/bin/attnc examples/selfattn/model.onnx -o /tmp/selfattn.so
build/bin/attn-run /tmp/selfattn.so \\
    --input values=examples/selfattn/inputs/values.npy \\
    --input keys=examples/selfattn/inputs/keys.npy \\
    --input queries=examples/selfattn/inputs/queries.npy \\
    --input mask=examples/selfattn/inputs/mask.npy \\
    --output-dir /tmp/selfattn.out
/usr/bin/python3 test/e2e/compare.py /tmp/selfattn.out examples/selfattn/expected
```
""")


def write_negative_inputs():
    """Bad inputs for test/e2e/attn_run_errors.test (run against the compiled selfattn_causal)."""
    d = os.path.join(E2E, "negative")
    shutil.rmtree(d, ignore_errors=True)
    rng = np.random.default_rng(7)
    mask = np.tril(np.ones((16, 16), np.int64))[None, None].repeat(2, axis=0)
    save_npy(os.path.join(d, "mask_f32.npy"), mask.astype(np.float32))       # wrong dtype (expects i64)
    save_npy(os.path.join(d, "mask_i32.npy"), mask.astype(np.int32))         # wrong dtype (expects i64)
    save_npy(os.path.join(d, "values_rank2.npy"), rng.standard_normal((32, 256)).astype(np.float32))
    save_npy(os.path.join(d, "values_dim.npy"), rng.standard_normal((2, 16, 128)).astype(np.float32))
    save_npy(os.path.join(d, "values_f64.npy"), rng.standard_normal((2, 16, 256)))
    with open(os.path.join(d, "README.md"), "w") as f:
        f.write("Deliberately wrong inputs for `selfattn_causal/model.onnx` (values f32[2,16,256], "
                "mask i64[2,1,16,16]),\nused by `../attn_run_errors.test`. Written by scripts/gen_fixtures.py.\n"
                "- mask_f32.npy, mask_i32.npy: right shape, wrong dtype\n"
                "- values_rank2.npy: f32[32,256] (wrong rank)\n"
                "- values_dim.npy: f32[2,16,128] (wrong last dim)\n"
                "- values_f64.npy: f64[2,16,256] (wrong dtype)\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", choices=["skeleton", "dynamo", "ts18", "hf", "llm", "st"], default="skeleton")
    ap.add_argument("--cases", nargs="*", help="only these cases of the set")
    ap.add_argument("--force", action="store_true", help="skip the interpreter/version check")
    args = ap.parse_args()

    major = int(torch.__version__.split(".")[0])
    if args.set == "skeleton":
        table, exporter = SKELETON_CASES, export_torchscript
        if not args.force and not torch.__version__.startswith("1.13"):
            sys.exit("gen_fixtures: the skeleton set is made by Debian's /usr/bin/python3 (torch 1.13); "
                     "this is torch %s (use --force to override)" % torch.__version__)
    elif args.set == "dynamo":
        table, exporter = DYNAMO_CASES, export_dynamo
        if major < 2:
            sys.exit("gen_fixtures: --set dynamo needs the pip python3 (torch 2.x + onnxscript)")
    elif args.set == "ts18":
        table, exporter = TS18_CASES, export_torchscript18
        if major < 2:
            sys.exit("gen_fixtures: --set ts18 needs the pip python3 (torch 2.x)")
    else:
        try:
            import transformers  # noqa: F401
        except ImportError:
            transformers = None
        if major < 2 or transformers is None:
            sys.exit("gen_fixtures: --set %s needs the pip python3 (torch 2.x, transformers, onnxscript)"
                     % args.set)
        table, exporter = {"hf": hf_cases, "llm": llm_cases, "st": st_cases}[args.set](), None
    torch.set_num_threads(1)   # deterministic reductions
    names = args.cases or list(table)
    done = []
    for name in names:
        builder, case_exporter = table[name] if exporter is None else (table[name], exporter)
        case = build_case(name, builder, case_exporter)
        done.append(case)
        print("%-26s %8d bytes  ops: %s" % (name, dir_size(os.path.join(E2E, name)), " ".join(case["onnx"]["op_types"])))
    if args.set == "skeleton" and not args.cases:
        write_example(done[0])
        write_negative_inputs()
    update_manifest(done)


if __name__ == "__main__":
    main()
