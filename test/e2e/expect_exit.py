#!/usr/bin/python3
"""Run a command and succeed only if it exits with exactly the given status.

  expect_exit.py CODE CMD [ARGS...]

`not` accepts any non-zero status; the CONTRACT asks more of attnc/attn-run errors: exit code 1,
never a crash or an exit >= 128. The command's stdout/stderr pass through unchanged (pipe them
into FileCheck). Stdlib only.
"""
import subprocess
import sys


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: expect_exit.py CODE CMD [ARGS...]")
    want = int(sys.argv[1])
    sys.stdout.flush()
    try:
        rc = subprocess.call(sys.argv[2:])
    except OSError as e:
        print("expect_exit.py: cannot run %s: %s" % (sys.argv[2], e), file=sys.stderr)
        return 1
    if rc == want:
        return 0
    how = "was killed by signal %d" % -rc if rc < 0 else "exited with %d" % rc
    print("expect_exit.py: %s %s, expected exit %d" % (sys.argv[2], how, want), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
