#!/usr/bin/env bash
# Sets up (Debian packages + build) and runs every test (docs/TESTING.md):
#  1. main:  the lit suite on build/ (dialect, frontend, passes, lowering, runtime, tools,
#            end-to-end models, valgrind memcheck of the runtime path).
#  2. avx2:  on a host with AVX-512 and ATTN_TEST_MCPU unset, the tests that compile and run
#            code (test/e2e, test/onnx-node, test/runtime, test/config) again with
#            ATTN_TEST_MCPU=x86-64-v3, i.e. on the AVX2 kernels.
#  3. asan:  a second build, build-asan (clang-22, -fsanitize=address,undefined, libFuzzer
#            targets), and a subset of lit with its tools: test/Frontend, test/runtime,
#            test/{Graph,ToLinalg,CPU,MemRef,ABI}, test/sanitizers, test/fuzz (each fuzz target for a bounded time)
#            and the bert, gpt2, selfattn_dynamic and encoder e2e models (test/e2e/models.txt; a
#            fixture's directory selects its manifest entries).
# Prints a closing "N passed, N failed, N skipped" line over all passes; exits non-zero if any
# test failed.
#   ATTN_TEST_MCPU=<cpu>     every attnc in the suite compiles for <cpu> (e.g. x86-64-v3), in
#                            every pass; the extra avx2 pass is then not run.
#   ATTN_TEST_SANITIZERS=0   skips pass 3 (quick local runs only; CI runs everything).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
lit=/usr/lib/llvm-22/bin/lit
build="$root/build"
asan="$root/build-asan"
rc=0
xmls=()

# run_pass NAME PATH... : one lit run, its results in build/test-results-NAME.xml.
run_pass() {
  local name=$1 xml="$build/test-results-$1.xml" start=$SECONDS
  shift
  rm -f "$xml"
  echo "== lit pass '$name'${ATTN_TEST_MCPU:+ (ATTN_TEST_MCPU=$ATTN_TEST_MCPU)}: $*"
  "$lit" -sv --xunit-xml-output="$xml" "$@" || rc=1
  [ -f "$xml" ] && xmls+=("$name=$xml")
  echo "== lit pass '$name' took $((SECONDS - start)) s"
}

run_pass main "$build/test"

if [ -z "${ATTN_TEST_MCPU:-}" ] && grep -qw avx512f /proc/cpuinfo; then
  # The AVX-512 kernels ran above; run everything that compiles and runs code on the AVX2
  # path too, so that path cannot go untested on an AVX-512 machine.
  export ATTN_TEST_MCPU=x86-64-v3
  run_pass avx2 "$build/test/e2e" "$build/test/onnx-node" "$build/test/runtime" "$build/test/config"
  unset ATTN_TEST_MCPU
fi

if [ "${ATTN_TEST_SANITIZERS:-1}" != 0 ]; then
  start=$SECONDS
  mkdir -p "$asan"
  # -O1: the usual sanitizer compromise between build time and run time. Debian's
  # libLLVM/libMLIR/libonnx are not instrumented; everything built from this checkout is.
  cmake -S "$root" -B "$asan" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    "-DCMAKE_C_FLAGS_RELEASE=-O1 -DNDEBUG" "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -DNDEBUG" \
    -DATTN_SANITIZE=address,undefined -DATTN_BUILD_FUZZERS=ON > "$asan/configure.log" \
    || { cat "$asan/configure.log"; exit 1; }
  cmake --build "$asan" --target attnc attn-opt attn-run attn_runtime attn-runtime-test-deps \
    attn-sanitizer-canary attn-fuzzers
  echo "== build-asan took $((SECONDS - start)) s"
  run_pass asan "$asan/test/Frontend" "$asan/test/runtime" "$asan/test/Graph" "$asan/test/ToLinalg" \
    "$asan/test/CPU" "$asan/test/MemRef" "$asan/test/ABI" \
    "$asan/test/sanitizers" "$asan/test/fuzz" \
    "$asan/test/e2e/bert" "$asan/test/e2e/gpt2" \
    "$asan/test/e2e/selfattn_dynamic" "$asan/test/e2e/encoder" \
    "$asan/test/e2e/llama" "$asan/test/e2e/gemma2" "$asan/test/e2e/phi3_dynamo" \
    "$asan/test/e2e/gemma3_sdpa_dynamo"
fi

/usr/bin/python3 - "${xmls[@]}" <<'PY'
import sys, xml.etree.ElementTree as ET
total = [0, 0, 0]
for arg in sys.argv[1:]:
    name, path = arg.split("=", 1)
    counts = [0, 0, 0]
    for c in ET.parse(path).getroot().iter("testcase"):
        if c.find("failure") is not None or c.find("error") is not None:
            counts[1] += 1
        elif c.find("skipped") is not None:
            counts[2] += 1
        else:
            counts[0] += 1
    total = [t + n for t, n in zip(total, counts)]
    print("pass %-5s: %d passed, %d failed, %d skipped" % (name, *counts))
print("%d passed, %d failed, %d skipped" % tuple(total))
PY
exit $rc
