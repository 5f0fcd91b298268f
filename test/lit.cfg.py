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

tool_dirs = [config.attn_tools_dir, config.llvm_tools_dir]
tools = ["attnc", "attn-opt", "attn-run"]
llvm_config.add_tool_substitutions(tools, tool_dirs)

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
if shutil.which("valgrind"):
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
