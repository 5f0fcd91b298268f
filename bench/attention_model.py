#!/usr/bin/env python3
"""Writes an attn-dialect model (.mlir) holding one attn.attention of the given
shape: inputs q, k, v [B, H, S, D] f32, output out. Used by bench/run.py.

usage: attention_model.py B H S D [--causal] -o FILE.mlir
"""
import argparse, json, math

def main():
    p = argparse.ArgumentParser()
    p.add_argument("B", type=int); p.add_argument("H", type=int)
    p.add_argument("S", type=int); p.add_argument("D", type=int)
    p.add_argument("--causal", action="store_true")
    p.add_argument("-o", required=True)
    a = p.parse_args()
    t = f"tensor<{a.B}x{a.H}x{a.S}x{a.D}xf32>"
    shape = [a.B, a.H, a.S, a.D]
    sig = {"inputs": [{"name": n, "dtype": "f32", "shape": shape} for n in "qkv"],
           "outputs": [{"name": "out", "dtype": "f32", "shape": shape}]}
    sig_text = json.dumps(sig, separators=(",", ":")).replace('"', '\\"')
    causal = ", causal" if a.causal else ""
    scale = 1.0 / math.sqrt(a.D)
    with open(a.o, "w") as f:
        f.write(f'''module attributes {{attn.signature = "{sig_text}"}} {{
  func.func @main_graph(%q: {t}, %k: {t}, %v: {t}) -> {t} {{
    %0 = attn.attention %q, %k, %v {{scale = {scale!r} : f64, mask_kind = #attn.mask_kind<none>{causal}}} : {t}, {t}, {t} -> {t}
    return %0 : {t}
  }}
}}
''')

if __name__ == "__main__":
    main()
