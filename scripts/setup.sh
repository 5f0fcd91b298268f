#!/usr/bin/env bash
# Installs every Debian package attnc needs (idempotent) and builds it into build/.
# Usage: scripts/setup.sh            (install + configure + build)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pkgs=(llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools clang-22
      libonnx-dev libprotobuf-dev protobuf-compiler libonnx-testdata
      libfmt-dev ninja-build cmake python3-numpy libomp-22-dev
      libclang-rt-22-dev valgrind)
# libclang-rt-22-dev: clang-22's ASan/UBSan/libFuzzer runtimes (scripts/test.sh's
# sanitizer build, build-asan); valgrind: the memcheck tests (test/valgrind).
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_=""; [ "$(id -u)" -ne 0 ] && sudo_="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo_ apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$root/build"
