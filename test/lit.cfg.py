# -*- Python -*-
import os
import shutil

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "ATTNC"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
# .onnxtext files are ONNX text-syntax models used directly as lit inputs.
config.suffixes = [".mlir", ".onnxtext", ".test"]
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.attn_obj_root, "test")

llvm_config.use_default_substitutions()
# `not`, FileCheck & co. come from the LLVM tools directory.
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%attn_src", config.attn_src_root))
config.substitutions.append(("%python", "/usr/bin/python3"))
config.substitutions.append(("%attn_lib_dir", os.path.join(config.attn_obj_root, "lib")))
# test/runtime/concurrency.test: many threads running one model (built by
# runtime/CMakeLists.txt from test/runtime/Inputs/concurrent_runs.c).
config.substitutions.append(("%attn_runtime_concurrency_test",
                             os.path.join(config.attn_tools_dir, "attn-runtime-concurrency-test")))

tool_dirs = [config.attn_tools_dir, config.llvm_tools_dir]
tools = ["attnc", "attn-opt", "attn-run"]

# Sanitizer build (build-asan, see docs/TESTING.md): its own lit.site.cfg.py
# points the tools at build-asan/bin. Sanitizer reports are fatal; LSan is
# off (see the comment at ASAN_OPTIONS). test/sanitizers and test/fuzz only
# make sense there and are left out of other builds.
attn_sanitize = getattr(config, "attn_sanitize", "")
sanitizers = set(s.strip() for s in attn_sanitize.split(",") if s.strip())
if "address" in sanitizers:
    config.available_features.add("asan")
if "undefined" in sanitizers:
    config.available_features.add("ubsan")
if sanitizers:
    symbolizer = os.path.join(config.llvm_tools_dir, "llvm-symbolizer")
    for var in ("ASAN_SYMBOLIZER_PATH", "UBSAN_SYMBOLIZER_PATH"):
        if os.path.exists(symbolizer) and var not in config.environment:
            config.environment[var] = symbolizer
    # detect_leaks=0: LLVM/MLIR keep process-lifetime objects on purpose
    # (ManagedStatic, cl::opt storage, the MLIRContext of a tool that exits
    # through exit()); the valgrind tests check the runtime path for leaks.
    # allow_user_poisoning=0: LLVM's headers poison BumpPtrAllocator slabs in
    # files built with ASan, but the inlined copies in Debian's uninstrumented
    # libLLVM/libMLIR never unpoison what they allocate from them: false
    # "use-after-poison" reports (heap/stack/global checks are unaffected).
    # allocator_may_return_null=1: a failed huge malloc returns NULL as in a
    # normal build (the runtime reports it) instead of aborting.
    # Set ASAN_OPTIONS in the environment to override.
    config.environment.setdefault(
        "ASAN_OPTIONS",
        "detect_leaks=0:allow_user_poisoning=0:abort_on_error=0:allocator_may_return_null=1")
    config.environment.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    tools.append("attn-sanitizer-canary")
else:
    config.excludes += ["sanitizers", "fuzz"]
if getattr(config, "attn_build_fuzzers", False):
    config.available_features.add("fuzzers")
    tools += ["attn-fuzz-onnx", "attn-fuzz-onnxtext", "attn-fuzz-npy"]
elif sanitizers:
    config.excludes.append("fuzz")
if getattr(config, "attn_static_llvm", False):
    config.available_features.add("static-llvm")
config.substitutions.append(("%fuzz_corpus", os.path.join(config.attn_src_root, "fuzz", "corpus")))
llvm_config.add_tool_substitutions(tools, tool_dirs)

# ATTN_TEST_MCPU=<cpu> (e.g. x86-64-v3): every attnc in the suite compiles for
# that CPU by default (attnc reads ATTNC_MCPU as its default --mcpu), so an
# AVX-512 host runs the whole suite on the AVX2 kernels. Explicit --mcpu flags
# in tests still win. scripts/test.sh sets it for its second pass.
test_mcpu = os.environ.get("ATTN_TEST_MCPU", "")
if test_mcpu:
    config.environment["ATTNC_MCPU"] = test_mcpu
    config.available_features.add("test-mcpu")
    # CPUs with AVX2/FMA and no AVX-512: tests may check for 8-lane code.
    if test_mcpu in ("x86-64-v3", "haswell", "broadwell", "skylake", "alderlake",
                     "znver1", "znver2", "znver3"):
        config.available_features.add("test-mcpu-avx2")
    lit_config.note("ATTN_TEST_MCPU=%s: attnc compiles for %s (ATTNC_MCPU)" % (test_mcpu, test_mcpu))
config.substitutions.append(("%attn_test_mcpu", test_mcpu or "host"))

# Features for optional parts of the suite.
if config.ptxas and os.path.exists(config.ptxas):
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", config.ptxas))
try:
    import subprocess
    subprocess.check_call(["/usr/bin/python3", "-c", "import numpy"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    config.available_features.add("numpy")
except Exception:
    pass
import shutil
# valgrind cannot run sanitizer-instrumented programs.
if shutil.which("valgrind") and not sanitizers:
    config.available_features.add("valgrind")
if os.path.exists("/usr/share/libonnx-testdata/data/node"):
    config.available_features.add("onnx-testdata")
# A usable CUDA driver (libcuda.so.1 with a device): GPU-only tests, and the
# no-device tests are UNSUPPORTED there.
try:
    subprocess.check_call(["/usr/bin/python3", "-c",
                           "import ctypes,sys; c=ctypes.CDLL('libcuda.so.1'); n=ctypes.c_int(0); "
                           "sys.exit(c.cuInit(0) or c.cuDeviceGetCount(ctypes.byref(n)) or n.value == 0)"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    config.available_features.add("cuda-device")
except Exception:
    pass
# The Python package (python/, built when pybind11 and Python's headers were
# found): test/python needs it. %attn_python_dir is the build's package folder
# (the one scripts/setup.sh puts on /usr/bin/python3's path).
attn_python_dir = os.path.join(config.attn_obj_root, "python")
if os.path.exists(os.path.join(attn_python_dir, "attnc", "__init__.py")) and any(
        f.startswith("_native.") and f.endswith(".so")
        for f in os.listdir(os.path.join(attn_python_dir, "attnc"))):
    config.available_features.add("python-package")
config.substitutions.append(("%attn_python_dir", attn_python_dir))
