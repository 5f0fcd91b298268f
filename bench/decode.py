#!/usr/bin/env python3
"""attnc text generation (issue #15): decode ms/token and prefill ms beside ONNX Runtime and PyTorch generate(),
with the memory bandwidth they reach against a STREAM-style triad.

    python3 bench/decode.py                       # everything (~15 min on the 2-core dev machines)
    python3 bench/decode.py --quick --no-record   # smoke test: ctx 128 only, few tokens
    python3 bench/decode.py --models llama --ctx 1024 --batch 1

Interpreter: the pip `python3` (torch, transformers, onnxruntime, onnx, numpy). The main process uses only the
standard library and numpy; the model builds, exports, ORT and PyTorch run in child processes
(`decode.py --worker SPEC`).

Models (random weights, seed 0; exported once into --cache, ~/.cache/attnc-bench, never committed):
  gpt2   GPT2LMHeadModel, GPT-2-small shapes: 12 layers, 768 wide, 12 heads, vocab 50257 (n_positions 2048 so that
         context 1024 + the new tokens fit; the real GPT-2 stops at 1024), tied lm_head.
  llama  LlamaForCausalLM as bench/run.py's Llama rows: 768 wide, 12 heads, 4 kv heads, 6 layers, intermediate
         2048, vocab 32000, RMSNorm weights U(0.5, 1.5).
Both with attn_implementation="sdpa", exported by the TorchScript exporter (opset 17) WITH PAST as
/work/notes/tasks15/KVCACHE-ABI.md names it: inputs input_ids [batch, seq], attention_mask [batch, past+seq],
past_key_values.{i}.key|value [batch, kv_heads, past, head_dim]; outputs logits [batch, seq, vocab],
present.{i}.key|value. No position_ids input (no padding here: the model's own arange(past, past+seq)).

For each model, context C in --ctx and batch B in --batch: a prompt of C random tokens (attention mask all ones),
then --tokens new tokens greedily (--tokens-long at C >= 1024). Each implementation reports the prefill time (the
prompt through the model with an empty past, logits of every position unless said otherwise, first new token)
and the decode time per
token (the other new tokens, one step each: ms/token = their total / (new tokens - 1)):
  attnc (with-past)  attnc MODEL -o lib.so; `attn-run lib.so --generate N --json` (past -> present fed back)
  attnc (--kv-cache) attnc MODEL --kv-cache=MAXLEN --logits=last -o lib.so (cache updated in place; the prefill
                     computes the last position's logits only, as PyTorch generate() does); same attn-run command
  ORT (IOBinding)    onnxruntime on the SAME .onnx, one InferenceSession, run_with_iobinding: inputs and outputs
                     bound to preallocated numpy buffers (two ping-pong buffers per past/present, sized for the
                     longest context; each step's present is written by ORT straight into the buffer that the
                     next step binds as its past: no host copies, nothing allocated per step)
  PyTorch generate() transformers' model.generate(do_sample=False, max_new_tokens=min_new_tokens=N) on the same
                     module; a LogitsProcessor stamps the time when each step's logits are ready
Every implementation first runs a short warm-up generation (16-token prompt, 2 new tokens) in the same process.
Threads: --threads for every side (default all cores). Greedy tokens are compared with PyTorch's ("tokens"
column: "=" identical, else the first differing step; random weights give near-ties, so a late flip can be
rounding, not a bug).

Bandwidth: bench/stream_triad.c compiled now (clang -O3 -march=native -fopenmp), triad a = b + s*c over
3 x 256 MiB doubles, all cores, best of 10 (STREAM's byte count). Each decode row's achieved bandwidth =
(weight bytes streamed per step + K/V cache bytes read per step) / (ms per token); weight bytes = fp32 bytes of
every parameter a step reads in full (all but the embedding tables, plus the lm_head = GPT-2's tied wte);
K/V bytes = 2 * layers * B * kv_heads * (C + N/2) * head_dim * 4. The decode attention alone: an attn-dialect
model with one attn.attention of one query per (layer, batch, head) against C keys ([L*B, H, 1, D] x
[L*B, Hkv, C, D], every layer's K/V of one step), timed by attn-run --benchmark: its K/V bytes / its time.
When that K/V is smaller than the L3 it is served from cache and the figure is marked "(in L3)".

Writes bench/results-decode-<date>.json and appends a section to bench/RESULTS.md (unless --no-record).
"""
import argparse
import datetime
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)
import run as common  # noqa: E402  (bench/run.py: lscpu, versions, git, bg load helpers)

ATTNC = os.path.join(ROOT, "build", "bin", "attnc")
ATTN_RUN = os.path.join(ROOT, "build", "bin", "attn-run")

GPT2_CFG = dict(vocab_size=50257, n_embd=768, n_layer=12, n_head=12, n_positions=2048)
GPT2P_VOCAB = 50304   # "gpt2p": the same model with the vocabulary padded to a multiple of 64 (nanoGPT's trick)
MODEL_TAGS = {"gpt2": "gpt2-small-l12-h768-v50257", "gpt2p": "gpt2-small-l12-h768-v50304",
              "llama": "llama-h768-l6-h12-kv4-i2048-v32000"}
