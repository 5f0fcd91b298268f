#!/usr/bin/python3
"""Checks that an executable of `attnc --emit=exe` behaves exactly as attn-run on the library of
the same model (test/tools/emit-exe*.test). Stdlib only.

  same_as_attn_run.py ATTN_RUN LIB EXE [--exit N] -- ARGS...

Runs `ATTN_RUN LIB ARGS...` and `EXE ARGS...` (from the current directory) and compares their exit
codes, stdout and stderr after naming the program and the model the same way in both: a leading
"attn-run: " / "<exe name>: " becomes "PROG: ", the library path and the executable path become
"MODEL". Prints the executable's (normalized) stdout then stderr, and exits 0 only if everything is
identical, neither crashed, and, with --exit N, both exited with N.
"""
import os
import subprocess
import sys


def run(cmd, prog, model):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def norm(data):
        lines = []
        for line in data.decode("utf-8", "replace").splitlines():
            if line.startswith(prog + ": "):
                line = "PROG: " + line[len(prog) + 2:]
            lines.append(line.replace(model, "MODEL"))
        return lines

    return p.returncode, norm(p.stdout), norm(p.stderr)


def main():
    args = sys.argv[1:]
    if "--" not in args:
        sys.exit("usage: same_as_attn_run.py ATTN_RUN LIB EXE [--exit N] -- ARGS...")
    split = args.index("--")
    head, rest = args[:split], args[split + 1:]
    want = None
    if "--exit" in head:
        i = head.index("--exit")
        want = int(head[i + 1])
        del head[i:i + 2]
    if len(head) != 3:
        sys.exit("usage: same_as_attn_run.py ATTN_RUN LIB EXE [--exit N] -- ARGS...")
    attn_run, lib, exe = head
    ref = run([attn_run, lib] + rest, "attn-run", lib)
    got = run([exe] + rest, os.path.basename(exe), exe)
    sys.stdout.write("".join(l + "\n" for l in got[1] + got[2]))
    ok = True
    for what, a, b in (("exit code", ref[0], got[0]), ("stdout", ref[1], got[1]),
                       ("stderr", ref[2], got[2])):
        if a != b:
            print("same_as_attn_run.py: %s differs:\n  attn-run: %r\n  exe:      %r" % (what, a, b),
                  file=sys.stderr)
            ok = False
    if got[0] < 0 or got[0] >= 128:
        print("same_as_attn_run.py: the executable crashed (exit %d)" % got[0], file=sys.stderr)
        ok = False
    if want is not None and got[0] != want:
        print("same_as_attn_run.py: the executable exited with %d, expected %d" % (got[0], want),
              file=sys.stderr)
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
