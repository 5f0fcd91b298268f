#!/usr/bin/env python3
"""Whole models of the e2e suite, built for --target=cuda, run in the SIMT
emulator (simt_emulator.py) and compared with PyTorch's outputs.

  emulate-models.test.py ATTNC ATTN_OPT CASE[:SETS]... | --manifest seed|hf|llm

For each case, `attnc test/e2e/CASE/model.onnx --target=cuda --dump-ir=DIR`
writes the IR after every pass; the one after attn-gpu-map-parallel-loops is
the complete device program of the model: host code (shape arithmetic,
allocations, the attn_cuda_read copies of values the host needs) and every
kernel as a gpu.launch (attention, matmuls, elementwise, reductions, layer
norm). The emulator runs main_graph on the case's inputs (each input set of
a dynamic-shape case, or SETS, e.g. encoder:0,2), refusing host accesses to
device memory, and the outputs are compared with the stored expected outputs
(CONTRACT metric: max|got - ref| / max(1, max|ref|) <= 1e-4) and the status
flag must be clear. What is not covered: the NVVM/PTX translation after that
pass and the runtime's launches (scripts/test-gpu on hardware does those).
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import simt_emulator as emu  # noqa: E402


def run_case(attnc, attn_opt, spec, tmp):
    name, _, sets = spec.partition(":")
    case_dir = os.path.join(ROOT, "test", "e2e", name)
    with open(os.path.join(case_dir, "case.json")) as f:
        case = json.load(f)
    dump = os.path.join(tmp, name)
    subprocess.run([attnc, os.path.join(case_dir, "model.onnx"), "--target=cuda", "--dump-ir=" + dump, "--dump-ir-weights",
                    "-o", os.path.join(tmp, name + ".so")], check=True, capture_output=True)
    stage = glob.glob(os.path.join(dump, "*-attn-gpu-map-parallel-loops.mlir"))[0]
    ir = subprocess.run([attn_opt, stage, "--mlir-print-op-generic"], check=True, capture_output=True,
                        text=True).stdout
    if "shape_sets" in case:
        all_sets = [(k, s["inputs"], s["outputs"]) for k, s in enumerate(case["shape_sets"])]
    else:
        all_sets = [("-", case["inputs"], case["outputs"])]
    if sets:
        keep = set(sets.split(","))
        all_sets = [s for s in all_sets if str(s[0]) in keep]
    ok = True
    for k, ins, outs in all_sets:
        args = [np.load(os.path.join(ROOT, i["file"])) for i in ins]
        args = [a.astype(np.float32) if a.dtype == np.float32 else a for a in args]
        try:
            got, stats = emu.run_function(ir, "main_graph", args)
        except emu.EmulationError as e:
            print("FAIL %s[%s]: %s" % (name, k, e))
            ok = False
            continue
        status = got[-1] if len(got) > len(outs) else np.zeros((), bool)   # attn.status_result
        got = got[:len(outs)]
        worst, problems = 0.0, []
        if np.asarray(status).any():
            problems.append("the status flag (index out of range) is set")
        for o, g in zip(outs, got):
            ref = np.load(os.path.join(ROOT, o["file"]))
            if ref.shape != g.shape:
                problems.append("%s: shape %s, expected %s" % (o["name"], g.shape, ref.shape))
                continue
            ref64, g64 = ref.astype(np.float64), g.astype(np.float64)
            nan = np.isnan(ref64)
            if (np.isnan(g64) != nan).any():
                problems.append("%s: NaN where PyTorch has none (or the reverse)" % o["name"])
            fin = ~nan & ~np.isnan(g64)
            err = float(np.abs(g64[fin] - ref64[fin]).max() / max(1.0, np.abs(ref64[fin]).max())) \
                if fin.any() else 0.0
            worst = max(worst, err)
        if worst > 1e-4:
            problems.append("scaled error %.3g > 1e-4" % worst)
        print("%s %s[%s]: %d kernel launches (%d blocks), scaled error %.2e%s" %
              ("FAIL" if problems else "PASS", name, k, stats.get("launches", 0), stats["blocks"], worst,
               "".join("; " + p for p in problems)), flush=True)
        ok &= not problems
    return ok


def main():
    attnc, attn_opt = sys.argv[1:3]
    specs = sys.argv[3:]
    if specs[:1] == ["--manifest"]:
        # Every fixture of test/e2e/MANIFEST.json: "hf" = Hugging Face encoders and GPT-2,
        # "llm" = the decoder LLMs (Llama family), "seed" = the rest.
        with open(os.path.join(ROOT, "test", "e2e", "MANIFEST.json")) as f:
            cases = sorted(json.load(f)["cases"])
        hf = [c for c in cases if c.startswith(("bert", "gpt2"))]
        llm = [c for c in cases if c.startswith(("llama", "qwen", "mistral", "phi3", "gemma"))]
        groups = {"hf": hf, "llm": llm, "seed": [c for c in cases if c not in hf and c not in llm]}
        specs = groups[specs[1]]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for spec in specs:
            results.append(run_case(attnc, attn_opt, spec, tmp))
    print("summary: %d models passed, %d failed" % (sum(results), len(results) - sum(results)))
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
