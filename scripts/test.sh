#!/usr/bin/env bash
# Sets up (Debian packages + build) and runs every test: the lit suite
# (dialect, frontend, passes, lowering, runtime, tools, end-to-end models).
# Prints a closing "N passed, N failed, N skipped" line; exits non-zero on failure.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
lit=/usr/lib/llvm-22/bin/lit
xml="$root/build/test-results.xml"
rc=0
"$lit" -sv --xunit-xml-output="$xml" "$root/build/test" || rc=$?
/usr/bin/python3 - "$xml" <<'PY'
import sys, xml.etree.ElementTree as ET
t = ET.parse(sys.argv[1]).getroot()
cases = t.iter("testcase")
passed = failed = skipped = 0
for c in cases:
    if c.find("failure") is not None or c.find("error") is not None:
        failed += 1
    elif c.find("skipped") is not None:
        skipped += 1
    else:
        passed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $rc
