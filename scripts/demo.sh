#!/usr/bin/env bash
# Sets up (Debian packages + build), compiles the bundled example (the seed's
# SelfAttention exported by PyTorch) into a shared library, runs it and
# compares its output with PyTorch's.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
ex="$root/examples/selfattn"
out="$(mktemp -d)"
set -x
"$root/build/bin/attnc" "$ex/model.onnx" -o "$out/selfattn.so"
"$root/build/bin/attn-run" "$out/selfattn.so" \
    --input values="$ex/inputs/values.npy" --input keys="$ex/inputs/keys.npy" \
    --input queries="$ex/inputs/queries.npy" --input mask="$ex/inputs/mask.npy" \
    --output-dir "$out/result"
/usr/bin/python3 "$root/test/e2e/compare.py" "$out/result" "$ex/expected"
"$root/build/bin/attn-run" "$out/selfattn.so" \
    --input values="$ex/inputs/values.npy" --input keys="$ex/inputs/keys.npy" \
    --input queries="$ex/inputs/queries.npy" --input mask="$ex/inputs/mask.npy" \
    --benchmark 20
