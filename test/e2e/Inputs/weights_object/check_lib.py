"""Checks where a library's weights are (issue #16 item 4), from `llvm-nm` and `llvm-readelf -S` output:
every `__attn_weight.*` symbol is local read-only data ('r'), 64-byte aligned, inside an allocated,
non-writable, non-executable section, and none is in the dynamic symbol table.
Usage: check_lib.py NM.txt NM_DYNAMIC.txt SECTIONS.txt --min N"""
import re
import sys


def main():
    nm, dyn, sections = (open(p).read() for p in sys.argv[1:4])
    need = int(sys.argv[sys.argv.index("--min") + 1])
    ranges = []  # (start, end, flags) of every section with an address
    for m in re.finditer(r"\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([A-Z]*)\s",
                         sections):
        start, size = int(m.group(2), 16), int(m.group(3), 16)
        if start:
            ranges.append((start, start + size, m.group(4), m.group(1)))
    count = 0
    bad = []
    for line in nm.splitlines():
        parts = line.split()
        if len(parts) != 3 or not parts[2].startswith("__attn_weight."):
            continue
        addr, kind, name = int(parts[0], 16), parts[1], parts[2]
        count += 1
        if kind != "r":
            bad.append("%s: nm kind %r, expected local read-only data 'r'" % (name, kind))
        if addr % 64:
            bad.append("%s: address %#x not 64-byte aligned" % (name, addr))
        sec = [r for r in ranges if r[0] <= addr < r[1]]
        if not sec or "A" not in sec[0][2] or "W" in sec[0][2] or "X" in sec[0][2]:
            bad.append("%s: not in a read-only allocated section (%s)" % (name, sec))
    if "__attn_weight" in dyn:
        bad.append("weight symbols exported in the dynamic symbol table")
    for b in bad:
        print(b)
    print("weight symbols: %d" % count)
    if bad or count < need:
        sys.exit(1)


if __name__ == "__main__":
    main()
