#!/usr/bin/python3
"""An LLVM fatal error (llvm::report_fatal_error, called here through ctypes in the LLVM
library the package uses) after importing attnc: the package's handler prints one line and
ends the process with exit code 1 (not LLVM's bare 'LLVM ERROR' and abort())."""
import ctypes
import sys

import attnc._native as native

llvm = None
with open("/proc/self/maps") as maps:
    for line in maps:
        path = line.split()[-1]
        if "/libLLVM" in path and ".so" in path:
            llvm = ctypes.CDLL(path)
            break
if llvm is None:
    print("no libLLVM in this process (LLVM linked statically): nothing to check")
    sys.exit(1)
fatal = getattr(llvm, "_ZN4llvm18report_fatal_errorEPKcb")
fatal.argtypes = [ctypes.c_char_p, ctypes.c_bool]
print("calling report_fatal_error", flush=True)
fatal(b"test fatal error from fatal.py", False)
print("report_fatal_error returned")
