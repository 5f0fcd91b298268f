"""expect_exit.py N CMD [ARGS...]

Runs CMD with its stdout/stderr passed through and exits 0 only if CMD exited
with status N (and was not killed by a signal); otherwise says what happened
on stderr and exits 1. The tools' contract is "errors exit with 1, never a
crash", which `not` cannot check.
"""
import subprocess
import sys

expected = int(sys.argv[1])
result = subprocess.run(sys.argv[2:])
sys.stdout.flush()
if result.returncode != expected:
    how = ("killed by signal %d" % -result.returncode
           if result.returncode < 0 else "exit code %d" % result.returncode)
    print("expect_exit: expected exit code %d, got %s" % (expected, how),
          file=sys.stderr)
    sys.exit(1)