LLAMA_CFG = common.LLAMA_CFG
WARM_PROMPT, WARM_TOKENS = 16, 2


# =============================================================================================== worker side

def _build(torch, which):
    """-> (HF model, dims dict). Deterministic: the same weights in every process."""
    import transformers
    torch.manual_seed(0)
    if which in ("gpt2", "gpt2p"):
        gcfg = dict(GPT2_CFG, vocab_size=GPT2P_VOCAB) if which == "gpt2p" else GPT2_CFG
        cfg = transformers.GPT2Config(**gcfg, attn_implementation="sdpa", bos_token_id=50256,
                                      eos_token_id=50256)
        m = transformers.GPT2LMHeadModel(cfg).eval()
        dims = dict(layers=gcfg["n_layer"], heads=gcfg["n_head"], kv_heads=gcfg["n_head"],
                    head_dim=gcfg["n_embd"] // gcfg["n_head"], vocab=gcfg["vocab_size"])
        desc = "transformers %s GPT2LMHeadModel(%s), random weights (seed 0), sdpa" % (
            transformers.__version__, ", ".join("%s=%s" % kv for kv in gcfg.items()))
    else:
        cfg = transformers.LlamaConfig(**LLAMA_CFG, initializer_range=0.02, attn_implementation="sdpa",
                                       bos_token_id=1, eos_token_id=2, pad_token_id=0)
        m = transformers.LlamaForCausalLM(cfg).eval()
        with torch.no_grad():
            for mod in m.modules():
                if type(mod).__name__.endswith("RMSNorm"):
                    mod.weight.uniform_(0.5, 1.5)
        dims = dict(layers=LLAMA_CFG["num_hidden_layers"], heads=LLAMA_CFG["num_attention_heads"],
                    kv_heads=LLAMA_CFG["num_key_value_heads"],
                    head_dim=LLAMA_CFG["hidden_size"] // LLAMA_CFG["num_attention_heads"],
                    vocab=LLAMA_CFG["vocab_size"])
        desc = ("transformers %s LlamaForCausalLM(%s), random weights (seed 0, RMSNorm weights U(0.5, 1.5)), sdpa"
                % (transformers.__version__, ", ".join("%s=%s" % kv for kv in LLAMA_CFG.items())))
    # bytes a decode step streams in full: every parameter except the embedding tables (one row gathered per
    # token), plus the lm_head (GPT-2's lm_head IS wte: counted once, as the lm_head)
    emb = {id(mod.weight) for mod in m.modules() if isinstance(mod, torch.nn.Embedding)}
    head = id(m.get_output_embeddings().weight)
    streamed = sum(p.numel() for p in m.parameters() if id(p) not in emb or id(p) == head)
    dims.update(weight_bytes=4 * streamed, params=sum(p.numel() for p in m.parameters()))
    return m, dims, desc


def _cache_names(L):
    past = ["past_key_values.%d.%s" % (i, kv) for i in range(L) for kv in ("key", "value")]
    present = ["present.%d.%s" % (i, kv) for i in range(L) for kv in ("key", "value")]
    return past, present


def _export(spec):
    """Exports spec['model'] with past to spec['onnx'] unless it exists; returns the dims."""
    import torch
    import warnings
    from transformers import DynamicCache
    torch.set_num_threads(spec["threads"])
    m, dims, desc = _build(torch, spec["model"])
    L = dims["layers"]
    path = spec["onnx"]
    exported = False
    if not os.path.exists(path):
        class W(torch.nn.Module):
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

        B, S, P = 2, 3, 5
        ids = torch.randint(0, dims["vocab"], (B, S))
        am = torch.ones(B, P + S, dtype=torch.int64)
        past = [torch.randn(B, dims["kv_heads"], P, dims["head_dim"]) for _ in range(2 * L)]
        pn, qn = _cache_names(L)
        ax = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "total"},
              "logits": {0: "batch", 1: "seq"}}
        for n in pn:
            ax[n] = {0: "batch", 2: "past"}
        for n in qn:
            ax[n] = {0: "batch", 2: "total"}
        tmp = path + ".tmp"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(W(m).eval(), (ids, am, *past), tmp, input_names=["input_ids", "attention_mask"] + pn,
                              output_names=["logits"] + qn, dynamic_axes=ax, opset_version=17, dynamo=False,
                              do_constant_folding=True)
        os.replace(tmp, path)
        exported = True
    import transformers
    dims.update(desc=desc, exported_now=exported,
                exporter="torch %s torch.onnx.export(dynamo=False, opset_version=17), transformers %s, with past "
                         "(DynamicCache), dynamic batch/seq/past" % (torch.__version__, transformers.__version__))
    return dims


def _prompt(np, B, C, vocab):
    rng = np.random.default_rng(1000 + 7 * B + C)
    return rng.integers(1000, vocab, size=(B, C), dtype=np.int64)


