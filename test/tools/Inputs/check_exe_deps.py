#!/usr/bin/python3
"""Checks `readelf -d` of an --emit=exe program (test/tools/emit-exe.test): it needs only system
libraries (libomp, libstdc++, libm, libc, libgcc_s, libdl, libpthread, the loader) and no rpath/runpath into
the build tree.

  check_exe_deps.py DYNAMIC.txt BUILD_DIR
"""
import os
import re
import sys

ALLOWED = re.compile(r"^(lib(omp|stdc\+\+|m|c|gcc_s|dl|pthread)|ld-linux-x86-64)\.so(\.[0-9]+)*$")


def main():
    text = open(sys.argv[1]).read()
    build = os.path.realpath(sys.argv[2])
    bad = []
    for name in re.findall(r"\(NEEDED\).*\[(.*)\]", text):
        if not ALLOWED.match(name):
            bad.append("needs %s" % name)
    for kind, paths in re.findall(r"\((RPATH|RUNPATH)\).*\[(.*)\]", text):
        for path in paths.split(":"):
            if os.path.realpath(path).startswith(build):
                bad.append("%s into the build tree: %s" % (kind, path))
    if "libomp" not in text:
        bad.append("no libomp (expected as for model libraries)")
    for b in bad:
        print("check_exe_deps.py: " + b, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
