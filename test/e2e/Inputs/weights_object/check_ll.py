"""Checks that an --emit=llvm file holds no weight bytes (issue #16 item 4): every global of 1024 bytes or
more is an external declaration `__attn_weight.<name>` (the bytes go into the library's weights object),
and at least --min-external of them exist. Usage: check_ll.py FILE.ll --min-external N"""
import re
import sys

SIZES = {"i8": 1, "i16": 2, "half": 2, "bfloat": 2, "i32": 4, "float": 4, "i64": 8, "double": 8}


def main():
    path = sys.argv[1]
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
    for b in bad:
        print(b)
    print("external weights: %d" % external)
    if bad or external < need:
        sys.exit(1)


if __name__ == "__main__":
    main()