def _run_ort(spec):
    import numpy as np
    import onnxruntime as ort
    d = spec["dims"]
    L, KV, D, V = d["layers"], d["kv_heads"], d["head_dim"], d["vocab"]
    so = ort.SessionOptions()
    so.intra_op_num_threads = spec["threads"]
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    t0 = time.perf_counter()
    sess = ort.InferenceSession(spec["onnx"], so, providers=["CPUExecutionProvider"])
    session_s = time.perf_counter() - t0
    pn, qn = _cache_names(L)
    B, C, N = spec["batch"], spec["ctx"], spec["tokens"]
    maxlen = C + N
    f32 = np.float32
    # two buffers per cache, each large enough for [B, KV, maxlen, D]; step t reads one, writes the other
    bufs = [[np.empty(B * KV * maxlen * D, f32) for _ in range(2 * L)] for _ in range(2)]
    mask = np.ones(B * maxlen, np.int64)              # all ones: any prefix reshaped to [B, P+S] is the mask
    ids_step = np.empty((B, 1), np.int64)
    logits_prefill = np.empty(B * max(C, WARM_PROMPT) * V, f32)
    logits_step = np.empty(B * V, f32)

    def gen(prompt, n):
        Bp, S = prompt.shape
        io = sess.io_binding()
        times, toks = [], []
        cur, P = 0, 0
        ids = np.ascontiguousarray(prompt)
        t_start = time.perf_counter()
        for step in range(n):
            io.clear_binding_inputs()
            io.clear_binding_outputs()
            io.bind_input("input_ids", "cpu", 0, np.int64, list(ids.shape), ids.ctypes.data)
            io.bind_input("attention_mask", "cpu", 0, np.int64, [Bp, P + S], mask.ctypes.data)
            lg = logits_prefill if step == 0 else logits_step
            io.bind_output("logits", "cpu", 0, f32, [Bp, S, V], lg.ctypes.data)
            for j in range(2 * L):
                io.bind_input(pn[j], "cpu", 0, f32, [Bp, KV, P, D], bufs[cur][j].ctypes.data)
                io.bind_output(qn[j], "cpu", 0, f32, [Bp, KV, P + S, D], bufs[1 - cur][j].ctypes.data)
            sess.run_with_iobinding(io)
            last = lg[:Bp * S * V].reshape(Bp, S, V)[:, -1, :]
            nxt = last.argmax(axis=-1)
            times.append(time.perf_counter())
            toks.append(nxt.tolist())
            ids_step[:Bp, 0] = nxt
            ids = ids_step[:Bp]
            P, S, cur = P + S, 1, 1 - cur
        return t_start, times, toks

    gen(_prompt(np, B, WARM_PROMPT, V), WARM_TOKENS)
    t_start, times, toks = gen(_prompt(np, B, C, V), N)
    return {"prefill_ms": (times[0] - t_start) * 1e3,
            "decode_ms_per_token": (times[-1] - times[0]) * 1e3 / (N - 1),
            "tokens": [list(r) for r in zip(*toks)], "session_s": session_s,
            "version": "onnxruntime " + ort.__version__}


def _run_torch(spec):
    import numpy as np
    import torch
    import transformers
    torch.set_num_threads(spec["threads"])
    m, d, _ = _build(torch, spec["model"])
    B, C, N = spec["batch"], spec["ctx"], spec["tokens"]

    class Stamp(transformers.LogitsProcessor):
        def __init__(self):
            self.times = []

        def __call__(self, input_ids, scores):
            self.times.append(time.perf_counter())
            return scores

    def gen(prompt, n):
        ids = torch.from_numpy(prompt)
        st = Stamp()
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = m.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=n,
                             min_new_tokens=n, logits_processor=transformers.LogitsProcessorList([st]),
                             pad_token_id=0, use_cache=True)
        return t0, st.times, out[:, prompt.shape[1]:].tolist()

    gen(_prompt(np, B, WARM_PROMPT, d["vocab"]), WARM_TOKENS)
    t0, times, toks = gen(_prompt(np, B, C, d["vocab"]), N)
    return {"prefill_ms": (times[0] - t0) * 1e3, "decode_ms_per_token": (times[-1] - times[0]) * 1e3 / (N - 1),
            "tokens": toks, "version": "torch %s, transformers %s" % (torch.__version__, transformers.__version__)}


def worker_main(spec):
    try:
        kind = spec["kind"]
        if kind == "export":
            res = _export(spec)
        elif kind == "ort":
            res = _run_ort(spec)
        elif kind == "torch":
            res = _run_torch(spec)
        elif kind == "prompt":
            import numpy as np
            d = spec["dims"]
            p = _prompt(np, spec["batch"], spec["ctx"], d["vocab"])
            np.save(spec["ids"], p)
            np.save(spec["mask"], np.ones_like(p))
            res = {}
        else:
            raise ValueError("unknown worker kind " + kind)
        res["ok"] = True
    except ModuleNotFoundError as e:
        res = {"ok": False, "not_installed": True, "error": "not installed (%s)" % e}
    except Exception as e:  # noqa: BLE001 -- report, never crash the table
        res = {"ok": False, "error": ("%s: %s" % (type(e).__name__, e)).strip().splitlines()[0][:300]}
    print(json.dumps(res))


