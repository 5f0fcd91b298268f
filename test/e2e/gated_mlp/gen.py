"""Generates the gated-MLP fixtures (run with the pip python3: torch, transformers, onnxruntime).

  python3 test/e2e/gated_mlp/gen.py

Each model is one Hugging Face MLP block (hidden 32, intermediate 96, weights and
biases random) exported with the TorchScript exporter (opset 17, `ts`) or the dynamo
exporter (`dynamo`), input x [batch, seq, 32] with dynamic batch and seq:

  llama_ts, llama_dynamo   LlamaMLP (SiLU, separate gate/up projections)
  llama_bias_ts            LlamaMLP with mlp_bias=True (gate/up biases)
  phi3_ts, phi3_dynamo     Phi3MLP (packed gate_up_proj, chunk(2) -> Split/Slice)
  gemma_ts                 GemmaMLP (gelu_pytorch_tanh)
  gelu_ts                  LlamaMLP with hidden_act="gelu" (exact GELU)

Writes <model>.onnx, shapes/K/x.npy (two shapes) and expected/<model>/K/y.npy (PyTorch's
output); checks onnxruntime against PyTorch on the way.
"""
import os

import numpy as np
import onnxruntime as ort
import torch
from transformers import GemmaConfig, LlamaConfig, Phi3Config
from transformers.models.gemma.modeling_gemma import GemmaMLP
from transformers.models.llama.modeling_llama import LlamaMLP
from transformers.models.phi3.modeling_phi3 import Phi3MLP

here = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(14)
common = dict(hidden_size=32, intermediate_size=96)
models = {
    "llama_ts": (LlamaMLP(LlamaConfig(**common)), "ts"),
    "llama_dynamo": (LlamaMLP(LlamaConfig(**common)), "dynamo"),
    "llama_bias_ts": (LlamaMLP(LlamaConfig(**common, mlp_bias=True)), "ts"),
    "phi3_ts": (Phi3MLP(Phi3Config(**common, pad_token_id=0)), "ts"),
    "phi3_dynamo": (Phi3MLP(Phi3Config(**common, pad_token_id=0)), "dynamo"),
    "gemma_ts": (GemmaMLP(GemmaConfig(**common, hidden_activation="gelu_pytorch_tanh")), "ts"),
    "gelu_ts": (LlamaMLP(LlamaConfig(**common, hidden_act="gelu")), "ts"),
}
shapes = [(2, 7, 32), (1, 13, 32)]
rng = np.random.default_rng(14)
xs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
for k, x in enumerate(xs):
    os.makedirs(f"{here}/shapes/{k}", exist_ok=True)
    np.save(f"{here}/shapes/{k}/x.npy", x)
for name, (m, exporter) in models.items():
    m.eval()
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
    path = f"{here}/{name}.onnx"
    ax = {"x": {0: "batch", 1: "seq"}, "y": {0: "batch", 1: "seq"}}
    example = (torch.from_numpy(xs[0]),)
    if exporter == "ts":
        torch.onnx.export(m, example, path, input_names=["x"], output_names=["y"],
                          dynamic_axes=ax, opset_version=17, dynamo=False)
    else:
        torch.onnx.export(m, example, path, input_names=["x"], output_names=["y"],
                          dynamic_axes=ax, dynamo=True, external_data=False)
    sess = ort.InferenceSession(path)
    for k, x in enumerate(xs):
        with torch.no_grad():
            ref = m(torch.from_numpy(x)).numpy()
        got = sess.run(None, {"x": x})[0]
        err = np.abs(got - ref).max() / max(1.0, np.abs(ref).max())
        assert err < 1e-5, (name, k, err)
        os.makedirs(f"{here}/expected/{name}/{k}", exist_ok=True)
        np.save(f"{here}/expected/{name}/{k}/y.npy", ref)
    print(name, "ok")
