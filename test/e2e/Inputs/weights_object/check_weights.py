"""Checks where a model's weights are (issue #16 item 4, Codegen/EmitLibrary.cpp).

  check_weights.py ll FILE.ll --min-external N
      An --emit=llvm file holds no weight bytes: every global of 1024 bytes or more is an
      external hidden declaration `__attn_weight.<name>` (the bytes go into the library's weights
      object), and at least N of them exist.
  check_weights.py lib NM.txt NM_DYNAMIC.txt SECTIONS.txt --min N
      From `llvm-nm`, `llvm-nm -D` and `llvm-readelf -S` output of a library: every
      `__attn_weight.*` symbol is local read-only data ('r'), 64-byte aligned, inside an
      allocated, non-writable, non-executable section, none is in the dynamic symbol table, and
      at least N exist.
Prints each problem, then the count ("external weights: N" / "weight symbols: N"); exits 1 on a
problem or too few. Only the standard library is needed.
"""
import re
import sys

SIZES = {"i8": 1, "i16": 2, "half": 2, "bfloat": 2, "i32": 4, "float": 4, "i64": 8, "double": 8}


def report(bad, what, count, need):
    for b in bad:
        print(b)
    print("%s: %d" % (what, count))
    if bad or count < need:
        sys.exit(1)


def check_ll():
    path = sys.argv[2]
    need = int(sys.argv[sys.argv.index("--min-external") + 1])
    external = 0
    bad = []
    for line in open(path):
        if not line.startswith("@"):
            continue
        m = re.match(r"@(\S+) = (.*?)constant ((?:\[\d+ x )+(\w+)\]+)(.*)", line)
        if not m:
            continue
        name, flags, ty, elt, rest = m.groups()
        n = 1
        for d in re.findall(r"\[(\d+) x ", ty):
            n *= int(d)
        nbytes = n * SIZES.get(elt, 1)
        if "external" in flags:
            if not name.startswith("__attn_weight."):
                bad.append("external global not named __attn_weight.*: @" + name)
            elif "hidden" not in flags:
                bad.append("weight declaration not hidden: @" + name)
            else:
                external += 1
        elif nbytes >= 1024 and not rest.strip().startswith(("zeroinitializer", 'c"')):  # strings: the signature
            bad.append("weight bytes in LLVM IR: @%s (%d bytes)" % (name, nbytes))
    report(bad, "external weights", external, need)


def check_lib():
    nm, dyn, sections = (open(p).read() for p in sys.argv[2:5])
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
    report(bad, "weight symbols", count, need)


if __name__ == "__main__":
    {"ll": check_ll, "lib": check_lib}[sys.argv[1]]()