# =============================================================================================== main side

log = common.log


def run_worker(spec, timeout):
    return common.with_bg_load(lambda: _run_worker(spec, timeout))


def _run_worker(spec, timeout):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", json.dumps(spec)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": "TIMEOUT after %d s" % timeout}
    last = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""
    try:
        return json.loads(last)
    except ValueError:
        return {"ok": False, "error": "worker exit %d: %s" % (p.returncode, common.first_error_line(p.stderr))}


def measure_triad(work):
    src = os.path.join(BENCH, "stream_triad.c")
    exe = os.path.join(work, "stream_triad")
    cands = [c for c in ("clang-22", "clang", "cc", "gcc") if shutil.which(c)]
    err = "no C compiler"
    for cc in cands:   # Debian's /usr/bin/clang may be an older clang without omp.h: try the next one
        cmd = [cc, "-O3", "-march=native", "-fopenmp", src, "-o", exe]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode == 0:
            break
        err = "%s: %s" % (" ".join(cmd), common.first_error_line(p.stderr))
    else:
        return {"ok": False, "error": err}
    env = dict(os.environ)
    p = subprocess.run([exe, "256", "10"], capture_output=True, text=True, timeout=300, env=env)
    try:
        r = json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"ok": False, "error": "stream_triad exit %d: %s" % (p.returncode, common.first_error_line(p.stderr))}
    r.update(ok=bool(r.get("check")), compiler=" ".join(cmd[:-3] + ["bench/stream_triad.c"]))
    return r


def attnc_has(flag, tool):
    try:
        p = subprocess.run([tool, "--help"], capture_output=True, text=True, timeout=30)
    except OSError:
        return False
    return flag in p.stdout + p.stderr


