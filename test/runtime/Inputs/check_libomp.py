"""check_libomp.py MODEL.so EXPECTED

Loads MODEL.so the way the runtime does (dlopen with RTLD_NOW | RTLD_LOCAL,
so every symbol it imports must resolve) and prints the OpenMP runtime files
the process then maps, and whether each is the very file EXPECTED names (the
same inode: EXPECTED may be a symlink, as Debian's LLVM 22 libomp.so.5 is).
Only the standard library is needed.
"""
import ctypes
import os
import sys

model, expected = sys.argv[1], sys.argv[2]
ctypes.CDLL(os.path.abspath(model), mode=os.RTLD_NOW | os.RTLD_LOCAL)
mapped = set()
with open("/proc/self/maps") as f:
    for line in f:
        parts = line.split(None, 5)
        if len(parts) == 6 and os.path.basename(parts[5].strip()).startswith(
                ("libomp", "libiomp", "libgomp")):
            mapped.add(parts[5].strip())
want = os.stat(expected)
for path in sorted(mapped):
    st = os.stat(path)
    same = (st.st_dev, st.st_ino) == (want.st_dev, want.st_ino)
    print("mapped: %s (%s)" % (path, "the file of %s" % expected if same
                               else "NOT the file of %s" % expected))
if not mapped:
    print("mapped: no OpenMP runtime")
