#!/usr/bin/env python3
"""With-past decoders exported by Hugging Face Optimum (optimum-cli export onnx), as users get them.

  python3 scripts/gen_optimum_fixtures.py --optimum-python VENV/bin/python

Optimum's ONNX exporter (optimum-onnx 0.1 + optimum 2.1) needs transformers < 4.58 while the other fixture
scripts use transformers 5, so it runs in its own interpreter: make one with
  python3 -m venv --system-site-packages VENV && VENV/bin/pip install "transformers==4.57.*" optimum-onnx==0.1.0
This script (pip python3, transformers 5) builds the *same* random-weight models as
scripts/gen_past_fixtures.py (make_model, the family's initializer_range from <family>_gen/gen.json), saves
them with save_pretrained, and has VENV's optimum-cli export them with --task text-generation-with-past:

  optimum_llama/     default export (opset 18; rotary from Cos/Sin, GQA repeat_kv, RMSNorm decomposed)
  optimum_gpt2_o2/   --optimize O2: ONNX Runtime's transformer optimizer on top (com.microsoft FastGelu and
                     SkipLayerNormalization in a decoder with past)
  optimum_llama_o2/  --optimize O2 (SimplifiedLayerNormalization, com.microsoft QuickGelu for SiLU)
  optimum_mistral/   default export of the sliding-window family (window 8: mistral_window's sets)

Each directory holds model.onnx and case.json. The weights equal the family's gen_past_fixtures cases, so the
tests reuse their shape sets (PyTorch's logits and presents: run_past.py --model) and their greedy generation
goldens (check_generate.py), with and without --kv-cache.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_past_fixtures as past  # noqa: E402

FIXTURES = {
    "optimum_llama": ("llama", None),
    "optimum_gpt2_o2": ("gpt2", "O2"),
    "optimum_llama_o2": ("llama", "O2"),
    "optimum_mistral": ("mistral", None),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--optimum-python", required=True, help="an interpreter with optimum-onnx installed")
    ap.add_argument("--cases", default=",".join(FIXTURES))
    args = ap.parse_args()
    probe = ("import importlib.metadata as m, json; print(json.dumps({p: m.version(p) for p in "
             "('optimum', 'optimum-onnx', 'transformers', 'torch', 'onnx', 'onnxruntime')}))")
    versions = json.loads(subprocess.run([args.optimum_python, "-c", probe], check=True, capture_output=True,
                                         text=True).stdout)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.cases.split(","):
            family, optimize = FIXTURES[name]
            with open(os.path.join(past.OUT, family + "_gen", "gen.json")) as f:
                scale = json.load(f)["initializer_range"]
            src = os.path.join(tmp, family)
            if not os.path.isdir(src):
                past.make_model(family, "sdpa", scale).save_pretrained(src)
            out = os.path.join(tmp, name)
            cmd = [args.optimum_python, "-m", "optimum.commands.optimum_cli", "export", "onnx", "--model", src,
                   "--task", "text-generation-with-past", out]
            if optimize:
                cmd[-1:-1] = ["--optimize", optimize]
            subprocess.run(cmd, check=True)
            dst = os.path.join(past.OUT, name)
            os.makedirs(dst, exist_ok=True)
            shutil.copy(os.path.join(out, "model.onnx"), os.path.join(dst, "model.onnx"))
            meta = {
                "case": name,
                "family": family,
                "model": "the %s family of scripts/gen_past_fixtures.py (initializer_range %g; test/e2e/past/%s* "
                         "have the same weights)" % (family, scale, family),
                "exporter": "optimum-cli export onnx --task text-generation-with-past" +
                            (" --optimize " + optimize if optimize else ""),
                "versions": versions,
                "generator": "scripts/gen_optimum_fixtures.py",
            }
            with open(os.path.join(dst, "case.json"), "w") as f:
                json.dump(meta, f, indent=1)
                f.write("\n")
            print("%s: %s" % (name, meta["exporter"]))


if __name__ == "__main__":
    main()