def attnc_compile(model, so, extra, timeout=900):
    t0 = time.time()
    try:
        p = subprocess.run([ATTNC, model, "-o", so] + extra, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": "attnc TIMEOUT after %d s" % timeout}
    if p.returncode != 0:
        return {"ok": False, "error": "attnc exit %d: %s" % (p.returncode, common.first_error_line(p.stderr + p.stdout))}
    return {"ok": True, "compile_s": time.time() - t0}


def attnc_generate(so, ids, mask, n, threads, timeout):
    base = [ATTN_RUN, so, "--input", "input_ids=" + ids, "--input", "attention_mask=" + mask, "--threads",
            str(threads), "--json"]

    def one(prompt_ids, prompt_mask, k):
        p = subprocess.run(base[:2] + ["--generate", str(k), "--input", "input_ids=" + prompt_ids, "--input",
                                       "attention_mask=" + prompt_mask] + base[6:], capture_output=True,
                           text=True, timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError("attn-run exit %d: %s" % (p.returncode, common.first_error_line(p.stderr + p.stdout)))
        return json.loads(p.stdout.strip().splitlines()[-1])

    def fn():
        try:
            j = one(ids, mask, n)
        except subprocess.TimeoutExpired:
            return {"ok": False, "error": "attn-run --generate TIMEOUT after %d s" % timeout}
        except (RuntimeError, ValueError, IndexError) as e:
            return {"ok": False, "error": str(e)[:300]}
        return {"ok": True, "prefill_ms": j["prefill_ms"], "decode_ms_per_token": j["decode_ms_per_token"],
                "tokens": j["tokens"], "tokens_per_s": j.get("tokens_per_s")}
    return common.with_bg_load(fn)


def attention_mlir(path, G, H, KV, C, D):
    """One attn.attention: q [G, H, 1, D], k/v [G, KV, C, D] (G = layers * batch), no mask."""
    tq, tk, to = ("tensor<%dx%dx1x%dxf32>" % (G, H, D), "tensor<%dx%dx%dx%dxf32>" % (G, KV, C, D),
                  "tensor<%dx%dx1x%dxf32>" % (G, H, D))
    sig = {"inputs": [{"name": "q", "dtype": "f32", "shape": [G, H, 1, D]},
                      {"name": "k", "dtype": "f32", "shape": [G, KV, C, D]},
                      {"name": "v", "dtype": "f32", "shape": [G, KV, C, D]}],
           "outputs": [{"name": "out", "dtype": "f32", "shape": [G, H, 1, D]}]}
    sig_text = json.dumps(sig, separators=(",", ":")).replace('"', '\\"')
    with open(path, "w") as f:
        f.write('''module attributes {attn.signature = "%s"} {
  func.func @main_graph(%%q: %s, %%k: %s, %%v: %s) -> %s {
    %%0 = attn.attention %%q, %%k, %%v {scale = %r : f64, mask_kind = #attn.mask_kind<none>} : %s, %s, %s -> %s
    return %%0 : %s
  }
}
''' % (sig_text, tq, tk, tk, to, 1.0 / math.sqrt(D), tq, tk, tk, to, to))


def attention_alone(work, name, d, B, C, threads):
    G = d["layers"] * B
    mlir = os.path.join(work, "%s-attn-b%d-c%d.mlir" % (name, B, C))
    so = mlir[:-5] + ".so"
    attention_mlir(mlir, G, d["heads"], d["kv_heads"], C, d["head_dim"])
    c = attnc_compile(mlir, so, [], timeout=300)
    if not c["ok"]:
        return c
    reps = max(5, min(200, int(2e9 / (2 * G * d["kv_heads"] * C * d["head_dim"] * 4))))
    p = subprocess.run([ATTN_RUN, so, "--random-inputs", "--benchmark", str(reps), "--json", "--threads",
                        str(threads)], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        return {"ok": False, "error": "attn-run exit %d: %s" % (p.returncode, common.first_error_line(p.stderr))}
    j = json.loads(p.stdout.strip().splitlines()[-1])
    kv_bytes = 2 * G * d["kv_heads"] * C * d["head_dim"] * 4
    return {"ok": True, "median_ms": j["median_ms"], "kv_bytes": kv_bytes, "runs": j.get("runs"),
            "gbs": kv_bytes / (j["median_ms"] * 1e-3) / 1e9}


def l3_bytes(machine):
    s = (machine.get("l3") or "").split()
    try:
        return float(s[0]) * {"KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3}[s[1]]
    except (IndexError, KeyError, ValueError):
        return 32 * 1024 ** 2


def tokens_cmp(got, ref):
    if got is None or ref is None:
        return ""
    if got == ref:
        return "="
    n = len(ref[0]) if ref else 0
    for s in range(n):
        if any(g[s] != r[s] for g, r in zip(got, ref)):
            return "differ from step %d" % s
    return "differ"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--models", default="gpt2,llama", help="comma list: gpt2, llama")
    ap.add_argument("--ctx", default="128,1024", help="comma list of prompt lengths")
    ap.add_argument("--batch", default="1,8", help="comma list of batch sizes")
    ap.add_argument("--tokens", type=int, default=32, help="new tokens at contexts < 1024 (>= 2)")
    ap.add_argument("--tokens-long", type=int, default=12, help="new tokens at contexts >= 1024 (>= 2)")
    ap.add_argument("--impls", default="attnc,attnc-kv,ort,torch",
                    help="comma list: attnc (with-past lib), attnc-kv (--kv-cache lib), ort, torch")
    ap.add_argument("--no-attention", action="store_true", help="skip the decode-attention-alone rows")
    ap.add_argument("--cache", default=os.path.join(os.environ.get("XDG_CACHE_HOME") or
                                                    os.path.expanduser("~/.cache"), "attnc-bench"))
    ap.add_argument("--keep", help="keep libraries, prompts and attention models in this directory")
    ap.add_argument("--quick", action="store_true", help="ctx 128 only, 8 new tokens")
    ap.add_argument("--no-record", action="store_true")
    ap.add_argument("--skip", default="", help="comma list of model:impl[:ctx[:batch]] rows not to run (reported "
                    "as SKIPPED with --skip-reason)")
    ap.add_argument("--skip-reason", default="skipped (--skip)")
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                    help="before each measurement wait up to S seconds for other processes to use < 0.25 cores")
    args = ap.parse_args()
    if args.worker:
        worker_main(json.loads(args.worker))
        return 0
    if args.quick:
        args.ctx, args.tokens = "128", 8
    models = [m for m in args.models.split(",") if m]
    impls_of = {}                                   # --models gpt2p:attnc-kv+ort: that model's implementations
    for i, m in enumerate(models):
        if ":" in m:
            models[i], sel = m.split(":", 1)
            impls_of[models[i]] = sel.split("+")
    skips = {}                                      # --skip model:impl[:ctx[:batch]]
    for sk in (x for x in args.skip.split(",") if x):
        f = sk.split(":")
        skips[(f[0], f[1], int(f[2]) if len(f) > 2 else None, int(f[3]) if len(f) > 3 else None)] = True
    def skipped(name, impl, C, B):  # noqa: E306
        return any(k in skips for k in ((name, impl, None, None), (name, impl, C, None), (name, impl, C, B)))
    ctxs = [int(c) for c in args.ctx.split(",") if c]
    batches = [int(b) for b in args.batch.split(",") if b]
    impls = [i for i in args.impls.split(",") if i]
    ntok = lambda C: args.tokens_long if C >= 1024 else args.tokens  # noqa: E731
    maxlen = max(C + ntok(C) for C in ctxs)
    maxlen = (maxlen + 63) // 64 * 64
    work = args.keep or tempfile.mkdtemp(prefix="attnc-decode-")
    os.makedirs(work, exist_ok=True)
    os.makedirs(args.cache, exist_ok=True)
    t_wall = time.time()
    machine = common.lscpu_summary()
    vers = common.versions()
    up0 = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    log("uptime: " + up0)
    triad = measure_triad(work)
    log("triad: %s" % (("%.1f GB/s" % triad["triad_gbs"]) if triad.get("ok") else triad.get("error")))
    has_gen = attnc_has("--generate", ATTN_RUN)
    has_kv = attnc_has("--kv-cache", ATTNC)
    has_last = attnc_has("--logits=", ATTNC)  # attnc-kv: prefill computes the last position's logits only
    log("attnc-kv flags: --kv-cache=%d%s" % (maxlen, " --logits=last" if has_last else " (attnc has no --logits)"))
    results = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "git": common.git_rev(),
               "machine": machine, "versions": vers, "threads": args.threads, "triad": triad, "models": {},
               "rows": [], "attention": [], "max_len": maxlen, "tokens": args.tokens,
               "tokens_long": args.tokens_long, "uptime_before": up0, "kv_logits_last": has_last}
    for name in models:
        tag = MODEL_TAGS[name] + "-past-torch%s-tf%s.onnx" % (vers.get("torch"), vers.get("transformers"))
        onnx_path = os.path.join(args.cache, tag)
        t0 = time.time()
        d = run_worker({"kind": "export", "model": name, "onnx": onnx_path, "threads": args.threads}, 1200)
        if not d.get("ok"):
            log("%s: export FAILED: %s" % (name, d.get("error")))
            results["models"][name] = {"ok": False, "error": d.get("error")}
            continue
        log("%s: %s (%s, %.0f s)" % (name, onnx_path, "exported" if d["exported_now"] else "cached", time.time() - t0))
        libs = {}
        mimpls = impls_of.get(name, impls)
        kv_flags = ["--kv-cache=%d" % maxlen] + (["--logits=last"] if has_last else [])
        for impl, extra, ok in (("attnc", [], True), ("attnc-kv", kv_flags, has_kv)):
            if impl not in mimpls or all(skipped(name, impl, C, B) for C in ctxs for B in batches):
                continue
            if not ok:
                libs[impl] = {"ok": False, "error": "attnc has no --kv-cache yet"}
                continue
            so = os.path.join(work, "%s-%s.so" % (name, impl))
            libs[impl] = attnc_compile(onnx_path, so, extra)
            libs[impl]["so"] = so
            log("%s: compile %s: %s" % (name, impl, "%.0f s" % libs[impl]["compile_s"] if libs[impl]["ok"]
                                        else libs[impl]["error"]))
        results["models"][name] = {"ok": True, "onnx": onnx_path, "dims": d,
                                   "compile": {k: {kk: vv for kk, vv in v.items() if kk != "so"}
                                               for k, v in libs.items()}}
        for C in ctxs:
            for B in batches:
                N = ntok(C)
                ids = os.path.join(work, "%s-ids-b%d-c%d.npy" % (name, B, C))
                mask = os.path.join(work, "%s-mask-b%d-c%d.npy" % (name, B, C))
                run_worker({"kind": "prompt", "dims": d, "batch": B, "ctx": C, "ids": ids, "mask": mask}, 120)
                spec = {"model": name, "onnx": onnx_path, "dims": d, "batch": B, "ctx": C, "tokens": N,
                        "threads": args.threads}
                row = {"model": name, "ctx": C, "batch": B, "tokens": N, "impls": {}}
                for impl in mimpls:
                    if skipped(name, impl, C, B):
                        row["impls"][impl] = {"ok": False, "skipped": True, "error": args.skip_reason}
                        log("%s ctx %d B %d %s: SKIPPED" % (name, C, B, impl))
                        continue
                    waited = common.wait_for_quiet(args.wait_quiet) if args.wait_quiet > 0 else 0.0
                    t0 = time.time()
                    if impl in ("attnc", "attnc-kv"):
                        lib = libs.get(impl, {})
                        if not lib.get("ok"):
                            r = {"ok": False, "error": lib.get("error", "not compiled")}
                        elif not has_gen:
                            r = {"ok": False, "error": "attn-run has no --generate yet"}
                        else:
                            r = attnc_generate(lib["so"], ids, mask, N, args.threads, 900)
                    else:
                        r = run_worker(dict(spec, kind=impl), 1200)
                    r["wall_s"] = time.time() - t0
                    r["waited_s"] = waited
                    row["impls"][impl] = r
                    log("%s ctx %d B %d %s: %s" % (name, C, B, impl, (
                        "prefill %.1f ms, decode %.2f ms/token (%.0f s)" % (r["prefill_ms"], r["decode_ms_per_token"],
                                                                           r["wall_s"]))
                        if r.get("ok") else "FAILED: " + str(r.get("error"))))
                # bytes per decode step: weights + K/V read at the mean context of the decode steps
                kv = 2 * d["layers"] * B * d["kv_heads"] * (C + N / 2.0) * d["head_dim"] * 4
                row.update(weight_bytes=d["weight_bytes"], kv_bytes=kv)
                results["rows"].append(row)
                if not args.no_attention and "attnc" in ",".join(mimpls) and name != "gpt2p":
                    a = attention_alone(work, name, d, B, C, args.threads)
                    a.update(model=name, ctx=C, batch=B, in_l3=a.get("kv_bytes", 0) < l3_bytes(machine))
                    results["attention"].append(a)
                    log("%s ctx %d B %d attention alone: %s" % (name, C, B, "%.3f ms, %.1f GB/s" % (
                        a["median_ms"], a["gbs"]) if a.get("ok") else "FAILED: " + a.get("error", "?")))
    t_end = measure_triad(work)
    log("triad at the end: %s" % (("%.1f GB/s" % t_end["triad_gbs"]) if t_end.get("ok") else t_end.get("error")))
    results["triad_start"], results["triad_end"] = triad, t_end
    if t_end.get("ok") and (not triad.get("ok") or t_end["triad_gbs"] > triad["triad_gbs"]):
        results["triad"] = t_end       # the higher of the two: a loaded machine reads low, flattering us
    results["uptime_after"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    results["wall_s"] = time.time() - t_wall
    md = render(results)
    print(md)
    if not args.no_record:
        record(results, md)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


IMPL_LABEL = {"attnc": "attnc (with-past)", "attnc-kv": "attnc (--kv-cache)", "ort": "ORT (IOBinding)",
              "torch": "PyTorch generate()"}


def render(res):
    tri = res["triad"].get("triad_gbs") if res["triad"].get("ok") else None
    out = ["| model | ctx | B | impl | prefill ms | decode ms/token | tokens/s | decode: attnc (--kv-cache) speedup | "
           "MB/step (weights + K/V) | GB/s | % triad | tokens vs PyTorch | bg load |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    targets = []
    for row in res["rows"]:
        ref = row["impls"].get("torch", {}).get("tokens") if row["impls"].get("torch", {}).get("ok") else None
        best = row["impls"].get("attnc-kv", {})
        if not best.get("ok"):
            best = row["impls"].get("attnc", {})
        bytes_step = row["weight_bytes"] + row["kv_bytes"]
        first = True
        for impl, r in row["impls"].items():
            head = ("| %s | %d | %d " % (row["model"], row["ctx"], row["batch"])) if first else "|  |  |  "
            first = False
            if not r.get("ok"):
                out.append(head + "| %s | %s: %s |  |  |  |  |  |  |  |  |" % (
                    IMPL_LABEL[impl], "SKIPPED" if r.get("skipped") else "FAILED", r.get("error")))
                continue
            ms = r["decode_ms_per_token"]
            gbs = bytes_step / (ms * 1e-3) / 1e9
            sp = ""
            if impl in ("ort", "torch") and best.get("ok"):
                sp = "%.2fx" % (ms / best["decode_ms_per_token"])
            out.append(head + "| %s | %s | %s | %.1f | %s | %.0f (%.0f + %.0f) | %.1f | %s | %s | %s |" % (
                IMPL_LABEL[impl], common.fmt_ms(r["prefill_ms"]), common.fmt_ms(ms), row["batch"] * 1e3 / ms, sp,
                bytes_step / 1e6, row["weight_bytes"] / 1e6, row["kv_bytes"] / 1e6, gbs,
                "%.0f%%" % (100 * gbs / tri) if tri else "", "ref" if impl == "torch" else tokens_cmp(r["tokens"], ref),
                "%.2f" % r["bg_load"] if r.get("bg_load") is not None else ""))
        o = row["impls"].get("ort", {})
        if o.get("ok") and best.get("ok"):
            x = o["decode_ms_per_token"] / best["decode_ms_per_token"]
            targets.append(("decode >= 1.5x ORT: %s ctx %d B %d" % (row["model"], row["ctx"], row["batch"]),
                            x >= 1.5, "%.2fx" % x))
        if best.get("ok") and tri:
            pct = 100 * bytes_step / (best["decode_ms_per_token"] * 1e-3) / 1e9 / tri
            targets.append(("decode bandwidth >= 60%% of triad: %s ctx %d B %d" % (row["model"], row["ctx"],
                                                                                 row["batch"]), pct >= 60,
                            "%.0f%%" % pct))
    att = ["", "Decode attention alone (attn-dialect model: one attn.attention, [L*B, H, 1, D] queries against "
           "[L*B, Hkv, ctx, D] K/V = every layer's attention of one decode step; attn-run --benchmark, median):", "",
           "| model | ctx | B | ms | K/V MB | GB/s | % triad |", "|---|---|---|---|---|---|---|"]
    for a in res["attention"]:
        if not a.get("ok"):
            att.append("| %s | %d | %d | FAILED: %s |  |  |  |" % (a["model"], a["ctx"], a["batch"], a.get("error")))
            continue
        att.append("| %s | %d | %d | %s | %.1f%s | %.1f | %s |" % (
            a["model"], a["ctx"], a["batch"], common.fmt_ms(a["median_ms"]), a["kv_bytes"] / 1e6,
            " (in L3)" if a["in_l3"] else "", a["gbs"], "%.0f%%" % (100 * a["gbs"] / tri) if tri else ""))
        if tri and not a["in_l3"]:
            pct = 100 * a["gbs"] / tri
            targets.append(("decode attention >= 60%% of triad: %s ctx %d B %d" % (a["model"], a["ctx"], a["batch"]),
                            pct >= 60, "%.0f%%" % pct))
    res["targets"] = targets
    md = out + (att if res["attention"] else [])
    md += ["", "Targets (issue 15):", ""] + ["- %s %s: %s" % ("MET" if ok else "**MISSED**", t, v)
                                            for t, ok, v in targets]
    return "\n".join(md)


def record(res, table):
    day = datetime.date.today().isoformat()
    path = os.path.join(BENCH, "results-decode-%s.json" % day)
    i = 2
    while os.path.exists(path):
        path = os.path.join(BENCH, "results-decode-%s-%d.json" % (day, i))
        i += 1
    with open(path, "w") as f:
        json.dump(res, f, indent=1, default=str)
    m, v, t = res["machine"], res["versions"], res["triad"]
    md = ["", "## Decode (issue 15): %s (git %s), `bench/decode.py`" % (res["date"], res["git"]), "",
          "- Machine: %s, %s CPUs (%s cores/socket, %s threads/core), hypervisor %s; L1d %s, L2 %s, L3 %s" % (
              m["model"], m["cpus"], m["cores_per_socket"], m["threads_per_core"], m["hypervisor"] or "none",
              m["l1d"], m["l2"], m["l3"]),
          "- Flags: " + ", ".join("%s=%s" % (k, "yes" if x else "no") for k, x in m["flags"].items()),
          "- Threads for every side: %d; new tokens per row: %d (ctx < 1024), %d (ctx >= 1024); --kv-cache=%d; "
          "one run per row (after a 16-token warm-up generation in the same process)"
          % (res["threads"], res["tokens"], res["tokens_long"], res["max_len"]),
          "- Load: `%s` before; `%s` after" % (res["uptime_before"], res["uptime_after"]),
          "- Versions: python %s, torch %s, onnxruntime %s, onnx %s, numpy %s, transformers %s" % (
              v["python"], v["torch"], v["onnxruntime"], v["onnx"], v["numpy"], v["transformers"]),
          "- Raw results: `bench/%s`; wall time %.0f s" % (os.path.basename(path), res["wall_s"]),
          ("- **STREAM triad** (bench/stream_triad.c, `%s`, %d threads, 3 x %d MiB doubles, best of 9; the higher "
           "of the runs at the start (%s) and at the end (%s)): **%.1f GB/s** (%.1f GB/s counting the "
           "write-allocate read)" % (
               t["compiler"], t["threads"], t["mib_per_array"],
               "%.1f" % res["triad_start"]["triad_gbs"] if res["triad_start"].get("ok") else "failed",
               "%.1f" % res["triad_end"]["triad_gbs"] if res["triad_end"].get("ok") else "failed",
               t["triad_gbs"], t["triad_gbs_wa"]))
          if t.get("ok") else "- STREAM triad: FAILED: %s" % t.get("error")]
    for name, mm in res["models"].items():
        if mm.get("ok"):
            d = mm["dims"]
            md.append("- %s: %s; %d parameters, %.0f MB of fp32 weights streamed per decode step; %s; %s" % (
                name, d["desc"], d["params"], d["weight_bytes"] / 1e6, d["exporter"], "; ".join(
                    "%s compile %s" % (k, "%.0f s" % c["compile_s"] if c.get("ok") else "FAILED: " + c.get("error", ""))
                    for k, c in mm["compile"].items())))
        else:
            md.append("- %s: export FAILED: %s" % (name, mm.get("error")))
    md += ["", "prefill ms: the prompt (ctx tokens, empty past) through the model, logits of every position (the "
           "--kv-cache library: " + ("the last position only, --logits=last" if res.get("kv_logits_last")
                                     else "also every position") + "), first token picked. decode ms/token: the remaining new tokens' time / their count. speedup = peer's decode "
           "ms/token / attnc's (the --kv-cache library when it ran, else the with-past one). MB/step: fp32 "
           "weights + K/V cache read per decode step at the mean decode context; GB/s = that / decode time; "
           "% triad against the triad above. tokens/s = B x 1000 / decode ms/token. attn-run --generate runs no "
           "warm-up: attnc's prefill includes the first touch of the library's weights (ORT and PyTorch ran a "
           "16-token warm-up generation first). bg load: CPU cores other processes used during the row (above "
           "~0.25 the row is disturbed).", "", table, ""]
    with open(os.path.join(BENCH, "RESULTS.md"), "a") as f:
        f.write("\n".join(md) + "\n")
    print("\nwrote %s and appended to bench/RESULTS.md" % os.path.relpath(path))


if __name__ == "__main__":
    sys.exit(main())
