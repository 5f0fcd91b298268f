#!/usr/bin/env bash
# Installs every Debian package attnc needs (idempotent) and builds it into build/.
# Usage: scripts/setup.sh            (install + configure + build)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pkgs=(llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools clang-22
      libonnx-dev libprotobuf-dev protobuf-compiler libonnx-testdata
      libfmt-dev ninja-build cmake python3-numpy libomp-22-dev
      libclang-rt-22-dev valgrind pybind11-dev python3-dev lld-22 zlib1g-dev)
# libclang-rt-22-dev: clang-22's ASan/UBSan/libFuzzer runtimes (scripts/test.sh's
# sanitizer build, build-asan); valgrind: the memcheck tests (test/valgrind);
# pybind11-dev, python3-dev: the Python package (python/, README "Python"); lld-22: attnc
# links libraries with it when it is beside clang-22 (faster than GNU ld on large weights), and the
# build links attnc with it; zlib1g-dev: attnc links LLVM's static archives, which need -lz.
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
sudo_=""; [ "$(id -u)" -ne 0 ] && sudo_="sudo"
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $sudo_ apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$root/build"
# The Python package: /usr/bin/python3 imports `attnc` from build/python, from any
# directory and with no environment variables, through a .pth file in its site dir.
if [ -d "$root/build/python/attnc" ]; then
  site="$(/usr/bin/python3 -c 'import site; print(site.getsitepackages()[0])')"
  pth="$site/attnc.pth"
  if [ "$(cat "$pth" 2>/dev/null)" != "$root/build/python" ]; then
    echo "setup: $pth -> $root/build/python"
    $sudo_ mkdir -p "$site"
    echo "$root/build/python" | $sudo_ tee "$pth" >/dev/null
  fi
fi
